"""The docstring examples run (doctest on the installed modules) and README's example holds."""

import doctest
import importlib
import importlib.util
import pathlib
import re

import numpy as np
import pytest

import cxent

MODULES = ["cxent", "cxent._softmax", "cxent._losses", "cxent._information", "cxent._metrics",
           "cxent._scale", "cxent._memory", "cxent.sklearn", "cxent.dask", "cxent.torch"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name == "cxent.sklearn":
        pytest.importorskip("sklearn")
    if name == "cxent.dask":
        pytest.importorskip("dask.array")
    if name == "cxent.torch":
        pytest.importorskip("torch")
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert res.failed == 0
    assert res.attempted > 0


def test_every_public_function_has_an_example():
    for name in cxent.__all__:
        obj = getattr(cxent, name)
        if callable(obj):
            assert "Examples\n    --------" in obj.__doc__, name


def test_public_names():
    assert {"softmax", "log_softmax", "logsumexp", "cross_entropy"} <= set(cxent.__all__)
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", cxent.__version__)


ROOT = pathlib.Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
GUIDE = [p for p in sorted((ROOT / "docs" / "guide").glob("*.md")) if "```python" in p.read_text()]


@pytest.mark.skipif(not README.exists(), reason="README.md is not beside the tests")
def test_readme_python_examples_run():
    _run_python_blocks(README)


@pytest.mark.skipif(not GUIDE, reason="docs/ is not beside the tests")
@pytest.mark.parametrize("page", GUIDE, ids=[p.stem for p in GUIDE])
def test_user_guide_examples_run(page):
    """The user guide's ```python blocks are doctests (the site shows them as they run here)."""
    _run_python_blocks(page)


def _run_python_blocks(path):
    text = path.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    globs = {"np": np, "cxent": cxent}  # a page's blocks run in order, in one namespace
    for block in blocks:
        needs = re.findall(r"^>>> import (?:\w+(?:\.\w+)* as \w+, )*(dask|sklearn|torch)\b", block,
                           flags=re.M)
        if any(importlib.util.find_spec(name) is None for name in needs):
            continue  # an optional dependency that is not installed
        if ">>>" in block:
            parser = doctest.DocTestParser()
            test = parser.get_doctest(block, globs, path.name, path.name, 0)
            runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
            runner.run(test, clear_globs=False)
            globs = test.globs  # DocTest runs on a copy
            assert runner.failures == 0, block
