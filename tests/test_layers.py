"""The import layers of ARCHITECTURE.md, enforced: the protocol core never does I/O."""

from __future__ import annotations

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parent.parent / "src" / "acme"

# What the sans-I/O core may never import (ARCHITECTURE.md, layer 4).
CORE_BANNED = {
    "requests",
    "httpx",
    "aiohttp",
    "urllib3",
    "socket",
    "ssl",
    "threading",
    "asyncio",
    "http.client",
    "socketserver",
    "subprocess",
    "acme.client",
    "acme.asyncio_client",
    "acme.standalone",
    "acme.testing",
}
# Lower layers may not import higher ones.
LAYERS = {
    "acme.errors": 0,
    "acme.util": 0,
    "acme._core.http": 0,
    "acme.fields": 1,
    "acme.jws": 1,
    "acme.crypto_util": 1,
    "acme._wire.renewal_id": 1,
    "acme._wire.x509": 1,
    "acme._core.nonces": 1,
    "acme._core.retry": 1,
    "acme.challenges": 2,
    "acme.messages": 3,
}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: pathlib.Path) -> set[str]:
    """Modules imported at module level (imports inside functions are lazy and allowed)."""
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _banned_hits(imported: set[str], banned: set[str]) -> set[str]:
    return {m for m in imported for b in banned if m == b or m.startswith(b + ".")}


CORE_FILES = sorted((SRC / "_core").glob("*.py"))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_does_no_io(path: pathlib.Path) -> None:
    assert _banned_hits(_top_level_imports(path), CORE_BANNED) == set()


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_lower_layers_do_not_import_higher_ones(module: str) -> None:
    path = SRC.parent / (module.replace(".", "/") + ".py")
    higher = {name for name, layer in LAYERS.items() if layer > LAYERS[module]}
    higher |= {"acme._core.session", "acme._core.operations", "acme.client", "acme.asyncio_client"}
    assert _banned_hits(_top_level_imports(path), higher) == set()


def test_the_checker_catches_a_violation(tmp_path: pathlib.Path) -> None:
    """Negative control: a core-like file importing requests is flagged."""
    bad = tmp_path / "bad.py"
    bad.write_text("import requests\nfrom socket import create_connection\n")
    assert _banned_hits(_top_level_imports(bad), CORE_BANNED) == {
        "requests",
        "socket",
        "socket.create_connection",
    }


def test_importing_the_client_loads_no_heavy_dependency() -> None:
    """``import acme.client`` stays cheap: josepy, cryptography and requests load on first use."""
    import subprocess
    import sys

    code = (
        "import sys, acme.client\n"
        "heavy = ['requests', 'josepy', 'cryptography', 'urllib3', 'acme.messages']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    assert loaded == ""
    # Negative control: creating a network object does load them.
    code2 = code.replace(
        "import sys, acme.client\n", "import sys, acme.client\nacme.client.ClientNetwork()\n"
    )
    loaded2 = subprocess.run(
        [sys.executable, "-c", code2], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()
    assert "requests" in loaded2.split(",")
    assert "josepy" in loaded2.split(",")
