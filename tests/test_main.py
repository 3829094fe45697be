"""The command line: the tour, the demo and a quick benchmark run and print what they promise."""

import importlib.util
import subprocess
import sys

import pytest


def _run(*args, cwd=None):
    res = subprocess.run([sys.executable, "-m", "cxent", *args], capture_output=True, text=True,
                         timeout=600, cwd=cwd)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_tour_shows_the_worked_example(tmp_path):
    out = _run("tour", "--budget", "0.1", cwd=tmp_path)
    assert "logits z = W @ x          = [1.4 3.2 5. ]" in out
    assert "(rounded: [0.02 0.14 0.84])" in out
    assert "label 2 = 0.17615" in out
    assert "softmax([1, 2, 3])        = [0.09 0.24 0.67]" in out
    assert "numpy" in out


def test_demo_classifies_digits(tmp_path):
    pytest.importorskip("sklearn")
    fig = tmp_path / "digits.png"
    out = _run("demo", "--figure", str(fig), cwd=tmp_path)
    line = next(s for s in out.splitlines() if s.startswith("cxent SoftmaxRegression"))
    test_acc = float(line.split()[3])
    assert test_acc > 0.94
    ref = next(s for s in out.splitlines() if s.startswith("sklearn LogisticRegression"))
    assert test_acc >= float(ref.split()[3]) - 0.01
    # calibration on held-out images: temperature scaling lowers the ECE and the log loss
    before = next(s for s in out.splitlines() if s.strip().startswith("before (T = 1)"))
    after = next(s for s in out.splitlines() if s.strip().startswith("after (T = "))
    ece0, brier0, loss0 = (float(v) for v in before.split()[4:7])
    ece1, brier1, loss1 = (float(v) for v in after.split()[4:7])
    assert ece1 < ece0 and loss1 < loss0 and brier1 <= brier0 + 1e-3
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no figure" in out
    else:
        assert fig.stat().st_size > 10_000
        assert (tmp_path / "digits-calibration.png").stat().st_size > 10_000


def test_bench_per_build_and_k_sweep(tmp_path):
    """--isa runs the benchmark in a child process per build (which writes its report as JSON);
    --k-sweep adds the K table."""
    out = _run("bench", "--quick", "--budget", "0.01", "--ops", "cross_entropy+grad,softmax",
               "--cases", "2000x10:float64,100x1_000,1x3:float64", "--isa", "baseline",
               "--k-sweep", "--json", str(tmp_path / "b.json"), cwd=tmp_path)
    assert "######## CXENT_ISA=baseline" in out and "GB/s" in out
    assert "baseline build" in out and "K sweep" in out and "% of copy" in out
    assert "builds side by side" in out
    from cxent import _isa

    if _isa.available()[0] != "baseline":  # the peers run at the baseline build's level too
        peers = next(line for line in out.splitlines()
                     if line.startswith("peers' instruction sets:"))
        assert not any(f in peers for f in ("X86_V3", "X86_V4", "AVX2", "AVX512")), peers
        if importlib.util.find_spec("torch") is not None:
            assert "torch DEFAULT" in peers
    import json

    rep = json.loads((tmp_path / "b.json").read_text())["builds"]["baseline"]
    assert rep["isa"] == "baseline"
    assert {(r["op"], r["n"], r["k"], r["dtype"]) for r in rep["rows"]} == {
        (op, n, k, d) for op in ("cross_entropy+grad", "softmax")
        for n, k, d in ((2000, 10, "float64"), (100, 1000, "float32"), (1, 3, "float64"))}
    assert all(r["seconds"]["cxent"] > 0 for r in rep["rows"])
    assert all(r["grad_out_seconds"] > 0 for r in rep["rows"] if r["op"] == "cross_entropy+grad")
    assert {(r["k"], r["dtype"]) for r in rep["k_sweep"]} == {
        (k, d) for k in (2, 16, 32, 33, 100, 1000) for d in ("float32", "float64")}
    assert all(r["ns_per_element"] > 0 for r in rep["k_sweep"])
    assert [p.name for p in tmp_path.iterdir()] == ["b.json"]  # the children's files merged


def test_bad_command_line():
    res = subprocess.run([sys.executable, "-m", "cxent", "bench", "--ops", "nope"],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert "unknown operation" in res.stderr
    res = subprocess.run([sys.executable, "-m", "cxent", "bench", "--isa", "sse9"],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert "builds are baseline, avx2, avx512" in res.stderr
    res = subprocess.run([sys.executable, "-m", "cxent", "bench", "--cases", "10x10,7:float16"],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert "expected cases like 100000x10:float64,8192x1000; got '7:float16'" in res.stderr
    for bad in ("0", "-1", "nan", "inf", "soon"):
        res = subprocess.run([sys.executable, "-m", "cxent", "bench", "--budget", bad],
                             capture_output=True, text=True)
        assert res.returncode == 2
        assert f"expected a positive number of seconds; got {bad!r}" in res.stderr
