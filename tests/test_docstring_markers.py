"""Docstrings are for users: no markers from the design documents in them.

The design notes tag names ``[1]`` (acme 1.x legacy), ``[5]`` (acme 5.x) and ``[new]``; a
docstring says it in words instead ("Deprecated (acme 1.x)", "not in acme 5.x").
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

SRC = pathlib.Path(__file__).resolve().parent.parent / "src" / "acme"
MARKER = re.compile(r"(?<![\w\]])\[(?:1|5|new)\]")  # not an index: items[1]


def docstrings(path: pathlib.Path) -> list[tuple[int, str]]:
    """``(line, text)`` of the module's, classes' and functions' docstrings."""
    tree = ast.parse(path.read_text("utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                found.append((getattr(node, "lineno", 1), doc))
    return found


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_design_markers_in_docstrings(path: pathlib.Path) -> None:
    found = [(line, MARKER.findall(doc)) for line, doc in docstrings(path) if MARKER.search(doc)]
    assert found == []


def test_the_marker_check_sees_a_marker(tmp_path: pathlib.Path) -> None:
    """Negative control."""
    bad = tmp_path / "bad.py"
    bad.write_text('def f():\n    """[new] Does a thing."""\n')
    assert [MARKER.findall(doc) for _, doc in docstrings(bad)] == [["[new]"]]
