"""The machinery of ``python -m fastsig bench``, without timing anything.

Timings are stubbed (time_interleaved gives fixed seconds) and the cases cut to the tiny 2x2 @ 2x3
ones, so that these tests check the agreement check, the table, --json, --plot and --threads in a
second or two. The real timings run in test_cli.py's slow test.
"""

import json
import sys
import threading
import time

import numpy as np
import pytest

import fastsig
from fastsig import _bench, _dispatch
from fastsig.__main__ import main

TINY = "2x2 @ 2x3"


def fixed_times(calls, budget, min_rounds=None):
    """Stands in for time_interleaved: fastsig 1 ms a call, each peer 1 ms more than the last."""
    return {name: 1e-3 * (i + 1) for i, name in enumerate(calls)}


@pytest.fixture
def untimed(monkeypatch):
    """The bench on the tiny cases only, with fixed timings."""
    real_cases = _bench._cases
    monkeypatch.setattr(
        _bench, "_cases", lambda quick, peers: [c for c in real_cases(quick, peers) if c[1] == TINY]
    )
    monkeypatch.setattr(_bench, "time_interleaved", fixed_times)


@pytest.fixture
def one_case(monkeypatch):
    """Makes the bench run a single sigmoid case with the given calls, with fixed timings."""
    monkeypatch.setattr(_bench, "time_interleaved", fixed_times)

    def use(calls):
        case = ("sigmoid", "11", np.float64, lambda: calls)
        monkeypatch.setattr(_bench, "_cases", lambda quick, peers: [case])

    return use


def test_json_has_the_machine_and_a_row_per_case(untimed, tmp_path, capsys):
    path = tmp_path / "bench.json"
    threads_before = fastsig.get_num_threads()
    assert main(["bench", "--quick", "--threads", "1", "--json", str(path)]) == 0
    assert fastsig.get_num_threads() == threads_before, "the bench left fastsig's threads set"

    report = json.loads(path.read_text())
    machine = report["machine"]
    for key in ("cpu", "cpu_count", "fastsig_version", "isa", "openmp", "threads", "peers"):
        assert key in machine, key
    assert machine["threads"] == 1
    assert machine["blocking"] == _dispatch.kernels.blocking()
    assert machine["peers"]["numpy"]["version"] == np.__version__
    assert set(machine["load_average"]) == {"start", "end"}

    rows = report["rows"]
    assert [(r["operation"], r["dtype"]) for r in rows] == [
        (operation, dtype)
        for operation in ("matmul", "dense_forward", "dense_backward", "train_step")
        for dtype in ("float32", "float64")
    ]
    for row in rows:
        assert row["shape"] == TINY and row["threads"] == 1 and row["error"] is None
        assert row["fastsig_ms"] == pytest.approx(1.0)
        numpy = row["peers"]["numpy"]
        assert numpy["disagreement"] is None and numpy["error"] is None
        assert numpy["ratio"] == pytest.approx(numpy["ms"] / row["fastsig_ms"])

    out, err = capsys.readouterr()
    assert "ratio" in out and machine["cpu"] in out and f"isa={machine['isa']}" in out
    assert f"blocking: kc {machine['blocking']['kc']['float32']}/" in out
    assert "[1/8] matmul" in err and "[1/8]" not in out  # progress on stderr only

    # Each matmul row's GFLOP/s (2·n·k·m a call), beside the measured FMA peak.
    peak = machine["fma_peak_gflops"]
    assert set(peak) == {"float32", "float64"} and all(v > 0 for v in peak.values())
    for row in rows:
        if row["operation"] != "matmul":
            assert "gflops" not in row
            continue
        assert row["gflops"]["fastsig"] == pytest.approx(2 * 2 * 2 * 3 / 1e-3 / 1e9)
        assert row["gflops"]["numpy"] == pytest.approx(row["gflops"]["fastsig"] / 2)
    assert "matmul against the FMA peak" in out
    assert f"{peak['float32']:.0f} (float32)" in out


def test_agreement_check_flags_a_wrong_peer(one_case, capsys):
    y = np.linspace(-8, 8, 11)
    one_case(
        {
            "fastsig": lambda: fastsig.sigmoid(y),
            "numpy": lambda: _bench.np_sigmoid(y),
            "wrong": lambda: _bench.np_sigmoid(y) * 1.01,
            "float32": lambda: _bench.np_sigmoid(y.astype(np.float32)),
            "broken": lambda: 1 / 0,
            "two_results": lambda: (fastsig.sigmoid(y), fastsig.sigmoid(y)),
        }
    )
    assert main(["bench", "--quick"]) == 1, "a disagreeing peer must fail the command"

    out = capsys.readouterr().out
    assert "WARNING: wrong and fastsig disagree" in out
    assert "WARNING: float32 and fastsig disagree" in out and "float32 (11,)" in out
    assert "WARNING: broken failed" in out and "ZeroDivisionError" in out
    assert "two_results gave 2 results, fastsig 1" in out
    assert "WARNING: numpy" not in out


