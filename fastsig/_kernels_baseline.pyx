# fastsig's kernels compiled for the "baseline" instruction set (setup.py sets the
# compiler flags); the code, shared by every variant, is in _kernels/kernels.pxi.
include "_kernels/kernels.pxi"
