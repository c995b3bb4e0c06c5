"""The machinery of ``python -m fastsig bench --sweep``, without timing anything: the grid it
covers, the ratio to the fastest peer, the summary, --json and --plot (timings stubbed as in
test_bench.py)."""

import json

import numpy as np
import pytest

import fastsig
from fastsig import _bench, _sweep
from fastsig.__main__ import main


def fixed_times(calls, budget, min_rounds=None):
    """fastsig 1 ms a call, each other library 1 ms more than the one before it."""
    return {name: 1e-3 * (i + 1) for i, name in enumerate(calls)}


@pytest.fixture
def tiny_sweep(monkeypatch):
    """The sweep over a few small cases, with fixed timings."""
    monkeypatch.setattr(_bench, "time_interleaved", fixed_times)
    monkeypatch.setattr(_sweep, "QUICK_BATCHES", (1, 5))
    monkeypatch.setattr(_sweep, "QUICK_LAYERS", ((2, 3), (7, 1)))
    monkeypatch.setattr(_sweep, "QUICK_ELEMENTWISE_SIZES", (10,))


def test_the_grid_covers_the_shapes_users_run():
    cases = _sweep.grid(quick=False)
    products = [c for c in cases if c[2] is not None]
    batches = {n for _, n, *_ in products}
    widths = {k for _, _, k, _, _, _ in products} | {m for *_, m, _, _ in products}
    assert min(batches) == 1 and max(batches) >= 10**5
    assert min(widths) == 1 and max(widths) >= 1000
    assert any(n % 2 and n > 2 and all(n % p for p in range(3, int(n**0.5) + 1, 2))
               for n in batches | widths), "an odd prime size"
    assert {c[0] for c in cases} == {"matmul", "dense_forward", "dense_backward", "train_step",
                                     "sigmoid", "sigmoid_backward"}
    assert {np.dtype(c[4]).name for c in cases} == {"float32", "float64"}
    assert all(n * k * m <= _sweep.MAX_MULADDS for _, n, k, m, _, _ in products)
    assert any(m <= 3 for *_, m, _, _ in products), "narrow outputs"
    assert any(2 <= m <= 4 and k >= 100 for _, _, k, m, _, _ in products), "a few logits"
    quick = _sweep.grid(quick=True)
    assert 0 < len(quick) < len(cases) / 3


def test_ratio_is_to_the_fastest_peer_and_the_summary_counts(tiny_sweep, tmp_path, capsys):
    path = tmp_path / "sweep.json"
    threads_before = fastsig.get_num_threads()
    assert main(["bench", "--sweep", "--quick", "--threads", "1", "--json", str(path)]) == 0
    assert fastsig.get_num_threads() == threads_before
    report = json.loads(path.read_text())
    rows = report["rows"]
    assert len(rows) == len(_sweep.grid(quick=True)) == 4 * 2 * 2 * 2 + 2 * 2
    for row in rows:
        assert row["error"] is None and row["fastsig_ms"] == pytest.approx(1.0)
        # numpy is the first peer timed (2 ms); "copy" (a bound, 1 ms more than the last
        # peer) never counts as the fastest peer
        assert row["best_peer"] == "numpy" and row["ratio"] == pytest.approx(2.0)
    summary = report["summary"]
    assert summary["cases"] == len(rows) and summary["below_one"] == 0
    assert summary["median"] == pytest.approx(2.0) and summary["failed"] == 0
    out, err = capsys.readouterr()
    assert f"sweep: {len(rows)} cases, median 2x" in out and "0 below 1.0x" in out
    assert "[1/" in err and "[1/" not in out


def test_summary_orders_the_worst_first():
    def row(ratio, n):
        return {"operation": "matmul", "n": n, "k": 3, "m": 4, "dtype": "float32",
                "best_peer": "torch", "ratio": ratio, "error": None, "peers": {}}

    rows = [row(r, n) for n, r in enumerate([2.0, 0.5, 4.0, 0.25, 1.0, 8.0, 0.9])]
    rows.append({**row(None, 99), "error": "RuntimeError: boom"})
    summary = _sweep.summarize(rows)
    assert summary["cases"] == 7 and summary["below_one"] == 3 and summary["failed"] == 1
    assert summary["median"] == pytest.approx(1.0)
    assert [case["ratio"] for case in summary["worst"]] == [0.25, 0.5, 0.9, 1.0, 2.0]
    text = "\n".join(_sweep.summary_lines(summary))
    assert "7 cases" in text and "3 below 1.0x" in text and "worst 0.25x (matmul float32 3x3" in text


def test_plot_draws_a_heat_map(tiny_sweep, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "sweep.png"
    assert main(["bench", "--sweep", "--quick", "--threads", "1", "--plot", str(path)]) == 0
    assert path.read_bytes().startswith(b"\x89PNG")
