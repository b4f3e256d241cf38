import datetime
import threading

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from josepy import jwk

from acme import challenges, client, crypto_util, messages, standalone
from acme.testing import ACMETestServer

# Answer http-01 from memory. A real CA connects to port 80 of each name: bind ("", 80) there.
resources: set[standalone.HTTP01RequestHandler.HTTP01Resource] = set()
http01 = standalone.HTTP01Server(("127.0.0.1", 0), resources)
threading.Thread(target=http01.serve_forever, daemon=True).start()

# The in-process test CA (tests and demos only), told where our http-01 server listens. For a
# real CA: directory_url = "https://acme-staging-v02.api.letsencrypt.org/directory" (or your
# CA's) and verify_ssl = True.
ca = ACMETestServer(http_port=http01.server_address[1])
directory_url, verify_ssl = ca.directory_url, ca.ca_bundle_path

account_key = jwk.JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
with client.ClientNetwork(account_key, verify_ssl=verify_ssl, user_agent="my-tool/1.0") as net:
    acme = client.ClientV2(client.ClientV2.get_directory(directory_url, net), net)
    acme.new_account(
        messages.NewRegistration.from_data(email="me@example.com", terms_of_service_agreed=True)
    )
    cert_key_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # save it with mode 0600
    csr_pem = crypto_util.make_csr(cert_key_pem, ["example.com", "www.example.com"])
    order = acme.new_order(csr_pem)  # its authorizations come back fetched
    for authz in order.authorizations:
        challb = next(c for c in authz.body.challenges if isinstance(c.chall, challenges.HTTP01))
        response, validation = challb.response_and_validation(account_key)
        resources.add(
            standalone.HTTP01RequestHandler.HTTP01Resource(challb.chall, response, validation)
        )
        acme.answer_challenge(challb, response)
    deadline = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=2)
    order = acme.poll_and_finalize(order, deadline)
    print(order.fullchain_pem)

http01.shutdown()
http01.server_close()
ca.close()
