"""fastsig: a dense layer with a logistic-sigmoid activation, forward and backward,
in compiled, OpenMP-threaded kernels with numpy's answers.

    Y = X W (+ b)     matmul            S = σ(Y)        sigmoid / dense_forward
    ∂L/∂Y = G ⊙ S ⊙ (1 − S)            sigmoid_backward
    ∂L/∂W = Xᵀ ∂L/∂Y,  ∂L/∂X = ∂L/∂Y Wᵀ,  ∂L/∂b = Σ_rows ∂L/∂Y   dense_backward
"""

from ._api import dense_backward, dense_forward, matmul, sigmoid, sigmoid_backward
from ._config import get_num_threads, set_num_threads, show_config
from ._version import __version__

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
