# Stubs for the kernels compiled for avx2: the same source as the baseline variant
# (_kernels/kernels.pxi), so the same interface. A star import in a stub re-exports every public
# name, and stubtest still checks each of them against this module at runtime.

from ._kernels_baseline import *
