"""The asv suite's set-up and tear-down, without asv: a peer that is not installed is skipped
(asv's NotImplementedError), and teardown holds whatever setup did before it stopped, since asv
calls it after a skipped or failed setup too. (CI also runs the suite under asv, once with every
peer and once with none.)"""

import importlib.util
import inspect
from pathlib import Path

import pytest

import fastsig

SUITE = Path(__file__).resolve().parent.parent / "asv_bench" / "benchmarks" / "bench_fastsig.py"
pytestmark = pytest.mark.skipif(not SUITE.exists(), reason="the asv suite is not beside the tests")


@pytest.fixture
def suite(monkeypatch):
    spec = importlib.util.spec_from_file_location("fastsig_asv_suite", SUITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Every peer missing, as in a fresh environment with fastsig and asv alone.
    for name in module.PEER_MODULES:
        monkeypatch.setitem(module.PEER_MODULES, name, f"fastsig_no_such_module_{name}")
    return module


def _benchmark_classes(module):
    return [cls for _, cls in inspect.getmembers(module, inspect.isclass)
            if getattr(cls, "params", None) and cls.__module__ == module.__name__]


@pytest.mark.quick
def test_a_missing_peer_is_skipped_and_torn_down(suite):
    classes = _benchmark_classes(suite)
    assert {cls.__name__ for cls in classes} >= {"Matmul", "DenseForward", "DenseBackward",
                                                 "TrainStep", "Sigmoid", "SigmoidBackward"}
    for cls in classes:
        libraries, dtypes, shapes, threads = cls.params
        for library in set(libraries) & set(suite.PEER_MODULES):
            bench = cls()
            with pytest.raises(NotImplementedError, match="cannot be imported"):
                bench.setup(library, dtypes[0], shapes[0], threads[0])
            bench.teardown(library, dtypes[0], shapes[0], threads[0])
        cls().teardown(libraries[0], dtypes[0], shapes[0], threads[0])  # without any setup


@pytest.mark.quick
def test_fastsig_runs_and_its_thread_setting_is_restored(suite):
    bench = suite.Matmul()
    bench.setup("fastsig", "float32", "2x2 @ 2x3", 1)
    try:
        assert fastsig.get_num_threads() == 1
        assert bench.call().shape == (2, 3)
    finally:
        bench.teardown("fastsig", "float32", "2x2 @ 2x3", 1)
    fastsig.set_num_threads(None)
    default = fastsig.get_num_threads()
    bench.setup("fastsig", "float32", "2x2 @ 2x3", 1)
    bench.teardown("fastsig", "float32", "2x2 @ 2x3", 1)
    assert fastsig.get_num_threads() == default


@pytest.mark.quick
def test_the_fast_mode_is_timed_beside_the_default(suite, helpers):
    """Sigmoid and DenseForward also time fastsig in its "fast" accuracy mode, with the mode's
    results; the process-wide mode is left alone."""
    for cls, shape in ((suite.Sigmoid, "10**3"), (suite.DenseForward, "2x2 @ 2x3")):
        assert "fastsig-fast" in cls.params[0]
        results = {}
        for library in ("fastsig", "fastsig-fast"):
            bench = cls()
            bench.setup(library, "float32", shape, 1)
            try:
                results[library] = bench.call()
            finally:
                bench.teardown(library, "float32", shape, 1)
        inputs = cls().data("float32", cls.shapes[shape])
        function = fastsig.sigmoid if cls is suite.Sigmoid else fastsig.dense_forward
        helpers.assert_bitwise_equal(results["fastsig-fast"], function(*inputs, accuracy="fast"))
        helpers.assert_bitwise_equal(results["fastsig"], function(*inputs))
        assert fastsig.get_accuracy() == "high"
