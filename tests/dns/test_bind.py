"""RFC2136Provider against a real BIND 9 on 127.0.0.1 and a high port (Debian's bind9).

Each test starts ``named`` in a temp folder with one zone open to updates signed by a TSIG
key (see `support.dns_servers.Bind`), and stops it afterwards.
"""

from __future__ import annotations

import base64
import secrets
import sys
from pathlib import Path

import pytest

from acme.dns import (
    DNSChallenges,
    DNSError,
    HookProvider,
    PropagationChecker,
    RFC2136Provider,
    TXTRecord,
)
from support.dns_servers import Bind

NAME = "_acme-challenge.www.example.test"


def _provider(bind: Bind, **options: object) -> RFC2136Provider:
    settings: dict[str, object] = {
        "key_name": bind.KEY_NAME,
        "key_secret": bind.secret,
        "timeout": 5.0,
    }
    settings.update(options)
    return RFC2136Provider("127.0.0.1", bind.port, **settings)  # type: ignore[arg-type]


def test_signed_updates_add_and_remove_txt_records(bind: Bind) -> None:
    provider = _provider(bind)
    assert provider.zone_for(NAME).to_text() == "example.test."  # from BIND's SOA answer
    long_value = "x" * 400  # two character-strings in one record
    provider.publish(NAME, "first")
    provider.publish(NAME, long_value)
    assert sorted(bind.txt(NAME)) == sorted(["first", long_value])
    provider.cleanup(NAME, "first")
    assert bind.txt(NAME) == [long_value]
    provider.cleanup(NAME, long_value)
    provider.cleanup(NAME, long_value)  # removing what is gone is not an error
    assert bind.txt(NAME) == []


def test_bind_refuses_bad_or_missing_keys(bind: Bind) -> None:
    wrong_secret = base64.b64encode(secrets.token_bytes(32)).decode()
    with pytest.raises(DNSError, match=r"didn.t like the signature"):
        _provider(bind, key_secret=wrong_secret).publish(NAME, "v")  # BADSIG: unverifiable
    with pytest.raises(DNSError, match=r"refused to add TXT .*REFUSED"):
        RFC2136Provider("127.0.0.1", bind.port, timeout=5).publish(NAME, "unsigned")
    with pytest.raises(DNSError, match="not in zone"):
        _provider(bind, zone="example.test").publish("www.other.test", "v")
    with pytest.raises(DNSError, match="needs its secret"):
        RFC2136Provider("127.0.0.1", bind.port, key_name="k.")
    assert bind.txt(NAME) == []


def test_order_published_and_checked_on_bind(bind: Bind) -> None:
    # Our propagation check, with BIND as the zone's only authoritative server.
    checker = PropagationChecker(resolver=[("127.0.0.1", bind.port)], port=bind.port)
    records = [TXTRecord(f"_acme-challenge.n{i}.example.test", f"v{i}") for i in range(4)]
    with DNSChallenges(_provider(bind), checker, timeout=20) as session:
        session.publish(records)
        assert all(bind.txt(r.name) == [r.value] for r in records)
    assert all(bind.txt(r.name) == [] for r in records)


def test_hook_script_publishing_to_bind(bind: Bind, tmp_path: Path) -> None:
    # The CLI's hook contract, with a hook that does RFC 2136 itself.
    hook = tmp_path / "nsupdate_hook.py"
    hook.write_text(
        "import sys\n"
        "from acme.dns import RFC2136Provider\n"
        "port, key, secret, action, name, value = sys.argv[1:]\n"
        "provider = RFC2136Provider('127.0.0.1', int(port), key_name=key, key_secret=secret)\n"
        "(provider.publish if action == 'present' else provider.cleanup)(name, value)\n"
    )
    command = [sys.executable, str(hook), str(bind.port), bind.KEY_NAME, bind.secret]
    checker = PropagationChecker(resolver=[("127.0.0.1", bind.port)], port=bind.port)
    with DNSChallenges(HookProvider(command, timeout=30), checker, timeout=20) as session:
        session.publish([TXTRecord(NAME, "from-the-hook")])
        assert bind.txt(NAME) == ["from-the-hook"]
    assert bind.txt(NAME) == []
