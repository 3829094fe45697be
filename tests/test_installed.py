"""Where cxent runs from: the installed package (site-packages), with OpenMP.

In a development checkout with an editable install this is skipped; `.ci/wheel-check` sets
CXENT_EXPECT_INSTALLED=1 (and CXENT_EXPECT_BUNDLED_OPENMP=1 for a repaired wheel) so that there
these assertions cannot be skipped.
"""

import os
import pathlib

import pytest

import cxent

EXPECT = os.environ.get("CXENT_EXPECT_INSTALLED") == "1"
HERE = pathlib.Path(cxent.__file__).resolve()


def test_runs_from_site_packages():
    if not EXPECT and "site-packages" not in HERE.parts:
        pytest.skip(f"development install at {HERE}")
    assert "site-packages" in HERE.parts
    assert not (HERE.parent / "_kernels_impl.pxi").exists()  # no sources beside the package
    assert (HERE.parent / "py.typed").exists()


def test_openmp_is_enabled_and_its_runtime_loaded():
    cfg = cxent.show_config("dicts")["openmp"]
    if not EXPECT and not cfg["built_with"]:
        pytest.skip("a serial build")
    assert cfg["built_with"]
    assert cfg["max_threads"] >= 1
    if os.environ.get("CXENT_EXPECT_BUNDLED_OPENMP") == "1":
        assert cfg["runtime"] is not None
        assert "cxent.libs" in cfg["runtime"]
