"""fastsig: a dense layer with a logistic-sigmoid activation, forward and backward,
in compiled, OpenMP-threaded kernels with numpy's answers.

    Y = X W (+ b)     matmul            S = σ(Y)        sigmoid / dense_forward
    ∂L/∂Y = G ⊙ S ⊙ (1 − S)            sigmoid_backward
    ∂L/∂W = Xᵀ ∂L/∂Y,  ∂L/∂X = ∂L/∂Y Wᵀ,  ∂L/∂b = Σ_rows ∂L/∂Y   dense_backward
"""

import importlib.util as _util

# Compiled modules of every build (a tree built in place before _public existed lacks it).
if any(_util.find_spec(f"{__name__}.{name}") is None for name in ("_cpu", "_public")):
    # The source tree, not built: an ImportError, or for `python -m fastsig` the installed
    # fastsig instead (see _source_tree.py).
    from ._source_tree import refuse_or_hand_over as _refuse_or_hand_over

    _refuse_or_hand_over(__name__, __path__[0])
else:
    from ._public import dense_backward, dense_forward, matmul, sigmoid, sigmoid_backward
    from ._config import (get_accuracy, get_num_threads, set_accuracy, set_num_threads,
                          show_config)
    from ._version import __version__

del _util

__all__ = [
    "__version__",
    "dense_backward",
    "dense_forward",
    "get_accuracy",
    "get_num_threads",
    "matmul",
    "set_accuracy",
    "set_num_threads",
    "show_config",
    "sigmoid",
    "sigmoid_backward",
]
