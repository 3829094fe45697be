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


OTHER_BUILDS = [n for n in _isa.available() if n != _isa.name]
SWEEP = os.environ.get("CXENT_ISA_SWEEP") != "0"


@pytest.fixture(scope="module")
def other_builds_runs(tmp_path_factory):
    """The whole suite again with the kernels of each other build, all started at once.

    The runs are single-threaded for the most part, so on a machine with two or more cores they
    go side by side (each build's result is still its own test below).  This file and the
    command-line tests, which time peers, are left out: --ignore takes paths, --deselect only
    node ids relative to the rootdir, which an absolute path never matched.  The output goes to
    files, not pipes, so that a long report cannot block one run while another is awaited."""
    out = tmp_path_factory.mktemp("isa-sweep")
    runs = {}
    for name in OTHER_BUILDS:
        log = out / f"{name}.log"
        with open(log, "w") as f:  # the child keeps its own copy of the descriptor
            proc = subprocess.Popen(
                [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                 str(TESTS), "--ignore", str(TESTS / "test_isa.py"),
                 "--ignore", str(TESTS / "test_main.py")],
                env={**os.environ, "CXENT_ISA": name, "CXENT_ISA_SWEEP": "0"},
                stdout=f, stderr=subprocess.STDOUT, cwd=TESTS.parent)
        runs[name] = (proc, log)
    yield runs
    for proc, _ in runs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not SWEEP, reason="nested run of the sweep itself")
@pytest.mark.parametrize("name", OTHER_BUILDS)
def test_suite_passes_on_every_other_build(name, other_builds_runs):
    proc, log = other_builds_runs[name]
    try:
        returncode = proc.wait(timeout=900)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    lines = log.read_text().splitlines()
    tail = "\n".join(lines[-15:])
    assert returncode == 0, f"{name}:\n" + "\n".join(lines[-60:])
    assert " passed" in tail
