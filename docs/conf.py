"""Sphinx configuration for the rlpyt documentation (built by `make docs`)."""

import os
import sys

# Import rlpyt from this checkout, installed or not.
sys.path.insert(0, os.path.abspath(".."))

project = "rlpyt"
author = "rlpyt contributors"
copyright = "2026, rlpyt contributors"
release = "0.2.0"
version = "0.2"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

# Google-style docstrings ("Args:", "Returns:").
napoleon_google_docstring = True
napoleon_numpy_docstring = False

autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
}
autodoc_typehints = "description"

templates_path = []
# benchmarks.md is plain Markdown for GitHub readers; Sphinx here reads only .rst.
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "*.md"]

html_theme = "alabaster"
html_static_path = []
