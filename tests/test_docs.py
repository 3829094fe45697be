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
           "cxent._scale", "cxent.sklearn", "cxent.dask", "cxent.torch"]


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


README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.skipif(not README.exists(), reason="README.md is not beside the tests")
def test_readme_python_examples_run():
    text = README.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for block in blocks:
        needs = re.findall(r"^>>> import (?:\w+(?:\.\w+)* as \w+, )*(dask|sklearn|torch)\b", block,
                           flags=re.M)
        if any(importlib.util.find_spec(name) is None for name in needs):
            continue  # an optional dependency that is not installed
        if ">>>" in block:
            parser = doctest.DocTestParser()
            test = parser.get_doctest(block, {"np": np, "cxent": cxent}, "README", "README", 0)
            runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
            runner.run(test)
            assert runner.failures == 0, block
