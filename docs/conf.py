"""Sphinx configuration of the acme-protocol documentation (``make docs``)."""

from __future__ import annotations

import importlib.metadata
import os

# The CLI reference shows argparse defaults; the config folder's default depends on $HOME and
# $XDG_CONFIG_HOME, so render it the way a reader's shell would spell it.
os.environ.pop("XDG_CONFIG_HOME", None)
os.environ["HOME"] = "$HOME"

project = "acme-protocol"
author = "The acme-protocol authors"
copyright = "the acme-protocol authors, Apache-2.0"
release = importlib.metadata.version("acme-protocol")
version = release

# No intersphinx: the build must work offline (CI reaches package registries only).
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "sphinxarg.ext",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "examples"]
root_doc = "index"
# Option names such as --http-port must stay two hyphens, not become a dash.
smartquotes = False

# `Name` in a docstring is a cross-reference to that Python object, as the docstrings intend.
default_role = "py:obj"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"members": True, "show-inheritance": True}
autoclass_content = "class"

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"acme-protocol {release}"
html_show_sourcelink = False
