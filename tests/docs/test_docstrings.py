"""Every public name of the library has a docstring (issue 12: the API reference is generated
from them, so a name without one is a blank entry on the documentation site).

"Public" is what the reference documents: each name in a public module's ``__all__`` and, for
classes defined in ``acme``, each public method, property and documented attribute that the
class defines itself (inherited josepy / stdlib members are documented upstream). A constant
or attribute counts as documented by a ``#:`` comment above it or a string literal below it,
which is what Sphinx autodoc reads; a josepy JSON field by an ``:ivar name:`` line in its
class docstring (autodoc cannot see ``#:`` comments of classes re-exported under another
module name, as ``acme.messages`` does). Run this file as a script for the per-name report.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
import warnings
from functools import cache
from pathlib import Path
from typing import Any

PUBLIC_MODULES = [
    "acme",
    "acme.challenges",
    "acme.client",
    "acme.asyncio_client",
    "acme.crypto_util",
    "acme.errors",
    "acme.fields",
    "acme.jws",
    "acme.messages",
    "acme.standalone",
    "acme.util",
    "acme.dns",
    "acme.testing",
    "acme.testing.pytest_plugin",
    "acme.manager",
    "acme.manager.postgresql",
    "acme.cli",
]


@cache
def _attribute_docs(module_name: str) -> dict[str, set[str]]:
    """``{scope: names}`` with a ``#:`` comment or a docstring; scope "" is the module.

    Names assigned in a scope without documentation are recorded under ``"?" + scope``.
    """
    module = importlib.import_module(module_name)
    path = inspect.getsourcefile(module)
    if path is None:  # pragma: no cover - every acme module has source
        return {}
    source = Path(path).read_text("utf-8")
    lines = source.splitlines()
    found: dict[str, set[str]] = {}

    def scan(body: list[ast.stmt], scope: str) -> None:
        for index, node in enumerate(body):
            if isinstance(node, ast.ClassDef) and not scope:
                scan(node.body, node.name)
                continue
            if isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                targets = [node.target.id]
            else:
                continue
            following = body[index + 1] if index + 1 < len(body) else None
            documented = (
                isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            )
            above = lines[node.lineno - 2].strip() if node.lineno > 1 else ""
            if documented or above.startswith("#:"):
                found.setdefault(scope, set()).update(targets)
            else:
                found.setdefault("?" + scope, set()).update(targets)

    scan(ast.parse(source).body, "")
    return found


def _defining_module(public: str, name: str) -> str:
    """Where ``name`` of module ``public`` is defined, following ``from X import name`` chains
    (``__module__`` is not enough: re-exported classes may claim the public module)."""
    module = importlib.import_module(public)
    path = inspect.getsourcefile(module)
    assert path is not None
    for node in ast.walk(ast.parse(Path(path).read_text("utf-8"))):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.level == 0
            and any((alias.asname or alias.name) == name for alias in node.names)
        ):
            return _defining_module(node.module, name)
    return public


def _own_doc(obj: Any) -> bool:
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    return bool(doc and doc.strip())


def _class_members(cls: type, source_module: str) -> list[tuple[str, bool]]:
    """``(name, documented)`` for the public members ``cls`` itself defines."""
    scopes = _attribute_docs(source_module)
    attr_docs = scopes.get(cls.__name__, set())
    assigned = attr_docs | scopes.get("?" + cls.__name__, set())
    class_doc = vars(cls).get("__doc__") or ""
    members = []
    fields = vars(cls).get("_fields", {})  # josepy JSON fields: the message's attributes
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if name in fields:
            if name in assigned:  # fields inherited from a base are documented there
                ivar = re.search(rf":ivar (\S+ )?{name}:", class_doc)
                members.append((name, name in attr_docs or ivar is not None))
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value) or isinstance(value, property):
            doc = value.__doc__
            members.append((name, bool(doc and doc.strip()) or name in attr_docs))
        elif name in attr_docs:
            members.append((name, True))
    return members


def inventory() -> list[tuple[str, bool]]:
    """Every public name (dotted) with whether it has a docstring."""
    seen: set[int] = set()
    names: list[tuple[str, bool]] = []
    for public in PUBLIC_MODULES:
        module = importlib.import_module(public)
        names.append((public, bool(module.__doc__ and module.__doc__.strip())))
        for name in module.__all__:
            with warnings.catch_warnings():  # deprecated names warn on access
                warnings.simplefilter("ignore", DeprecationWarning)
                obj = getattr(module, name)
            obj = getattr(obj, "__wrapped__", obj)  # pytest fixtures wrap their function
            dotted = f"{public}.{name}"
            if inspect.isclass(obj) or inspect.isfunction(obj):
                names.append((dotted, _own_doc(obj)))
                ours = isinstance(obj, type) and obj.__module__.startswith("acme")
                if isinstance(obj, type) and ours and id(obj) not in seen:
                    seen.add(id(obj))
                    where = _defining_module(public, name)
                    names += [(f"{dotted}.{m}", ok) for m, ok in _class_members(obj, where)]
            elif name not in vars(module):  # served by the module's __getattr__ (deprecated)
                names.append((dotted, f"``{name}``" in (module.__doc__ or "")))
            else:
                where = _defining_module(public, name)
                names.append((dotted, name in _attribute_docs(where).get("", set())))
    return names


def test_every_public_name_has_a_docstring() -> None:
    names = inventory()
    missing = [name for name, ok in names if not ok]
    assert len(names) > 300  # the inventory sees the whole API
    assert not missing, f"{len(missing)} public names lack a docstring: " + ", ".join(missing)


def test_the_inventory_sees_what_autodoc_reads() -> None:
    names = dict(inventory())
    assert names["acme.client.ClientV2.new_order"] is True  # a method docstring
    assert names["acme.messages.Order.identifiers"] is True  # a josepy field, `:ivar`
    assert names["acme.messages.STATUS_VALID"] is True  # re-exported, `#:` where defined
    assert names["acme.client.DER_CONTENT_TYPE"] is True  # served by __getattr__
    assert "acme.messages.NewOrder.identifiers" not in names  # inherited: documented once
    assert names["acme.testing.DEFAULT_PROFILES"] is True  # a `#:` comment
    assert names["acme.testing.pytest_plugin.acme_test_server"] is True  # a fixture
    assert "acme.messages.Order._fields" not in names  # private names are not counted


if __name__ == "__main__":
    every = inventory()
    lacking = [name for name, ok in every if not ok]
    print("\n".join(lacking))
    print(f"{len(every) - len(lacking)} of {len(every)} public names documented", file=sys.stderr)
