"""Sphinx configuration of cxent's documentation site.

Build (warnings are errors): ``python -m sphinx -W -b html docs docs/_build/html``; the user
guide's examples also run as doctests in the test suite (tests/test_docs.py).
"""

import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

import cxent

project = "cxent"
author = "The cxent developers"
copyright = "2026, the cxent developers"
version = release = cxent.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "examples", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip"]
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_typehints = "none"  # numpydoc's Parameters sections say it, in words
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
default_role = "obj"

html_theme = "pydata_sphinx_theme"
html_title = f"cxent {release}"
html_static_path = ["_static"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": []}

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "reference_url": {"cxent": None},
}


# --- intersphinx -------------------------------------------------------------------------------
# Each project's inventory is read from a local copy where one is installed (Debian's
# python-scipy-doc, python-sklearn-doc and python3-doc ship theirs; .ci/run installs them),
# otherwise from the web.  A project whose inventory can be reached neither way (an offline
# machine: NumPy and PyTorch have no Debian documentation package) is left out of the mapping
# with a note, so that -W still fails on every other warning instead of on the network.

def _reachable(url, timeout=3.0):
    host = urlsplit(url).hostname
    try:
        socket.setdefaulttimeout(timeout)
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False
    finally:
        socket.setdefaulttimeout(None)


_PROJECTS = {
    "python": ("https://docs.python.org/3/",
               f"/usr/share/doc/python3.{sys.version_info.minor}/html/objects.inv"),
    "numpy": ("https://numpy.org/doc/stable/", None),
    "scipy": ("https://docs.scipy.org/doc/scipy/",
              "/usr/share/doc/python-scipy-doc/html/objects.inv"),
    "sklearn": ("https://scikit-learn.org/stable/",
                "/usr/share/doc/python-sklearn-doc/html/objects.inv"),
    "torch": ("https://docs.pytorch.org/docs/stable/", None),
    "dask": ("https://docs.dask.org/en/stable/", "/usr/share/doc/python-dask-doc/html/objects.inv"),
}
intersphinx_mapping = {}
intersphinx_left_out = []
for _name, (_url, _local) in _PROJECTS.items():
    if _local and Path(_local).exists():
        intersphinx_mapping[_name] = (_url, _local)
    elif os.environ.get("CXENT_DOCS_OFFLINE") != "1" and _reachable(_url):
        intersphinx_mapping[_name] = (_url, None)
    else:
        intersphinx_left_out.append(_name)
if intersphinx_left_out:
    print(f"intersphinx: no inventory reachable for {', '.join(intersphinx_left_out)}; "
          f"references to them stay plain text", file=sys.stderr)