def test_the_copy_bound_is_timed_not_checked(one_case, tmp_path):
    # "copy" computes something else than the sigmoid, on purpose: a bound, not a peer.
    y = np.linspace(-8, 8, 11)
    one_case({"fastsig": lambda: fastsig.sigmoid(y), "copy": lambda: y.copy()})
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--json", str(path)]) == 0
    (row,) = json.loads(path.read_text())["rows"]
    assert row["peers"]["copy"]["disagreement"] is None
    assert row["peers"]["copy"]["ratio"] == pytest.approx(2.0)


def test_train_step_peers_compute_the_same_step():
    # The first call of each library starts from the same weights: same s, dw, db.
    peers, _ = _bench.import_peers()
    for dtype in _bench.DTYPES:
        calls = _bench._train_step((50, 4, 3), dtype, peers)
        reference = calls.pop("fastsig")()
        for name, call in calls.items():
            assert _bench.disagreement(call(), reference, dtype, name) is None, name


def test_disagreement_allows_rounding_only():
    want = np.linspace(-3, 3, 101, dtype=np.float32)
    assert _bench.disagreement(want * (1 + 1e-6), want, np.float32, "peer") is None
    assert "max |peer - fastsig|" in _bench.disagreement(want + 1e-2, want, np.float32, "peer")


def test_a_missing_peer_is_reported_not_fatal(untimed, monkeypatch, capsys):
    monkeypatch.setitem(_bench.PEER_MODULES, "nosuchpeer", ("fastsig_no_such_module", "x"))
    assert main(["bench", "--quick"]) == 0
    assert "not installed: nosuchpeer" in capsys.readouterr().out


def test_plot_without_matplotlib_says_so_before_running(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    path = tmp_path / "bench.png"
    assert main(["bench", "--quick", "--plot", str(path)]) == 2
    err = capsys.readouterr().err
    assert "--plot needs matplotlib" in err and "pip install matplotlib" in err
    assert "[1/" not in err, "it should fail before timing anything"
    assert not path.exists()


def test_plot_writes_a_png(untimed, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "bench.png"
    assert main(["bench", "--quick", "--plot", str(path)]) == 0
    assert path.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("threads", ["0", "-2", "two", "1.5"])
def test_threads_must_be_a_positive_integer(threads, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--threads", threads])
    assert exit_info.value.code == 2
    assert "must be a positive integer" in capsys.readouterr().err


def test_settle_waits_for_a_spinning_thread_of_this_process():
    """settle() returns while nothing else of the process runs, and holds the timing back while
    another thread spins, as a BLAS worker does after a call, until that thread stops."""
    start = time.perf_counter()
    _bench.settle(max_wait=5.0)
    assert time.perf_counter() - start < 1.0  # quiet: a few windows at most

    stop, stopped = threading.Event(), threading.Event()

    def spin():
        while not stop.is_set():
            pass
        stopped.set()

    spinner = threading.Thread(target=spin)
    spinner.start()
    threading.Timer(0.3, stop.set).start()
    try:
        _bench.settle(max_wait=5.0)
        assert stopped.is_set(), "settle() returned while another thread was spinning"
    finally:
        stop.set()
        spinner.join()


@pytest.mark.parametrize("mode", ["high", "fast"])
def test_accuracy_times_fastsig_in_that_mode_and_says_so(mode, monkeypatch, tmp_path, capsys,
                                                        accuracy_setting):
    """--accuracy sets the mode of every fastsig call of the run (and only of the run); the
    header and the JSON say which mode was timed."""
    modes_seen = []
    monkeypatch.setattr(_bench, "time_interleaved", fixed_times)

    def calls():
        y = np.linspace(-5, 5, 11, dtype=np.float32)
        modes_seen.append(fastsig.get_accuracy())
        return {"fastsig": lambda: fastsig.sigmoid(y), "numpy": lambda: 1 / (1 + np.exp(-y))}

    monkeypatch.setattr(_bench, "_cases", lambda quick, peers: [
        ("sigmoid", "11", np.float32, calls)])
    path = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--accuracy", mode, "--json", str(path)]) == 0
    assert modes_seen == [mode]
    assert f"accuracy={mode}" in capsys.readouterr().out
    assert json.loads(path.read_text())["machine"]["accuracy"] == mode
    assert fastsig.get_accuracy() == "high", "the bench left the accuracy mode set"
    accuracy_setting("fast")  # without --accuracy, the process's own mode is timed
    assert main(["bench", "--quick"]) == 0
    assert modes_seen[-1] == "fast" and "accuracy=fast" in capsys.readouterr().out


def test_an_unknown_accuracy_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--accuracy", "low"])
    assert "invalid choice: 'low'" in capsys.readouterr().err
