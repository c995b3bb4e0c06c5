"""Train a sigmoid layer with fastsig.dask: logistic regression on several outputs.

The data, 10**7 rows by default, is a dask array generated on the fly from seeded random
generators: no row is stored, each mini-batch's chunks are generated when a step needs them (the
same values every epoch), so the data can be far larger than memory. Each step of mini-batch
gradient descent runs the forward and the backward of the layer over the batch's chunks in
parallel, sums dw and db over the chunks, and updates w and b here, in this process.

    python examples/train_dask.py                               # dask's threaded scheduler
    python examples/train_dask.py --rows 1000000 --epochs 3     # smaller, longer
    python examples/train_dask.py --scheduler tcp://HOST:8786   # a dask.distributed cluster

On a cluster every worker needs fastsig (pip install fastsig[dask]).

The labels come from a known model, y ~ Bernoulli(sigmoid(x @ w_true + b_true)), so the loss
the training should approach is the loss of (w_true, b_true); it is printed at the start.
"""

import argparse
import math
import time

import dask
import dask.array as da
import numpy as np
from dask.diagnostics import ProgressBar

import fastsig
import fastsig.dask as fsd

DTYPE = np.float32


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10**7, help="rows of data per epoch")
    parser.add_argument("--features", type=int, default=32, help="inputs per row (k)")
    parser.add_argument("--outputs", type=int, default=8, help="sigmoid outputs per row (m)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--chunk-rows", type=int, default=250_000,
                        help="rows per dask chunk: one task each")
    parser.add_argument("--batch-rows", type=int, default=2_000_000,
                        help="rows per mini-batch, a multiple of --chunk-rows")
    parser.add_argument("--learning-rate", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="a dask.distributed scheduler (tcp://HOST:8786); "
                             "without it, dask's threaded scheduler on this machine")
    args = parser.parse_args(argv)
    if args.batch_rows % args.chunk_rows:
        # a batch that ends inside a chunk would generate the whole chunk for part of it
        parser.error("--batch-rows must be a multiple of --chunk-rows")
    return args


def true_model(features, outputs, seed):
    """The weights and bias the labels are drawn from."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 2.0 / math.sqrt(features), (features, outputs)).astype(DTYPE)
    b = rng.normal(0.0, 0.5, outputs).astype(DTYPE)
    return w, b


def make_data(rows, features, chunk_rows, w_true, b_true, seed):
    """Lazy inputs x (rows, features) and 0/1 labels y (rows, outputs), chunked by rows."""
    rng = da.random.default_rng(seed)
    x = rng.standard_normal((rows, features), chunks=(chunk_rows, features), dtype=DTYPE)
    p = fsd.dense_forward(x, w_true, b_true)
    y = (rng.random(p.shape, chunks=p.chunks, dtype=DTYPE) < p).astype(DTYPE)
    return x, y


def mini_batches(x, y, batch_rows):
    for start in range(0, x.shape[0], batch_rows):
        yield x[start:start + batch_rows], y[start:start + batch_rows]


def log_loss(s, y):
    """Lazy mean over rows of the log-loss summed over the outputs."""
    eps = np.finfo(DTYPE).eps
    s = da.clip(s, eps, 1 - eps)  # log(0) would be -inf for a saturated output
    per_entry = -(y * da.log(s) + (1 - y) * da.log1p(-s))
    return per_entry.sum(dtype=np.float64) / s.shape[0]


def log_loss_grad(s, y):
    """Lazy dL/ds of log_loss: (s - y) / (s (1 - s)) / rows.

    fastsig's backward takes dL/ds and multiplies it by s (1 - s) again. The floor on the
    denominator only matters where s is exactly 0 or 1, and there the product is 0.
    """
    denominator = da.maximum(s * (1 - s), np.finfo(DTYPE).tiny)
    return (s - y) / denominator / DTYPE(s.shape[0])


def train_step(x, y, w, b, learning_rate, compute):
    """One step of gradient descent on the batch (x, y): (the batch's loss, new w, new b)."""
    s = fsd.dense_forward(x, w, b)
    _, dw, db = fsd.dense_backward(log_loss_grad(s, y), x, w, s, compute_dx=False)
    loss, dw, db = compute(log_loss(s, y), dw, db)
    return loss, w - DTYPE(learning_rate) * dw, b - DTYPE(learning_rate) * db


def local_compute(*arrays):
    """Compute on dask's threaded scheduler, with a progress bar."""
    with ProgressBar():
        return dask.compute(*arrays)


def cluster_compute(address):
    """(compute function, description) for the dask.distributed cluster at `address`."""
    import distributed  # only a cluster needs it

    client = distributed.Client(address)

    def compute(*arrays):
        futures = client.compute(list(arrays))
        distributed.progress(futures)
        return client.gather(futures)

    threads = client.nthreads()
    return compute, (f"cluster {address}: {len(threads)} workers, "
                     f"{sum(threads.values())} threads")


def true_model_loss(x, y, w_true, b_true, batch_rows, compute):
    """The loss of the true model on the first mini-batch: about what training can reach."""
    x_batch, y_batch = next(mini_batches(x, y, batch_rows))
    (loss,) = compute(log_loss(fsd.dense_forward(x_batch, w_true, b_true), y_batch))
    return loss


def run_epoch(epoch, x, y, w, b, args, compute):
    """One pass of mini-batch gradient descent over the data; returns the new w and b."""
    batches = math.ceil(args.rows / args.batch_rows)
    start = time.perf_counter()
    for batch, (x_batch, y_batch) in enumerate(mini_batches(x, y, args.batch_rows), 1):
        loss, w, b = train_step(x_batch, y_batch, w, b, args.learning_rate, compute)
        print(f"epoch {epoch}/{args.epochs}  batch {batch}/{batches}  loss {loss:.4f}")
    print(f"epoch {epoch}: {args.rows / (time.perf_counter() - start):,.0f} rows/s")
    return w, b


def train(args, compute):
    w_true, b_true = true_model(args.features, args.outputs, args.seed)
    x, y = make_data(args.rows, args.features, args.chunk_rows, w_true, b_true, args.seed)
    target = true_model_loss(x, y, w_true, b_true, args.batch_rows, compute)
    print(f"loss at w = 0: {args.outputs * math.log(2):.4f}; "
          f"loss of the true model: about {target:.4f}")

    w = np.zeros((args.features, args.outputs), DTYPE)
    b = np.zeros(args.outputs, DTYPE)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        w, b = run_epoch(epoch, x, y, w, b, args, compute)
    elapsed = time.perf_counter() - start
    print(f"trained on {args.epochs * args.rows:,} rows in {elapsed:.1f} s: "
          f"{args.epochs * args.rows / elapsed:,.0f} rows/s, data generation included")
    print(f"largest |w - w_true| = {np.abs(w - w_true).max():.3f}")


def main(argv=None):
    args = parse_args(argv)
    if args.scheduler:
        compute, where = cluster_compute(args.scheduler)
    else:
        compute, where = local_compute, "dask's threaded scheduler on this machine"
    print(f"fastsig {fastsig.__version__}; {where}")
    print(f"{args.rows:,} rows x {args.features} features -> {args.outputs} outputs, "
          f"chunks of {args.chunk_rows:,} rows, mini-batches of {args.batch_rows:,} rows, "
          f"learning rate {args.learning_rate}")
    train(args, compute)


if __name__ == "__main__":
    main()
