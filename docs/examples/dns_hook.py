#!/usr/bin/env python3
"""A dns-01 hook for ``acme issue --dns-hook`` (docs/cli.md, "Hook contract").

``acme`` runs ``dns_hook.py present NAME VALUE`` before it answers each dns-01 challenge and
``dns_hook.py cleanup NAME VALUE`` afterwards (also when issuance failed). NAME is the TXT
record's name (``_acme-challenge.<domain>``, no final dot), VALUE its content. Exit 0 once the
record is served by every authoritative server; any other status stops issuance, and the last
line the hook printed becomes the error message.

This one keeps the records in a JSON file (``$DNS_HOOK_ZONE``, default ``./txt-records.json``);
replace `present` and `cleanup` with calls to your DNS provider's API.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ZONE = Path(os.environ.get("DNS_HOOK_ZONE", "txt-records.json"))


def _load() -> dict[str, list[str]]:
    return json.loads(ZONE.read_text("utf-8")) if ZONE.exists() else {}


def present(name: str, value: str) -> None:
    records = _load()
    records.setdefault(name, []).append(value)
    ZONE.write_text(json.dumps(records, indent=2), "utf-8")


def cleanup(name: str, value: str) -> None:
    records = _load()
    values = [v for v in records.get(name, []) if v != value]
    records[name] = values
    if not values:
        del records[name]
    ZONE.write_text(json.dumps(records, indent=2), "utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("present", "cleanup"):
        print("usage: dns_hook.py present|cleanup NAME VALUE", file=sys.stderr)
        return 2
    action, name, value = argv
    (present if action == "present" else cleanup)(name, value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
