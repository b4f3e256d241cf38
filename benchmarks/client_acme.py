"""The benchmark's driver for ``acme.client.ClientV2``: the same code runs ours and acme 5.9.

Our ``acme`` keeps acme 5.x's public API, so one driver written against that API (the calls a
certbot-style program makes: ``ClientNetwork``, ``ClientV2.get_directory``, ``new_account``,
``new_order``, ``answer_challenge``, ``poll_and_finalize``) measures both: run by the project's
virtual environment it drives ours, run by ``benchmarks/.venv-acme59`` it drives acme 5.9.0
from PyPI. The worker checks which one was imported.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwa, jwk

from acme import challenges, client, messages


class Client:
    """One account over one ``ClientNetwork``."""

    def __init__(self, directory_url: str, ca_bundle: str, key: ec.EllipticCurvePrivateKey):
        self.account_key = jwk.JWKEC(key=key)
        # acme 5.9 signs with RS256 unless told: name the algorithm for both.
        self.net = client.ClientNetwork(
            self.account_key, alg=jwa.ES256, verify_ssl=ca_bundle, user_agent="acme-benchmark"
        )
        directory = client.ClientV2.get_directory(directory_url, self.net)
        self.acme = client.ClientV2(directory, self.net)

    def register(self) -> None:
        reg = messages.NewRegistration.from_data(terms_of_service_agreed=True)
        self.acme.new_account(reg)

    def issue(self, names: list[str], csr_pem: bytes, csr_der: bytes) -> str:
        """New order, answer every http-01 challenge, poll, finalize, download."""
        orderr = self.acme.new_order(csr_pem)
        for authzr in orderr.authorizations:
            if authzr.body.status == messages.STATUS_VALID:
                continue
            challb = next(
                c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01)
            )
            self.acme.answer_challenge(challb, challb.response(self.account_key))
        orderr = self.acme.poll_and_finalize(orderr)
        if orderr.fullchain_pem is None:
            raise RuntimeError(f"order {orderr.uri} came back without a certificate")
        return str(orderr.fullchain_pem)

    def close(self) -> None:
        close = getattr(self.net, "close", None)
        if close is not None:
            close()
        else:  # acme 5.9 has no close(): close its requests.Session
            getattr(self.net, "session").close()  # noqa: B009 - not in our ClientNetwork
