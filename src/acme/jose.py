"""Deprecated: ``acme.jose``, the name josepy had inside acme 1.x (acme 5.x keeps the alias).

Importing this module makes ``acme.jose`` *be* the ``josepy`` module, and ``acme.jose.<name>``
be ``josepy.<name>`` for the submodules josepy had when it left acme: ``b64``, ``errors``,
``interfaces``, ``json_util``, ``jwa``, ``jwk``, ``jws`` and ``util``. So old code such as
``from acme import jose`` or ``from acme.jose import jwk`` gets josepy's own objects (and
``isinstance`` checks agree). It warns once (``DeprecationWarning``): import ``josepy``.

Only importing ``acme.jose`` does this; ``import acme`` changes nothing in ``sys.modules``.
"""

from __future__ import annotations

import importlib
import sys
import warnings

import josepy

_SUBMODULES = ("b64", "errors", "interfaces", "json_util", "jwa", "jwk", "jws", "util")

warnings.warn("acme.jose is deprecated: import josepy instead", DeprecationWarning, stacklevel=2)
for _name in _SUBMODULES:
    sys.modules[f"{__name__}.{_name}"] = importlib.import_module(f"josepy.{_name}")
# The import system hands out (and sets as ``acme.jose``) what sys.modules holds once this
# module has run: josepy itself.
sys.modules[__name__] = josepy
