"""``python -m fastsig bench --sweep``: fastsig against the fastest installed peer over the
shapes users run, not only the benchmark table's.

The grid crosses batches from one row to a hundred thousand with layers from 1×1 to a thousand
wide (odd and prime sizes, narrow outputs, two logits of a deep layer), for every public
function and a training step, in both dtypes; the elementwise functions get flat arrays from 1
to 10⁷ elements. A case whose
product would take more than MAX_MULADDS multiply-adds is left out (a batch of 10⁵ rows through
a 1000-wide layer is GEMM-bound, and the vendor BLAS peers are measured there by the table's
1024³ rows). Each case is timed as the table's are (_bench.measure: the same data, agreement
checked, calls interleaved, medians); its ratio is the fastest peer's time over fastsig's, so
below 1 is a case where some peer a user has is faster. The summary gives the number of cases,
the median ratio, the count below 1 and the worst cases; --plot draws a heat map per function
and dtype, batches across and layers down.
"""

import json
import math
import statistics
import sys

import numpy as np

from . import _bench

BATCHES = (1, 7, 64, 500, 4099, 100_003)
LAYERS = ((1, 1), (100, 1), (300, 2), (2, 3), (13, 7), (64, 10), (100, 16), (31, 200),
          (256, 256), (1000, 1000))
ELEMENTWISE_SIZES = (1, 10, 1000, 16_384, 100_003, 10**6, 10**7)
MAX_MULADDS = 2 * 10**9
QUICK_BATCHES = (1, 64, 4099)
QUICK_LAYERS = ((2, 3), (13, 7), (256, 256))
QUICK_ELEMENTWISE_SIZES = (10, 16_384, 10**6)
QUICK_MAX_MULADDS = 10**8
WORST_SHOWN = 5
# Per case, all libraries together: (seconds, rounds at least), by --quick. Fewer rounds than
# the table's: the sweep has ten times its cases.
BUDGET = {False: (0.5, 5), True: (0.25, 3)}

PRODUCT_OPERATIONS = {
    "matmul": _bench._matmul,
    "dense_forward": _bench._dense_forward,
    "dense_backward": _bench._dense_backward,
    "train_step": _bench._train_step,
}
ELEMENTWISE_OPERATIONS = {
    "sigmoid": _bench._sigmoid,
    "sigmoid_backward": _bench._sigmoid_backward,
}


def grid(quick):
    """(operation, n, k, m, dtype, make) for every case; elementwise cases have n = size and
    k = m = None."""
    batches = QUICK_BATCHES if quick else BATCHES
    layers = QUICK_LAYERS if quick else LAYERS
    sizes = QUICK_ELEMENTWISE_SIZES if quick else ELEMENTWISE_SIZES
    limit = QUICK_MAX_MULADDS if quick else MAX_MULADDS
    cases = []
    for operation, factory in PRODUCT_OPERATIONS.items():
        for dtype in _bench.DTYPES:
            for k, m in layers:
                for n in batches:
                    if n * k * m <= limit:
                        cases.append((operation, n, k, m, dtype, factory))
    for operation, factory in ELEMENTWISE_OPERATIONS.items():
        for dtype in _bench.DTYPES:
            for size in sizes:
                cases.append((operation, size, None, None, dtype, factory))
    return cases


def _label(row):
    if row["k"] is None:
        return f"{row['n']}"
    return f"{row['n']}x{row['k']} @ {row['k']}x{row['m']}"


def _best_peer(peers):
    """(name, ms) of the fastest peer library that agreed with fastsig (bounds are no peers)."""
    timed = [(result["ms"], name) for name, result in peers.items()
             if name not in _bench.BOUNDS and result["ms"] is not None]
    if not timed:
        return None, None
    ms, name = min(timed)
    return name, ms


