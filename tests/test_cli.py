"""The command line: python -m fastsig info | check | bench, run in a child interpreter."""

import re

import pytest

import fastsig
from fastsig import _dispatch

PUBLIC_FUNCTIONS = ("matmul", "sigmoid", "sigmoid_backward", "dense_forward", "dense_backward")


@pytest.mark.quick
def test_info(tmp_path, helpers):
    p = helpers.run_python(["-m", "fastsig", "info"], tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr
    assert fastsig.__version__ in p.stdout
    assert "isa" in p.stdout.lower() and "openmp" in p.stdout.lower()
    peak = re.search(r"FMA peak, one core \((\w+) kernels, measured now\): "
                     r"float32 (\d+) GFLOP/s, float64 (\d+) GFLOP/s", p.stdout)
    assert peak, p.stdout
    assert peak.group(1) == _dispatch.ISA
    assert int(peak.group(2)) > 0 and int(peak.group(3)) > 0


@pytest.mark.quick
def test_check(tmp_path, helpers):
    p = helpers.run_python(["-m", "fastsig", "check"], tmp_path, timeout=300)
    assert p.returncode == 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    lines = p.stdout.splitlines()
    for name in PUBLIC_FUNCTIONS:
        pattern = re.compile(rf"\b{name}\b")  # \b: "sigmoid" does not match "sigmoid_backward"
        assert any(pattern.search(line) for line in lines), f"no line for {name}:\n{p.stdout}"
    # σ in each accuracy mode, its error in the promise's own terms with the bound beside it
    for label in ("sigmoid", "sigmoid fast", "dense_forward fast"):
        assert any(line.startswith(f"ok   {label} ") for line in lines), f"{label}:\n{p.stdout}"
    steps = re.findall(r"(float32|float64) (\d+) ulp, bound (\d+)", p.stdout)
    assert len(steps) == 4, p.stdout
    for _, got, bound in steps:
        assert int(got) <= int(bound)


def test_unknown_command_fails(tmp_path, helpers):
    p = helpers.run_python(["-m", "fastsig", "no-such-command"], tmp_path, timeout=120)
    assert p.returncode != 0


@pytest.mark.slow
def test_bench_quick(tmp_path, helpers):
    p = helpers.run_python(["-m", "fastsig", "bench", "--quick"], tmp_path, timeout=300)
    assert p.returncode == 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert p.stdout.strip(), "bench printed nothing"
    assert any(name in p.stdout for name in PUBLIC_FUNCTIONS)
