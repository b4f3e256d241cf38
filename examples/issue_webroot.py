#!/usr/bin/env python3
"""Issue a certificate from any ACME directory with http-01 answered through a webroot folder.

The web server that serves ``--webroot`` on port 80 of every name must already be running:
this script writes ``<webroot>/.well-known/acme-challenge/<token>`` files and removes them after.

    python examples/issue_webroot.py \
        --directory https://acme-staging-v02.api.letsencrypt.org/directory \
        --webroot /var/www/html --email admin@example.com --out ./certs example.com

The account key is kept in ``<out>/account.pem`` and reused; the certificate key (mode 0600) and
the full chain are written to ``<out>/privkey.pem`` and ``<out>/fullchain.pem``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, errors, messages


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 atomically; refuse to overwrite an existing key."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(path, pem)
    return key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", help="DNS names (or IP addresses) to certify")
    parser.add_argument("--directory", required=True, help="ACME directory URL")
    parser.add_argument("--webroot", required=True, type=Path, help="folder served on port 80")
    parser.add_argument("--out", type=Path, default=Path("."), help="where to write keys/certs")
    parser.add_argument("--email", help="account contact address")
    parser.add_argument("--ca-bundle", help="CA bundle to trust for the ACME server (tests)")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait in all")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    for name in ("privkey.pem", "fullchain.pem"):
        if (args.out / name).exists():
            print(f"{args.out / name} exists: refusing to overwrite it", file=sys.stderr)
            return 1
    account_key = jwk.JWKEC(key=_load_or_create_key(args.out / "account.pem"))
    verify: bool | str = args.ca_bundle or True
    with client.ClientNetwork(account_key, verify_ssl=verify, user_agent="acme-example") as net:
        directory = client.ClientV2.get_directory(args.directory, net)
        acme = client.ClientV2(directory, net)
        registration = messages.NewRegistration.from_data(
            email=args.email, terms_of_service_agreed=True
        )
        try:
            acme.new_account(registration)
        except errors.ConflictError:  # this key already has an account: reuse it
            acme.query_registration(messages.RegistrationResource(body=registration, uri=""))

        cert_key = ec.generate_private_key(ec.SECP256R1())
        cert_key_pem = cert_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        ips = [n for n in args.names if _is_ip(n)]
        dns = [n for n in args.names if not _is_ip(n)]
        csr = crypto_util.make_csr(cert_key_pem, dns or None, ipaddrs=[_ip(i) for i in ips] or None)
        order = acme.new_order(csr)

        written: list[Path] = []
        try:
            for authzr in order.authorizations:
                if authzr.body.status == messages.STATUS_VALID:
                    continue
                challb = next(
                    c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)
                )
                response, validation = challb.response_and_validation(account_key)
                path = args.webroot / challb.chall.path.lstrip("/")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(validation)
                written.append(path)
                acme.answer_challenge(challb, response)
            deadline = datetime.datetime.now() + datetime.timedelta(seconds=args.timeout)
            order = acme.poll_and_finalize(order, deadline)
        finally:
            for path in written:
                path.unlink(missing_ok=True)

    _write_private(args.out / "privkey.pem", cert_key_pem)
    (args.out / "fullchain.pem").write_text(order.fullchain_pem)
    print(f"wrote {args.out / 'fullchain.pem'} and {args.out / 'privkey.pem'}")
    return 0


def _is_ip(name: str) -> bool:
    try:
        _ip(name)
    except ValueError:
        return False
    return True


def _ip(name: str):  # type: ignore[no-untyped-def]
    import ipaddress

    return ipaddress.ip_address(name)


if __name__ == "__main__":
    sys.exit(main())