def run_case(operation, n, k, m, dtype, factory, peers, threads, budget, min_rounds):
    """One case, measured: its row, with the fastest peer and fastsig's ratio to it."""
    row = {"operation": operation, "n": n, "k": k, "m": m, "dtype": np.dtype(dtype).name,
           "threads": threads, "error": None, "fastsig_ms": None, "peers": {},
           "best_peer": None, "ratio": None}
    shape = n if k is None else (n, k, m)
    try:
        row.update(_bench.measure(factory(shape, dtype, peers), dtype, budget, min_rounds))
    except Exception as exc:  # one broken case should not cost the rest of the sweep
        row["error"] = _bench._failure(exc)
        return row
    name, ms = _best_peer(row["peers"])
    if name is not None:
        row["best_peer"] = name
        row["ratio"] = ms / row["fastsig_ms"]
    return row


def summarize(rows):
    """The sweep's summary: cases with a ratio, their median and geometric mean, how many
    are below 1.0, and the worst cases, worst first."""
    rated = sorted((row for row in rows if row["ratio"] is not None), key=lambda r: r["ratio"])
    ratios = [row["ratio"] for row in rated]
    return {
        "cases": len(ratios),
        "median": statistics.median(ratios) if ratios else None,
        "geometric_mean": math.exp(statistics.fmean(map(math.log, ratios))) if ratios else None,
        "below_one": sum(ratio < 1.0 for ratio in ratios),
        "worst": [{key: row[key] for key in ("operation", "n", "k", "m", "dtype", "best_peer",
                                             "ratio")} for row in rated[:WORST_SHOWN]],
        "failed": sum(1 for row in rows if _bench._failed(row)),
    }


def _case_text(case):
    return f"{case['operation']} {case['dtype']} {_label(case)}"


def summary_lines(summary):
    if not summary["cases"]:
        return ["sweep: no case was timed"]
    lines = [
        f"sweep: {summary['cases']} cases, median {summary['median']:.3g}x, geometric mean "
        f"{summary['geometric_mean']:.3g}x, {summary['below_one']} below 1.0x, worst "
        f"{summary['worst'][0]['ratio']:.3g}x ({_case_text(summary['worst'][0])} against "
        f"{summary['worst'][0]['best_peer']})",
        "worst cases:",
    ]
    lines += [f"  {case['ratio']:6.3g}x  {_case_text(case)} (against {case['best_peer']})"
              for case in summary["worst"]]
    return lines


def _row_line(row):
    case = f"{row['operation']:<17}{row['dtype']:<8}{_label(row):>26}"
    if row["error"]:
        return f"{case}  ERROR {row['error']}"
    if row["ratio"] is None:
        return f"{case}  {row['fastsig_ms']:>10.3g}  no peer agreed and was timed"
    best = row["peers"][row["best_peer"]]["ms"]
    return f"{case}  {row['fastsig_ms']:>10.3g}  {row['best_peer']:>8} {best:>10.3g}  " \
           f"{row['ratio']:>6.3g}"


def _size_text(n):
    """1, 4,099, 10^6: an axis label that stays short."""
    exponent = round(math.log10(n)) if n >= 10**6 else None
    return f"1e{exponent}" if exponent is not None and n == 10**exponent else f"{n:,}"


