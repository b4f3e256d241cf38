"""The installed version, for ``acme --version`` and the CLI's User-Agent."""

from __future__ import annotations

import importlib.metadata

__all__ = ["DISTRIBUTION", "version"]

#: The distribution name on the package index (the import name is ``acme``; certbot's
#: distribution is called ``acme``, so ours is not).
DISTRIBUTION = "acme-protocol"


def version() -> str:
    """The installed distribution's version, or ``"0+unknown"`` when run from a bare tree."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"
