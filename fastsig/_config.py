"""Process-wide defaults (threads, accuracy) and show_config().

The process-wide thread count lives here: ``set_num_threads`` sets it,
``get_num_threads`` reads it back (or the OpenMP default), and _api.py resolves
each call's ``num_threads`` from it. The accuracy mode of the sigmoid likewise:
``set_accuracy`` / ``get_accuracy``, and each call's ``accuracy=None`` reads it. A child forked after fastsig ran threaded
runs every kernel on one thread: GNU OpenMP's thread pool does not survive a
fork, and entering it in the child hangs.
"""

import operator
import os
import platform
import sys

import numpy as np

from . import _dispatch, _openmp_helpers
from ._version import __version__

_user_threads = None        # set_num_threads' value, or None for the OpenMP default
_threads_used = False       # a kernel in this process has run on more than one thread
_forked_after_threads = False
# Callables that say whether compiled code started threads on its own (the kernels'
# native fast paths, which _api.py registers).
_thread_probes = []


def _check_thread_count(n, name="num_threads"):
    """n as a positive int; TypeError for non-integers, ValueError for n < 1."""
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"{name} must be a positive integer or None, got {n!r}")
    n = operator.index(n)
    if n < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {n}")
    return n


def set_num_threads(n):
    """Set the number of threads fastsig kernels use when ``num_threads=None``.

    Parameters
    ----------
    n : int or None
        A positive thread count, or None to go back to the OpenMP default
        (``omp_get_max_threads()``: ``OMP_NUM_THREADS`` and threadpoolctl apply).

    Raises
    ------
    TypeError
        If `n` is not an integer or None (a bool is refused too).
    ValueError
        If `n` is zero or negative.

    Examples
    --------
    >>> import fastsig
    >>> fastsig.set_num_threads(2)
    >>> fastsig.get_num_threads()
    2
    >>> fastsig.set_num_threads(None)
    """
    global _user_threads
    _user_threads = None if n is None else _check_thread_count(n, "n")


def get_num_threads():
    """The number of threads a call with ``num_threads=None`` may use.

    The value of `set_num_threads` if set, else ``omp_get_max_threads()``
    (which follows ``OMP_NUM_THREADS`` and threadpoolctl's limits); 1 without
    OpenMP and in a child forked after fastsig ran threaded. Calls on inputs too
    small to be worth threads run on one thread whatever this says.

    Returns
    -------
    int
        At least 1.

    Examples
    --------
    >>> import fastsig
    >>> fastsig.get_num_threads() >= 1
    True
    """
    if _forked_after_threads:
        return 1
    if _user_threads is not None:
        return _user_threads
    return _openmp_helpers.get_max_threads()


# The sigmoid's accuracy modes, and what each promises (the README's guarantees and the
# numpydoc of set_accuracy say the same): the largest distance, in representable steps,
# from the correctly rounded σ, per dtype.
ACCURACY_MODES = ("high", "fast")
ULP_BOUNDS = {"high": {"float32": 1, "float64": 2}, "fast": {"float32": 2, "float64": 2}}

_accuracy = "high"          # set_accuracy's value


def _check_accuracy(mode, name="accuracy"):
    """`mode` if it is one of ACCURACY_MODES; else a ValueError that names them."""
    if isinstance(mode, str) and mode in ACCURACY_MODES:
        return mode
    choices = " or ".join(repr(m) for m in ACCURACY_MODES)
    raise ValueError(f"{name} must be {choices}, got {mode!r}")


