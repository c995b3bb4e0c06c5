"""`matmul` n³ against numpy and torch at the FMA peak: the GEMM core's table.

    python tests/gemm_table.py [--sizes 1024,2048] [--threads 1,2] [--budget 6]

Each library gets ``out=``, on the same thread count (``_bench.threads_for_all``), timed in
interleaved, settled rounds (``_bench.time_interleaved``); prints GF/s, the fraction of the
probe's FMA peak (``fastsig._peak``) times the threads, and fastsig's ratio to each peer
(> 1: fastsig is faster). torch is left out where it is not installed.
"""

import argparse

import numpy as np

import fastsig
from fastsig import _bench, _peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1024,2048")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--budget", type=float, default=6.0, help="seconds per case")
    args = parser.parse_args()
    peers, _ = _bench.import_peers()
    torch = peers.get("torch")
    peak = _peak.fma_peak()
    print("FMA peak per core (GF/s):", {name: round(rate) for name, rate in peak.items()})
    for threads in (int(t) for t in args.threads.split(",")):
        with _bench.threads_for_all(threads, peers):
            for n in (int(s) for s in args.sizes.split(",")):
                for dtype in ("float32", "float64"):
                    rng = np.random.default_rng(0)
                    x = rng.standard_normal((n, n)).astype(dtype)
                    w = rng.standard_normal((n, n)).astype(dtype)
                    outs = [np.empty((n, n), dtype) for _ in range(3)]
                    calls = {"fastsig": lambda: fastsig.matmul(x, w, out=outs[0]),
                             "numpy": lambda: np.matmul(x, w, out=outs[1])}
                    if torch is not None:
                        tx, tw, to = (torch.from_numpy(a) for a in (x, w, outs[2]))
                        calls["torch"] = lambda: torch.mm(tx, tw, out=to)
                    seconds = _bench.time_interleaved(calls, args.budget, min_rounds=5)
                    rates = {name: 2 * n**3 / s / 1e9 for name, s in seconds.items()}
                    ceiling = peak[dtype] * threads
                    cells = "  ".join(f"{name} {rate:.0f} GF/s ({rate / ceiling:.0%})"
                                      for name, rate in rates.items())
                    ratios = "  ".join(f"fastsig/{name} {rates['fastsig'] / rate:.2f}"
                                       for name, rate in rates.items() if name != "fastsig")
                    print(f"{n}³ {dtype}, {threads} thread(s): {cells}   {ratios}")


if __name__ == "__main__":
    main()