def _plot(rows, machine, path, figure_class):
    """A heat map per operation (rows of the figure) and dtype (columns): batches across, layers
    down (the elementwise functions: sizes across), each cell colored by log2 of the ratio and
    labelled with it; a blank cell is a case left out (too large) or not rated."""
    from matplotlib.colors import Normalize

    operations = [op for op in (*PRODUCT_OPERATIONS, *ELEMENTWISE_OPERATIONS)
                  if any(row["operation"] == op for row in rows)]
    dtypes = [np.dtype(dt).name for dt in _bench.DTYPES]
    figure = figure_class(figsize=(5.2 * len(dtypes), 2.9 * len(operations)),
                          layout="constrained")
    grids = figure.subplots(len(operations), len(dtypes), squeeze=False)
    norm = Normalize(vmin=-3, vmax=3)  # 1/8x .. 8x
    image = None
    for i, operation in enumerate(operations):
        mine = [row for row in rows if row["operation"] == operation]
        elementwise = mine[0]["k"] is None
        columns = sorted({row["n"] for row in mine})
        layers = [None] if elementwise else sorted({(row["k"], row["m"]) for row in mine})
        for j, dtype in enumerate(dtypes):
            axes = grids[i][j]
            values = np.full((len(layers), len(columns)), np.nan)
            for row in mine:
                if row["dtype"] != dtype or row["ratio"] is None:
                    continue
                layer = None if elementwise else (row["k"], row["m"])
                values[layers.index(layer), columns.index(row["n"])] = math.log2(row["ratio"])
            image = axes.imshow(values, cmap="RdBu", norm=norm, aspect="auto")
            for (r, c), value in np.ndenumerate(values):
                if not np.isnan(value):
                    axes.text(c, r, f"{2 ** value:.2g}", ha="center", va="center", fontsize=7)
            axes.set_xticks(range(len(columns)), [_size_text(n) for n in columns], fontsize=7)
            axes.set_yticks(range(len(layers)),
                            ["" if layer is None else f"{layer[0]}x{layer[1]}" for layer in layers],
                            fontsize=7)
            axes.set_xlabel("elements" if elementwise else "batch rows n", fontsize=7)
            if not elementwise:
                axes.set_ylabel("layer k x m", fontsize=7)
            axes.set_title(f"{operation} {dtype}", fontsize=9)
    if image is not None:
        bar = figure.colorbar(image, ax=grids, shrink=0.6, ticks=[-3, -2, -1, 0, 1, 2, 3])
        bar.ax.set_yticklabels(["1/8", "1/4", "1/2", "1", "2", "4", "8"])
        bar.set_label("fastest peer's time / fastsig's (> 1: fastsig is faster)")
    figure.suptitle(f"fastsig {machine['fastsig_version']} against the fastest peer: "
                    f"{machine['cpu']}, {_bench._threads_text(machine['threads'])}, "
                    f"isa={machine['isa']}", fontsize=10)
    figure.savefig(path, dpi=100)


def run_sweep(quick, threads, json_path, plot_path=None):
    """Time the grid against each installed peer and print the rows and the summary; 1 if a
    case failed or a peer disagreed, 2 if --plot cannot be drawn (checked before anything
    runs)."""
    figure_class = None
    if plot_path:
        try:
            figure_class = _bench.import_figure()
        except ImportError as exc:
            message = f"error: --plot needs matplotlib, which cannot be imported ({exc})"
            print(f"{message}: {_bench.PLOT_HINT}", file=sys.stderr)
            return 2
    peers, missing = _bench.import_peers()
    cases = grid(quick)
    budget, min_rounds = BUDGET[quick]
    with _bench.threads_for_all(threads, peers) as (count, notes):
        machine = _bench._machine(count, notes, peers, missing)
        # The header, then each row as it is measured (the full grid takes minutes).
        header = [line for line in _bench._header({**machine, "load_average": {"start": None}},
                                                   [])[:-2]
                  if line and not line.startswith("ratio = ")]
        print("\n".join(header))
        print("ratio = the fastest peer's ms / fastsig ms: > 1 means fastsig is faster")
        print(f"{'operation':<17}{'dtype':<8}{'shape':>26}  {'fastsig ms':>10}  "
              f"{'best peer':>8} {'ms':>10}  {'ratio':>6}", flush=True)
        rows = []
        for i, (operation, n, k, m, dtype, factory) in enumerate(cases, 1):
            label = _label({"n": n, "k": k, "m": m})
            _bench._progress(i, len(cases), operation, label, dtype)
            rows.append(run_case(operation, n, k, m, dtype, factory, peers, count, budget,
                                 min_rounds))
            print(_row_line(rows[-1]), flush=True)
        machine["load_average"]["end"] = _bench._load_average()
    summary = summarize(rows)
    print()
    print("\n".join(summary_lines(summary)))
    load = machine["load_average"]
    if load["start"] is not None:
        print(f"load average (1 min): {load['start']} at the start, {load['end']} at the end")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"machine": machine, "rows": rows, "summary": summary}, f, indent=2)
    if figure_class:
        _plot(rows, machine, plot_path, figure_class)
    return 1 if summary["failed"] else 0
