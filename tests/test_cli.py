"""The command line: python -m fastsig info | check | bench, run in a child interpreter."""

import re

import pytest

import fastsig

PUBLIC_FUNCTIONS = ("matmul", "sigmoid", "sigmoid_backward", "dense_forward", "dense_backward")


@pytest.mark.quick
def test_info(tmp_path, helpers):
    p = helpers.run_python(["-m", "fastsig", "info"], tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr
    assert fastsig.__version__ in p.stdout
    assert "isa" in p.stdout.lower() and "openmp" in p.stdout.lower()


@pytest.mark.quick
def test_check(tmp_path, helpers):
    p = helpers.run_python(["-m", "fastsig", "check"], tmp_path, timeout=300)
    assert p.returncode == 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    lines = p.stdout.splitlines()
    for name in PUBLIC_FUNCTIONS:
        pattern = re.compile(rf"\b{name}\b")  # \b: "sigmoid" does not match "sigmoid_backward"
        assert any(pattern.search(line) for line in lines), f"no line for {name}:\n{p.stdout}"


def test_unknown_command_fails(tmp_path, helpers):
    p = helpers.run_python(["-m", "fastsig", "no-such-command"], tmp_path, timeout=120)
    assert p.returncode != 0


@pytest.mark.slow
def test_bench_quick(tmp_path, helpers):
    p = helpers.run_python(["-m", "fastsig", "bench", "--quick"], tmp_path, timeout=300)
    assert p.returncode == 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert p.stdout.strip(), "bench printed nothing"
    assert any(name in p.stdout for name in PUBLIC_FUNCTIONS)
