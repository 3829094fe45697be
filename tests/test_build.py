"""setup.py's choice of instruction-set modules follows the build's target, not the machine."""

import ast
import os
import pathlib
import platform
import sysconfig

import pytest

SETUP = pathlib.Path(__file__).resolve().parents[1] / "setup.py"


def _targets_x86():
    """setup.py's _targets_x86, compiled from its source (importing setup.py would build)."""
    tree = ast.parse(SETUP.read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_targets_x86")
    ns = {"os": os, "platform": platform, "sysconfig": sysconfig}
    exec(compile(ast.Module([fn], []), str(SETUP), "exec"), ns)
    return ns["_targets_x86"]


@pytest.mark.skipif(not SETUP.exists(), reason="setup.py is not beside the tests")
@pytest.mark.parametrize(("host_platform", "archflags", "x86"), [
    ("linux-aarch64", None, False),       # a cross build for arm64 Linux (crossenv)
    ("win-arm64", None, False),           # cibuildwheel's Windows ARM64 builds
    ("win-amd64", None, True),
    ("linux-x86_64", None, True),
    ("macosx-11.0-arm64", None, False),
    ("macosx-10.9-universal2", "-arch arm64", False),   # cibuildwheel on macOS
    ("macosx-10.9-universal2", "-arch x86_64", True),
])
def test_isa_modules_only_for_an_x86_64_target(monkeypatch, host_platform, archflags, x86):
    monkeypatch.setenv("_PYTHON_HOST_PLATFORM", host_platform)
    if archflags is None:
        monkeypatch.delenv("ARCHFLAGS", raising=False)
    else:
        monkeypatch.setenv("ARCHFLAGS", archflags)
    assert _targets_x86()() is x86
