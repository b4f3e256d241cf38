"""The import layers, enforced: every module has a layer, imports only downwards, no cycles.

Imports are read from the source, top-level and lazy (inside functions) alike; only imports
under ``if TYPE_CHECKING:`` are ignored, since they never run. See docs/architecture.md.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

SRC = pathlib.Path(__file__).resolve().parent.parent / "src" / "acme"

# Layer of each module, by the longest matching name prefix. A module no rule places fails
# `test_every_module_has_a_layer`: place a new module on purpose.
LAYER_RULES: dict[str, int] = {
    # 0: values with no dependencies of ours.
    "acme.errors": 0,
    "acme.util": 0,
    "acme._core.http": 0,
    "acme._wire.timestamps": 0,
    # 1: pure building blocks on josepy and cryptography.
    "acme.fields": 1,
    "acme.jws": 1,
    "acme.crypto_util": 1,
    "acme._wire.identifiers": 1,
    "acme._wire.x509": 1,
    "acme._wire.keys": 1,
    "acme._wire.coercion": 1,
    "acme._wire.renewal_id": 1,
    "acme._core.nonces": 1,
    "acme._core.retry": 1,
    # 2: challenges.
    "acme._wire.challenge_base": 2,
    "acme._wire.legacy_dns": 2,
    "acme._wire.dns_challenges": 2,
    "acme.challenges": 2,
    # 3: the RFC 8555 messages.
    "acme._wire": 3,
    "acme.messages": 3,
    # 4: the sans-I/O protocol core.
    "acme._core": 4,
    # 5: the network shells: transports, clients, challenge servers, DNS.
    "acme._net": 5,
    "acme.client": 5,
    "acme.asyncio_client": 5,
    "acme.standalone": 5,
    "acme.dns": 5,
    # 6: built on the clients; nothing below imports them.
    "acme.testing": 6,
    "acme.manager": 6,
    # 7: the programs.
    "acme.cli": 7,
    "acme.__main__": 7,
    "acme": 7,
}

# Upward imports allowed by name, each lazy and with its reason.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {
    ("acme.challenges", "acme._net.probes"): "the acme 1.x self-check methods, run on demand",
    ("acme.crypto_util", "acme._net.probes"): "acme 1.x probe_sni/probe_cert, run on demand",
}

# What the pure layers may never import, lazily or not.
IO_MODULES = {
    "requests",
    "httpx",
    "aiohttp",
    "urllib3",
    "socket",
    "ssl",
    "select",
    "threading",
    "asyncio",
    "http.client",
    "socketserver",
    "subprocess",
}
PURE_PACKAGES = ("acme._core", "acme._wire")


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    best = max(
        (p for p in LAYER_RULES if module == p or module.startswith(p + ".")), key=len, default=None
    )
    return None if best is None else LAYER_RULES[best]


def imports_of(path: pathlib.Path, module: str) -> set[str]:
    """Every module ``path`` imports, at any depth, except under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = {f"{base}.{alias.name}" for alias in node.names}
            found.update(names)
            if not names <= set(MODULES):  # ``from pkg import module`` is an edge to module
                found.add(base)
    return found


def internal_imports(module: str) -> set[str]:
    """The modules of ours that ``module`` imports (``from acme import x`` counts as acme.x)."""
    return {name for name in imports_of(MODULES[module], module) if name in MODULES} - {module}


GRAPH = {module: internal_imports(module) for module in MODULES}


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if layer_of(m) is None] == []


def upward_imports(module: str, graph: dict[str, set[str]]) -> set[str]:
    """What ``module`` imports from a higher layer, beyond `ALLOWED_UPWARD`."""
    mine = layer_of(module)
    assert mine is not None
    return {
        target
        for target in graph[module]
        if target != "acme"  # the package itself: it imports nothing of ours
        and (layer_of(target) or 0) > mine
        and (module, target) not in ALLOWED_UPWARD
    }


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_only_downwards(module: str) -> None:
    assert upward_imports(module, GRAPH) == set()


def test_an_upward_import_is_caught() -> None:
    """Negative control: the core importing the sync client is flagged."""
    graph = {"acme._core.order": {"acme.client", "acme.messages"}}
    assert upward_imports("acme._core.order", graph) == {"acme.client"}


def test_allowed_exceptions_are_still_needed() -> None:
    """An exception that no longer happens is removed from the list, not kept as slack."""
    assert [pair for pair in ALLOWED_UPWARD if pair[1] not in GRAPH[pair[0]]] == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    # The package __init__ imports nothing of ours, so "acme" edges are not cycles.
    graph = {m: {t for t in targets if t != "acme"} for m, targets in GRAPH.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    """Negative control for `test_no_import_cycles`."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if m.startswith(PURE_PACKAGES)), ids=str
)
def test_pure_layers_do_no_io(module: str) -> None:
    imported = imports_of(MODULES[module], module)
    assert {m for m in imported for b in IO_MODULES if m == b or m.startswith(b + ".")} == set()


def test_lazy_and_relative_imports_are_read(tmp_path: pathlib.Path) -> None:
    """Negative control: an import inside a function, or a relative one, is seen."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import threading\n"
        "def f():\n    import requests\n    from . import sibling\n"
    )
    assert imports_of(bad, "acme._core.bad") >= {"requests", "acme._core.sibling"}
    assert "threading" not in imports_of(bad, "acme._core.bad")


def test_importing_the_client_loads_no_heavy_dependency() -> None:
    """``import acme.client`` stays cheap: josepy, cryptography and requests load on first use."""
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
