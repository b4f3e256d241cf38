#!/usr/bin/env python3
"""A dns-01 hook for ``acme issue --dns-hook`` (docs/cli.md, "Hook contract").

``acme`` runs ``dns_hook.py present NAME VALUE`` before it answers each dns-01 challenge and
``dns_hook.py cleanup NAME VALUE`` afterwards (also when issuance failed). NAME is the TXT
record's name (``_acme-challenge.<domain>``, no final dot), VALUE its content. Exit 0 once the
record is served by every authoritative server; any other status stops issuance, and the last
line the hook printed becomes the error message.

The records of one order are published at the same time (one hook process per record), so a
hook that edits shared state must serialise itself: this one keeps the records in a JSON file
(``$DNS_HOOK_ZONE``, default ``./txt-records.json``) and holds a lock on it while editing.
Replace `present` and `cleanup` with calls to your DNS provider's API.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

ZONE = Path(os.environ.get("DNS_HOOK_ZONE", "txt-records.json"))


@contextlib.contextmanager
def _zone() -> Iterator[dict[str, list[str]]]:
    """The records, locked against the other hook processes; written back on exit."""
    with open(f"{ZONE}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        records = json.loads(ZONE.read_text("utf-8")) if ZONE.exists() else {}
        yield records
        ZONE.write_text(json.dumps(records, indent=2), "utf-8")


def present(name: str, value: str) -> None:
    with _zone() as records:
        records.setdefault(name, []).append(value)


def cleanup(name: str, value: str) -> None:
    with _zone() as records:
        values = [v for v in records.get(name, []) if v != value]
        records[name] = values
        if not values:
            del records[name]


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("present", "cleanup"):
        print("usage: dns_hook.py present|cleanup NAME VALUE", file=sys.stderr)
        return 2
    action, name, value = argv
    (present if action == "present" else cleanup)(name, value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
