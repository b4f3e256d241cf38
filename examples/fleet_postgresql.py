#!/usr/bin/env python3
"""One node of a certificate fleet: many machines keep the same certificates alive through one
PostgreSQL database (``pip install acme-protocol[postgresql]``).

Run this on every node behind your load balancer, with the same ``--dsn``, ``--directory`` and
``--account-key`` (the fleet shares one ACME account):

    python examples/fleet_postgresql.py --dsn postgresql://acme@db.internal/acme \
        --directory https://acme-staging-v02.api.letsencrypt.org/directory \
        --account-key /etc/acme/account.pem --email admin@example.com --agree-tos \
        --name example.com --name www.example.com --http-port 80

What each node does:

- records a lineage for every ``--name`` that the database does not know yet;
- serves http-01 answers on ``--http-port`` from the database: whichever node the CA's
  validation request reaches can answer, whichever node placed the order;
- every ``--interval`` seconds, runs the manager once: due lineages are claimed with
  ``SELECT ... FOR UPDATE SKIP LOCKED``, so each renewal is done by exactly one node, and a
  node that dies mid-renewal loses its lease to another after ``--lease-ttl`` seconds.

Certificates live in the database (``acme_objects``): deploy them from a ``--deploy-hook`` or a
process of your own that reads them (``Manager.load(name)``). ``--once`` runs a single pass and
exits 0 if nothing failed, 1 otherwise (for cron).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import client, errors, messages, standalone
from acme.manager import Certificate, Event, Hooks, Manager, StorageError, StoreHTTP01Resources
from acme.manager.postgresql import PostgresStore


def _account_key(path: Path) -> jwk.JWK:
    """The shared account key; created (mode 0600) if the file does not exist yet."""
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    return jwk.JWKEC(key=loaded)


def _client(args: argparse.Namespace) -> client.ClientV2:
    """A client on the fleet's account: registered by the first node, found by the others."""
    verify: bool | str = args.ca_bundle or True
    net = client.ClientNetwork(_account_key(args.account_key), verify_ssl=verify,
                               user_agent=f"acme-fleet/{args.node}")  # fmt: skip
    acme = client.ClientV2(client.ClientV2.get_directory(args.directory, net), net)
    registration = messages.NewRegistration.from_data(
        email=args.email, terms_of_service_agreed=True if args.agree_tos else None
    )
    try:
        acme.new_account(registration)
    except errors.ConflictError as existing:  # another node registered this key already
        acme.query_registration(
            messages.RegistrationResource(body=messages.Registration(), uri=existing.location)
        )
    return acme


def _report(event: Event) -> None:
    detail = f": {event.error}" if event.error else ""
    print(f"{event.when:%Y-%m-%d %H:%M:%S} {event.kind} {event.lineage}{detail}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", required=True, help="PostgreSQL connection string or URL")
    parser.add_argument("--directory", required=True, help="the CA's ACME directory URL")
    parser.add_argument("--ca-bundle", help="trust this bundle for the CA's HTTPS (test CAs)")
    parser.add_argument("--account-key", type=Path, required=True, help="shared account key")
    parser.add_argument("--email", action="append", default=[], help="account contact")
    parser.add_argument("--agree-tos", action="store_true", help="accept the CA's terms")
    parser.add_argument("--name", action="append", default=[], help="a name to keep certified")
    parser.add_argument("--http-port", type=int, default=80, help="http-01 answers (default 80)")
    parser.add_argument("--bind", default="0.0.0.0", help="address for the http-01 server")
    parser.add_argument("--node", default=socket.gethostname(), help="this node's name")
    parser.add_argument("--interval", type=float, default=3600.0, help="seconds between runs")
    parser.add_argument("--lease-ttl", type=float, default=600.0, help="lease seconds")
    parser.add_argument("--deploy-hook", help="shell command after a certificate is renewed")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    store = PostgresStore(args.dsn)
    acme = _client(args)
    manager = Manager(
        store,
        {args.directory: acme},
        owner=args.node,
        lease_ttl=args.lease_ttl,
        on_event=_report,
    )
    for name in args.name:
        lineage = Certificate(
            name.lower(), (name.lower(),), args.directory, hooks=Hooks(deploy=args.deploy_hook)
        )
        with contextlib.suppress(StorageError):  # already recorded (by us, or another node)
            manager.add(lineage)
    answers = standalone.HTTP01Server((args.bind, args.http_port), StoreHTTP01Resources(store))
    server = threading.Thread(target=answers.serve_forever, kwargs={"poll_interval": 0.1})
    server.start()
    print(f"{args.node}: serving http-01 answers on {args.bind}:{answers.server_address[1]}",
          flush=True)  # fmt: skip
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    failed = False
    try:
        while True:
            report = manager.run_once()
            failed = not report.ok
            done = len(report.issued) + len(report.renewed)
            print(f"{args.node}: run done, {done} issued or renewed, "
                  f"{len(report.failed)} failed", flush=True)  # fmt: skip
            if args.once or stop.wait(args.interval):
                break
    except KeyboardInterrupt:
        pass
    finally:
        answers.shutdown()
        answers.server_close()
        server.join()
        acme.net.close()
        store.close()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
