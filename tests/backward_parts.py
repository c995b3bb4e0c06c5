"""dense_backward against its parts: where the time of a backward goes.

    python tests/backward_parts.py N K M [--dtype float32] [--threads 1] [--repeats 51]

Times, on the same data and thread count (medians, µs): `dense_backward` with and without
dx, and its parts as fastsig's public functions compute them alone: dw as `matmul(xᵀ, dy)`
(xᵀ copied row-major first), dx as `matmul(dy, wᵀ)`, dy as `sigmoid_backward`; and numpy's
`x.T @ dy` and `dy @ w.T` beside them, and torch's `mm(dyᵀ, x)` (nn.Linear's dW) where
torch is installed (on `--threads` threads). A backward well above its parts' sum has a part
that its own kernels do worse than the products alone (docs/performance.md, "dw of a few
outputs along x's rows").
"""

import argparse
import time

import numpy as np

import fastsig


def median_us(call, repeats):
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int)
    parser.add_argument("k", type=int)
    parser.add_argument("m", type=int)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=51)
    args = parser.parse_args()
    n, k, m, t = args.n, args.k, args.m, args.threads
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, k)).astype(args.dtype)
    w = (rng.standard_normal((k, m)) / np.sqrt(k)).astype(args.dtype)
    s = fastsig.dense_forward(x, w)
    g = rng.standard_normal((n, m)).astype(args.dtype)
    dy = fastsig.sigmoid_backward(g, s)
    xt, wt = np.ascontiguousarray(x.T), np.ascontiguousarray(w.T)
    dw, dx = np.empty((k, m), args.dtype), np.empty((n, k), args.dtype)
    r = args.repeats
    whole = median_us(lambda: fastsig.dense_backward(g, x, w, s, num_threads=t), r)
    no_dx = median_us(lambda: fastsig.dense_backward(g, x, w, s, num_threads=t,
                                                     compute_dx=False), r)
    dw_alone = median_us(lambda: fastsig.matmul(xt, dy, out=dw, num_threads=t), r)
    dx_alone = median_us(lambda: fastsig.matmul(dy, wt, out=dx, num_threads=t), r)
    dy_alone = median_us(lambda: fastsig.sigmoid_backward(g, s, num_threads=t), r)
    np_dw = median_us(lambda: x.T @ dy, r)
    np_dx = median_us(lambda: dy @ w.T, r)
    torch_dw = ""
    try:
        import torch
    except ImportError:
        pass
    else:
        torch.set_num_threads(t)
        tx, tdy = torch.from_numpy(x), torch.from_numpy(dy)
        torch_dw = f"; torch mm(dyᵀ, x) {median_us(lambda: torch.mm(tdy.T, tx), r):.1f}"
    print(f"{args.dtype} {n}x{k} @ {k}x{m}, {t} thread(s), µs: dense_backward {whole:.1f}, "
          f"without dx {no_dx:.1f}; parts: dw {dw_alone:.1f} + dx {dx_alone:.1f} + dy "
          f"{dy_alone:.1f} = {dw_alone + dx_alone + dy_alone:.1f}; numpy x.T @ dy {np_dw:.1f},"
          f" dy @ w.T {np_dx:.1f}{torch_dw}")


if __name__ == "__main__":
    main()
