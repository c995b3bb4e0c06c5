"""fastsig: a dense layer with a logistic-sigmoid activation, forward and backward,
in compiled, OpenMP-threaded kernels with numpy's answers.

    Y = X W (+ b)     matmul            S = σ(Y)        sigmoid / dense_forward
    ∂L/∂Y = G ⊙ S ⊙ (1 − S)            sigmoid_backward
    ∂L/∂W = Xᵀ ∂L/∂Y,  ∂L/∂X = ∂L/∂Y Wᵀ,  ∂L/∂b = Σ_rows ∂L/∂Y   dense_backward
"""

import importlib.util as _util

if _util.find_spec(f"{__name__}._cpu") is None:  # a compiled module of every build
    import os as _os

    raise ImportError(
        "fastsig is being imported from its source tree "
        f"({_os.path.dirname(_os.path.abspath(__file__))}), which has no compiled kernels. "
        "Install it (`python -m pip install .`) and run Python from outside the source "
        "tree, or for development install it in place "
        "(`python -m pip install -e . --no-build-isolation`). The tests (`python -m "
        "pytest` in the source tree) always import the installed fastsig."
    )

from ._api import dense_backward, dense_forward, matmul, sigmoid, sigmoid_backward
from ._config import get_num_threads, set_num_threads, show_config
from ._version import __version__

del _util

__all__ = [
    "__version__",
    "dense_backward",
    "dense_forward",
    "get_num_threads",
    "matmul",
    "set_num_threads",
    "show_config",
    "sigmoid",
    "sigmoid_backward",
]
