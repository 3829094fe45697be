"""Every instruction-set build this CPU supports passes the suite; CXENT_ISA selects the build."""

import os
import subprocess
import sys

import pytest

import cxent
from conftest import ISA_SWEEP, OTHER_BUILDS, start_isa_sweep
from cxent import _isa


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


@pytest.mark.skipif(not ISA_SWEEP, reason="nested run of the sweep itself")
@pytest.mark.parametrize("name", OTHER_BUILDS)
def test_suite_passes_on_every_other_build(name):
    """Started when the session's tests were collected (conftest.py), beside the others."""
    proc, log = start_isa_sweep()[name]
    try:
        returncode = proc.wait(timeout=900)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    lines = log.read_text().splitlines()
    tail = "\n".join(lines[-15:])
    assert returncode == 0, f"{name}:\n" + "\n".join(lines[-60:])
    assert " passed" in tail
