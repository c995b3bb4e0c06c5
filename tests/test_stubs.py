"""The type stubs (.pyi) of the installed fastsig: right, and usable.

stubtest compares every stub with the module it describes, as installed; mypy --strict then
type-checks a user's code against them. By hand, from an empty directory (so that mypy sees the
installed package rather than a source tree):

    python -m mypy.stubtest fastsig --mypy-config-file <repo>/tests/stubtest_mypy.ini \\
        --allowlist <repo>/tests/stubtest_allowlist.txt

(on a machine that lacks a kernel variant or dask, the test below also allowlists those modules).
"""

import importlib
import inspect
import re
from pathlib import Path

import pytest

from fastsig import _dispatch

TESTS = Path(__file__).resolve().parent

# stubtest imports every module of the package. Importing a kernel variant compiled for
# instructions this CPU lacks may crash the interpreter (see _cpu.pyx), so such modules are set
# to None in sys.modules first, which turns their import into an ImportError that stubtest
# reports as an ordinary error (allowlisted by the test).
STUBTEST = """
import sys

from mypy.stubtest import main

for name in filter(None, sys.argv.pop(1).split(",")):
    sys.modules[name] = None
sys.exit(main())
"""


def _dask_installed():
    try:
        import dask.array  # noqa: F401
    except ImportError:
        return False
    return True


def _unimportable_modules():
    """fastsig's modules that this installation cannot or must not import."""
    names = [f"fastsig._kernels_{isa}" for isa in _dispatch.ORDER
             if isa not in _dispatch.AVAILABLE]  # not built, or not runnable on this CPU
    if not _dask_installed():
        names.append("fastsig.dask")  # an optional extra
    return names


def test_stubtest(tmp_path, helpers):
    pytest.importorskip("mypy")
    unimportable = _unimportable_modules()
    machine_allowlist = tmp_path / "unimportable_here.txt"
    machine_allowlist.write_text("".join(re.escape(name) + "\n" for name in unimportable))
    # In an empty directory, with the package this process imports first on the path.
    args = ["-c", STUBTEST, ",".join(unimportable), "fastsig",
            "--mypy-config-file", str(TESTS / "stubtest_mypy.ini"),
            "--allowlist", str(TESTS / "stubtest_allowlist.txt"),
            "--allowlist", str(machine_allowlist)]
    result = helpers.run_python(args, tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kernel_variants_share_the_baseline_interface():
    # The avx2 and avx512 stubs re-export the baseline's, and stubtest checks re-exported names
    # against the module that defines them only. The variants are one source, so each must
    # have the baseline's functions with the baseline's signatures; checked here for those
    # this CPU can import.
    def interface(module):
        return {name: inspect.signature(obj) for name, obj in vars(module).items()
                if callable(obj) and not name.startswith("_")}

    baseline = interface(importlib.import_module("fastsig._kernels_baseline"))
    for isa in _dispatch.AVAILABLE:
        assert interface(importlib.import_module(f"fastsig._kernels_{isa}")) == baseline, isa


# Code a user might write. Each assert_type must hold; each misuse marked `type: ignore` must be
# an error, since --strict (--warn-unused-ignores) reports an ignore that silences nothing.
USER_CODE = """
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from typing_extensions import assert_type

import fastsig

Float = NDArray[np.floating[Any]]


def layer(x: NDArray[np.float32], w: NDArray[np.float32], flag: bool) -> None:
    s = fastsig.dense_forward(x, w, [0.0, 1.0], num_threads=2)
    assert_type(s, Float)
    assert_type(fastsig.matmul(x, w, out=np.empty((4, 2), np.float32)), Float)
    assert_type(fastsig.sigmoid([[0.5, 1.0]]), Float)
    assert_type(fastsig.sigmoid(s, out=s, num_threads=np.int64(1)), Float)
    assert_type(fastsig.sigmoid_backward(s, s, num_threads=None), Float)
    assert_type(fastsig.sigmoid(s, accuracy="fast"), Float)
    assert_type(fastsig.dense_forward(x, w, accuracy=None), Float)

    dx, dw, db = fastsig.dense_backward(s, x, w, s)
    assert_type(dx, Float)  # compute_dx is True by default: no None to rule out
    no_dx, dw, db = fastsig.dense_backward(s, x, w, s, compute_dx=False, out=(None, dw, db))
    assert_type(no_dx, None)
    maybe_dx, dw, db = fastsig.dense_backward(s, x, w, s, compute_dx=flag)
    assert_type(maybe_dx, Float | None)

    fastsig.set_num_threads(2)
    fastsig.set_num_threads(None)
    assert_type(fastsig.get_num_threads(), int)
    fastsig.set_accuracy("fast")
    fastsig.set_accuracy(None)
    assert_type(fastsig.get_accuracy(), Literal["high", "fast"])
    assert_type(fastsig.show_config(), dict[str, Any])
    assert_type(fastsig.__version__, str)

    fastsig.sigmoid(s, s)  # type: ignore[call-arg]
    fastsig.sigmoid(s, num_threads="2")  # type: ignore[arg-type]
    fastsig.matmul(x, w, out=[0.0])  # type: ignore[arg-type]
    fastsig.sigmoid(s, accuracy="low")  # type: ignore[arg-type]
    fastsig.set_accuracy("low")  # type: ignore[arg-type]
"""

# fastsig.dask, where dask is installed. Its arrays come in as parameters: dask's own
# functions are not all typed, and --strict refuses calls to untyped functions.
USER_CODE_DASK = """
import dask.array as da

import fastsig.dask as fsd


def dask_layer(x: da.Array, w: NDArray[np.float32], g: da.Array, flag: bool) -> None:
    s = fsd.dense_forward(x, w)
    assert_type(s, da.Array)
    assert_type(fsd.sigmoid(x, num_threads=None), da.Array)
    assert_type(fsd.sigmoid(x, accuracy="fast"), da.Array)
    assert_type(fsd.dense_forward(x, w, accuracy="high"), da.Array)
    assert_type(fsd.sigmoid_backward(g, s), da.Array)
    no_dx, dw, db = fsd.dense_backward(g, x, w, s, compute_dx=False, split_every=4)
    assert_type(no_dx, None)
    assert_type(dw, da.Array)
    dx, dw, db = fsd.dense_backward(g, x, w, s)
    assert_type(dx, da.Array)
    maybe_dx, dw, db = fsd.dense_backward(g, x, w, s, compute_dx=flag)
    assert_type(maybe_dx, da.Array | None)
    fsd.sigmoid(x, 1)  # type: ignore[call-arg]
"""


def test_user_code_passes_mypy_strict(tmp_path, helpers):
    pytest.importorskip("mypy")
    code = USER_CODE
    if _dask_installed():
        code += USER_CODE_DASK
    user_code = tmp_path / "user_code.py"
    user_code.write_text(code)
    result = helpers.run_python(["-m", "mypy", "--strict", "--no-incremental", str(user_code)],
                                tmp_path, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
