"""An adapter for dns-lexicon (extra ``lexicon``): its 80+ DNS provider APIs as a `DNSProvider`.

The adapter builds the lexicon provider itself, with a ``ConfigResolver`` holding the
zone, the TTL and the provider's options, and calls ``authenticate``, ``create_record`` /
``delete_record`` and ``cleanup`` of lexicon's provider interface (``lexicon.interfaces``).
It finds the zone in the DNS (the SOA walk, as lexicon's own ``resolve_zone_name`` option
does) instead of lexicon's public-suffix guess, which downloads a list at run time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from acme import errors
from acme.dns._providers import DNSProvider
from acme.dns._types import DNSError

__all__ = ["LexiconProvider"]


def _lexicon() -> Any:
    try:
        import lexicon.config
        import lexicon.interfaces
    except ImportError as error:
        raise errors.DependencyError(
            "LexiconProvider needs dns-lexicon: pip install 'acme[lexicon]'"
        ) from error
    return lexicon


def _provider_class(name: str) -> type[Any]:
    """lexicon's provider class called ``name`` (``cloudflare``, ``route53``, ...)."""
    _lexicon()
    from lexicon._private import discovery  # lexicon keeps its registry here (3.x)

    available = discovery.find_providers()
    if name not in available:
        raise DNSError(f"dns-lexicon has no provider {name!r}")
    if not available[name]:
        raise errors.DependencyError(
            f"lexicon provider {name!r} needs extra packages: pip install 'dns-lexicon[{name}]'"
        )
    provider: type[Any] = discovery.load_provider_module(name).Provider
    return provider


def _zone_in_dns(name: str) -> str:
    import dns.exception
    import dns.resolver

    try:
        zone = dns.resolver.zone_for_name(name, lifetime=30.0)
    except dns.exception.DNSException as error:
        raise DNSError(f"cannot find the zone of {name}: {error}") from error
    return zone.to_text(omit_final_dot=True)


class LexiconProvider(DNSProvider):
    """Publish through a dns-lexicon provider.

    :param provider: a lexicon provider name (``"cloudflare"``) or a subclass of
        ``lexicon.interfaces.Provider``.
    :param options: the provider's options, as its lexicon command-line flags name them
        without dashes (``{"auth_token": "..."}``).
    :param zone: the zone holding the records; else ``zone_finder(record name)``, by
        default a lookup of the zone's SOA in the DNS.
    :param ttl: TTL of the records made.
    :param name: the provider's option namespace (default: the name given, or the last
        part of the class's module).
    """

    def __init__(
        self,
        provider: str | type[Any],
        *,
        options: Mapping[str, Any] | None = None,
        zone: str | None = None,
        zone_finder: Callable[[str], str] | None = None,
        ttl: int = 60,
        name: str | None = None,
    ) -> None:
        lexicon = _lexicon()
        if isinstance(provider, str):
            self.provider_class = _provider_class(provider)
            self.name = name or provider
        elif isinstance(provider, type) and issubclass(provider, lexicon.interfaces.Provider):
            self.provider_class = provider
            self.name = name or provider.__module__.rsplit(".", 1)[-1]
        else:
            raise DNSError(f"not a lexicon provider: {provider!r:.100}")
        self.options = dict(options or {})
        self.zone = zone.rstrip(".") if zone else None
        self.zone_finder = zone_finder or _zone_in_dns
        self.ttl = ttl
        self._lock = threading.Lock()  # lexicon providers are not documented thread-safe

    def _provider(self, record_name: str) -> Any:
        lexicon = _lexicon()
        zone = self.zone or self.zone_finder(record_name).rstrip(".")
        config = lexicon.config.ConfigResolver().with_dict(
            {"provider_name": self.name, "domain": zone, "ttl": self.ttl, self.name: self.options}
        )
        return self.provider_class(config)

    def _call(self, action: str, name: str, value: str) -> None:
        with self._lock:
            try:
                provider = self._provider(name)
                provider.authenticate()
                try:
                    if action == "publish":
                        provider.create_record("TXT", name, value)
                    else:
                        provider.delete_record(None, "TXT", name, value)
                finally:
                    provider.cleanup()
            except (DNSError, errors.DependencyError):
                raise
            except Exception as error:  # a provider's own error (HTTP, auth, ...)
                raise DNSError(
                    f"lexicon {self.name} could not {action} TXT {name}: "
                    f"{type(error).__name__}: {error}"
                ) from error

    def publish(self, name: str, value: str) -> None:
        """Create the TXT record through the lexicon provider."""
        self._call("publish", name, value)

    def cleanup(self, name: str, value: str) -> None:
        """Delete the TXT record through the lexicon provider."""
        self._call("clean up", name, value)