def set_accuracy(mode):
    """Set the sigmoid's accuracy mode for calls with ``accuracy=None``.

    The mode applies wherever σ is evaluated: `sigmoid`, `dense_forward` and
    their `fastsig.dask` wrappers. It is process-wide, like `set_num_threads`:
    every thread sees the last value set. A dask graph records the mode in
    force when it is built, so its workers compute in that mode.

    Parameters
    ----------
    mode : {'high', 'fast'} or None
        ``'high'`` (the default; None restores it): float32 results within
        1 ULP of the correctly rounded sigmoid, float64 within 2 ULP.
        ``'fast'``: float32 within 2 ULP, in fewer instructions where the CPU
        has FMA (the avx2 and avx512 kernels; elsewhere it computes as
        ``'high'``); float64 is the same routine in both modes. Both modes
        give σ(+inf) = 1, σ(-inf) = 0, NaN for NaN, subnormal outputs (not
        flushed to zero), no warnings, and the same bits for any thread count.

    Raises
    ------
    ValueError
        If `mode` is not ``'high'``, ``'fast'`` or None.

    Examples
    --------
    >>> import fastsig
    >>> fastsig.set_accuracy("fast")
    >>> fastsig.get_accuracy()
    'fast'
    >>> fastsig.set_accuracy(None)
    >>> fastsig.get_accuracy()
    'high'
    """
    global _accuracy
    _accuracy = "high" if mode is None else _check_accuracy(mode, "mode")


def get_accuracy():
    """The sigmoid's accuracy mode for calls with ``accuracy=None``.

    Returns
    -------
    str
        ``'high'`` (the default) or ``'fast'``; see `set_accuracy`.

    Examples
    --------
    >>> import fastsig
    >>> fastsig.get_accuracy()
    'high'
    """
    return _accuracy


def _after_fork_in_child():
    global _forked_after_threads
    if _threads_used or any(probe() for probe in _thread_probes):
        _forked_after_threads = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _build_record():
    """What setup.py recorded of the compiler and its flags."""
    try:
        from . import _build_info
    except ImportError:  # a build that bypassed setup.py's BuildExt
        return {"compiler": "unknown", "compile_args": [], "link_args": []}
    return {"compiler": _build_info.COMPILER, "compile_args": list(_build_info.COMPILE_ARGS),
            "link_args": list(_build_info.LINK_ARGS)}


def _config_dict():
    info = {
        "version": __version__,
        "location": os.path.dirname(os.path.abspath(__file__)),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": platform.platform(),
        "machine": platform.machine(),
        **_build_record(),
        "openmp": _openmp_helpers.openmp_enabled(),
        "isa": _dispatch.ISA,
        "isa_available": list(_dispatch.AVAILABLE),
        "num_threads": get_num_threads(),
        "cpu_count": os.cpu_count(),
        "accuracy": get_accuracy(),
        "blocking": _dispatch.kernels.blocking(),
    }
    return info


def _blocking_line(blocking):
    sizes = ", ".join(f"{name} {blocking[name]['float32']}/{blocking[name]['float64']}"
                      for name in ("kc", "nc", "mc"))
    return f"{sizes} (float32/float64; {blocking['source']})"


def show_config():
    """Print and return how this fastsig was built and how it runs here.

    Returns
    -------
    dict
        ``version``, ``location`` (the directory fastsig was imported from),
        ``python``, ``numpy``, ``platform``, ``machine``,
        ``compiler``, ``compile_args``, ``link_args``, ``openmp`` (bool: built
        with OpenMP), ``isa`` (the kernel variant in use), ``isa_available``,
        ``num_threads`` (what ``num_threads=None`` may use), ``cpu_count`` and
        ``accuracy`` (the sigmoid's mode for ``accuracy=None``, see
        `set_accuracy`) and ``blocking`` (the matmul's cache blocking: ``kc``, ``nc``
        and ``mc``, each ``{"float32": int, "float64": int}``, ``source``, the
        L2 size they follow or ``FASTSIG_BLOCKING``, and ``l2_bytes``, one core's L2,
        which they and the thresholds for threads follow; see README's "Determinism").

    Examples
    --------
    >>> import fastsig
    >>> config = fastsig.show_config()  # doctest: +ELLIPSIS
    version ...
    >>> config["isa"] in config["isa_available"], config["num_threads"] >= 1
    (True, True)
    """
    info = _config_dict()
    width = max(len(key) for key in info)
    for key, value in info.items():
        if isinstance(value, list):
            value = " ".join(str(v) for v in value) or "-"
        elif key == "blocking":
            value = _blocking_line(value)
        print(f"{key:<{width}}  {value}")
    return info
