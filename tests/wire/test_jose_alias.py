"""``acme.jose``: the deprecated alias of josepy that acme 1.x and 5.x offer.

Each check runs in a fresh interpreter: the alias is made by the first import of
``acme.jose`` in a process, and that import is what warns.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

SUBMODULES = ("b64", "errors", "interfaces", "json_util", "jwa", "jwk", "jws", "util")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_acme_jose_is_josepy_itself_and_warns_once() -> None:
    code = f"""
import importlib, sys, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from acme import jose
    import acme.jose.jwk
    from acme.jose import jws
import acme, josepy
assert jose is josepy and acme.jose is josepy and sys.modules["acme.jose"] is josepy
for name in {SUBMODULES!r}:
    alias = importlib.import_module("acme.jose." + name)
    assert alias is importlib.import_module("josepy." + name), name
    assert eval("acme.jose." + name) is alias, name
assert jws is josepy.jws and acme.jose.jwk.JWK is josepy.jwk.JWK
print([(w.category.__name__, str(w.message), w.filename) for w in caught])
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "[('DeprecationWarning', 'acme.jose is deprecated: import josepy instead', '<string>')]"
    )


def test_a_submodule_imported_first_is_josepy_s_too() -> None:
    result = _run(
        "import warnings; warnings.simplefilter('ignore')\n"
        "import acme.jose.errors, josepy.errors\n"
        "assert acme.jose.errors is josepy.errors\n"
        "assert acme.jose.errors.DeserializationError is josepy.errors.DeserializationError\n"
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("statement", ["import acme", "import acme.messages, acme.client"])
def test_other_imports_make_no_alias(statement: str) -> None:
    """``import acme`` (or any public module) leaves ``sys.modules`` alone and warns not."""
    result = _run(
        f"import sys, warnings; warnings.simplefilter('error')\n{statement}\n"
        "print(sorted(m for m in sys.modules if m.startswith('acme.jose')))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
