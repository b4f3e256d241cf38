"""Runs an always-valid acme.testing CA in a process of its own, driven over stdin/stdout.

Used by the fleet-scale test: the CA gets its own interpreter (and core), as a real CA would
be, instead of sharing the test's. It prints ``<directory URL> <CA bundle path>`` when ready,
then answers one line per command: ``drill`` (move every unexpired certificate's renewal
window into the past; prints how many), ``stats`` (prints ``<certificates> <orders with
replaces> <internal errors>``). End of input stops it.
"""

from __future__ import annotations

import sys

from acme.testing import ACMETestServer


def main() -> None:
    with ACMETestServer(always_valid=True) as ca:
        print(ca.directory_url, ca.ca_bundle_path, flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "drill":
                print(ca.core.move_windows_into_past(), flush=True)
            elif command == "stats":
                with ca.core._lock:
                    certificates = len(ca.core.certificates)
                    replacing = sum(1 for o in ca.core.orders.values() if o.replaces)
                    internal = len(ca.core.internal_errors)
                print(certificates, replacing, internal, flush=True)
            else:
                print(f"unknown command {command!r}", flush=True)


if __name__ == "__main__":
    main()
