"""Every instruction-set build this CPU supports passes the suite; CXENT_ISA selects the build."""

import os
import pathlib
import subprocess
import sys

import pytest

import cxent
from cxent import _isa

TESTS = pathlib.Path(__file__).resolve().parent


def _run(code, **env):
    e = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("name", _isa.available())
def test_cxent_isa_selects_the_build(name):
    res = _run("import cxent; print(cxent.show_config('dicts')['isa']['selected'])",
               CXENT_ISA=name)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == name


def test_unavailable_isa_warns_and_falls_back():
    res = _run("import warnings; warnings.simplefilter('error');\n"
               "try:\n    import cxent\nexcept RuntimeWarning as w:\n    print('warned', w)",
               CXENT_ISA="sse9000")
    assert "warned" in res.stdout
    assert "CXENT_ISA='sse9000' is not available" in res.stdout


def test_selected_build_is_the_requested_or_the_best_one():
    want = os.environ.get("CXENT_ISA", "").strip().lower() or "auto"
    selected = cxent.show_config("dicts")["isa"]["selected"]
    assert selected == (_isa.available()[0] if want == "auto" else want)
    assert _isa.name == selected
    assert _isa.kernels.__name__ == ("cxent._kernels" if selected == "baseline"
                                     else f"cxent._kernels_{selected}")


@pytest.mark.skipif(os.environ.get("CXENT_ISA_SWEEP") == "0",
                    reason="nested run of the sweep itself")
@pytest.mark.parametrize("name", [n for n in _isa.available() if n != _isa.name])
def test_suite_passes_on_every_other_build(name):
    # the whole suite again with the kernels of that build (this file and the command-line
    # tests, which time peers, left out: --ignore takes paths, --deselect only node ids
    # relative to the rootdir, which an absolute path never matched)
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", str(TESTS),
         "--ignore", str(TESTS / "test_isa.py"), "--ignore", str(TESTS / "test_main.py")],
        env={**os.environ, "CXENT_ISA": name, "CXENT_ISA_SWEEP": "0"},
        capture_output=True, text=True, timeout=900, cwd=TESTS.parent)
    tail = "\n".join(res.stdout.splitlines()[-15:])
    assert res.returncode == 0, f"{name}:\n{tail}\n{res.stderr[-2000:]}"
    assert " passed" in tail
