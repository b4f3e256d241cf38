"""Connecting to a CA: a client whose poll waits are reported, and the saved account.

The client is `acme.client.ClientV2` with one change: its ``sleep`` (poll back-off,
``Retry-After``) goes through the `Reporter` first, so the user sees a progress line for every
wait. The CLI is a shell (layer 5+), so it may sleep.

`open_account` keeps the CLI's policy (when to register, the saved files, the flags); what
the CA's answers mean (no account for the key, a key that already has one) is decided by the
core's account flows (``ClientFlows.find_account`` and ``register_or_adopt``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from acme import client, messages
from acme._wire.coercion import coerce_jwk
from acme.cli._accounts import AccountStore, StoredAccount
from acme.cli._files import KEY_TYPES, PrivateKey, generate_key
from acme.cli._output import CLIError, Reporter
from acme.cli._version import version

__all__ = [
    "LETS_ENCRYPT",
    "AccountOptions",
    "connect",
    "open_account",
    "reporting_sleep",
    "resolve_directory",
]

T = TypeVar("T")

#: Short names accepted by ``--directory``.
LETS_ENCRYPT = {
    "letsencrypt": "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
}


USER_AGENT = f"acme-python-cli/{version()}"


def reporting_sleep(reporter: Reporter) -> Callable[[float], None]:
    """A client ``sleep`` that reports each poll wait to ``reporter`` before sleeping."""

    def sleep(seconds: float) -> None:
        reporter.waiting(seconds)
        time.sleep(seconds)  # noqa: TID251 - the CLI is an I/O shell, like acme.client

    return sleep


def resolve_directory(value: str) -> str:
    """A directory URL, or one of the `LETS_ENCRYPT` short names, as a URL."""
    url = LETS_ENCRYPT.get(value, value)
    if not url.startswith(("https://", "http://")):
        raise CLIError(f"--directory must be an https:// URL or letsencrypt[-staging]: {value}", 2)
    return url


def _verify(ca_bundle: str | None) -> bool | str:
    if ca_bundle is None:
        return True
    if not Path(ca_bundle).is_file():
        raise CLIError(f"CA bundle {ca_bundle} does not exist", 2)
    return ca_bundle


def connect(
    directory_url: str,
    reporter: Reporter,
    *,
    key: PrivateKey | None = None,
    ca_bundle: str | None = None,
    timeout: float = client.DEFAULT_NETWORK_TIMEOUT,
) -> client.ClientV2:
    """A `ClientV2` for ``directory_url`` signing with ``key`` (the directory is fetched)."""
    net = client.ClientNetwork(
        coerce_jwk(key) if key is not None else None,
        verify_ssl=_verify(ca_bundle),
        user_agent=USER_AGENT,
        timeout=timeout,
        allow_insecure_loopback=True,
    )
    try:
        directory = client.ClientV2.get_directory(directory_url, net)
    except BaseException:
        net.close()
        raise
    acme = client.ClientV2(directory, net)
    acme.sleep = reporting_sleep(reporter)
    return acme


@dataclasses.dataclass(frozen=True)
class AccountOptions:
    """What creating an account needs (``--email``, ``--agree-tos``, EAB, ``--key-type``)."""

    emails: tuple[str, ...] = ()
    agree_tos: bool = False
    eab_kid: str | None = None
    eab_hmac_key: str | None = None
    key_type: str = KEY_TYPES[0]


def open_account(
    store: AccountStore,
    directory_url: str,
    reporter: Reporter,
    *,
    ca_bundle: str | None = None,
    create: AccountOptions | None = None,
) -> tuple[client.ClientV2, StoredAccount, messages.RegistrationResource]:
    """The saved account for ``directory_url``, registering one first when ``create`` is given.

    Without ``create`` a missing account is a `CLIError`. The caller closes ``acme.net``.
    """
    stored = store.load(directory_url)
    if stored is None and create is None:
        raise CLIError(
            f"no saved account for {directory_url} in {store.config_dir} "
            "(run `acme account register` first)"
        )
    fresh_key = generate_key(create.key_type) if stored is None and create else None
    key = stored.key if stored is not None else fresh_key
    assert key is not None
    acme = connect(directory_url, reporter, key=key, ca_bundle=ca_bundle)
    flows = acme._flows  # the client's operations, run with acme._run (its sleep reports)
    try:
        if stored is not None and stored.uri is not None:
            reporter.step(f"using the saved account {stored.uri}")
            found = acme._run(flows.find_account())
            if found is not None:
                if found.uri != stored.uri or found.body.contact != stored.contact:
                    store.save_registration(stored, found.uri, found.body.contact)
                return acme, stored, found
            if create is None:
                raise CLIError(
                    f"the CA has no account for the key saved in {stored.folder} "
                    "(register again with `acme account register`)"
                )
            reporter.step("the CA does not know the saved account key; registering it again")
        if create is None:
            folder = stored.folder if stored else store.folder(directory_url)
            raise CLIError(f"the account key in {folder} is not registered")
        registration = _new_registration(acme, create)
        if stored is None:
            assert fresh_key is not None
            stored = store.create(directory_url, fresh_key)  # key on disk before the CA has it
        reporter.step(f"registering a new account at {directory_url}")
        regr, adopted = acme._run(flows.register_or_adopt(registration))
        if adopted:
            reporter.step(f"the key already has an account at {regr.uri}; reusing it")
        store.save_registration(stored, regr.uri, regr.body.contact)
        return acme, stored, regr
    except BaseException:
        acme.net.close()
        raise


def _new_registration(acme: client.ClientV2, options: AccountOptions) -> messages.NewRegistration:
    """The newAccount payload; checks the terms of service and EAB first (RFC 8555 7.3)."""
    meta = acme.directory.meta
    terms = meta.terms_of_service if meta is not None else None
    if terms and not options.agree_tos:
        raise CLIError(f"accept the CA's terms of service with --agree-tos (read {terms})")
    eab = None
    if options.eab_kid or options.eab_hmac_key:
        if not (options.eab_kid and options.eab_hmac_key):
            raise CLIError("--eab-kid and --eab-hmac-key go together", 2)
        account_key = acme.net.key
        assert account_key is not None
        eab = messages.ExternalAccountBinding.from_data(
            account_public_key=account_key.public_key(),
            kid=options.eab_kid,
            hmac_key=options.eab_hmac_key,
            directory=acme.directory,
        )
    elif acme.external_account_required():
        raise CLIError("this CA requires external account binding: use --eab-kid, --eab-hmac-key")
    registration: messages.NewRegistration = messages.NewRegistration.from_data(
        email=list(options.emails),
        terms_of_service_agreed=True if terms or options.agree_tos else None,
        external_account_binding=eab,
    )
    return registration
