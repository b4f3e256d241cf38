"""ACME (RFC 8555) protocol library: get, renew and revoke certificates from any ACME CA.

The public modules are ``acme.client`` (sync client), ``acme.messages``, ``acme.challenges``,
``acme.crypto_util``, ``acme.errors``, ``acme.fields``, ``acme.jws``, ``acme.standalone`` and
``acme.util``. Importing ``acme`` itself imports none of them, so it stays cheap.
"""

__all__: list[str] = []
