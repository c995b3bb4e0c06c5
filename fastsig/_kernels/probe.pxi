# The FMA peak probe: what one core of this CPU can do with this variant's instructions.
#
# Provides: def fma_probe (run by fastsig._peak, which times it).
# Uses: fma_peak.h (C: the loop and how it is kept honest).

cdef extern from "_kernels/fma_peak.h":
    double _fma_probe_f32 "fastsig_fma_probe_F32"(long long iterations) noexcept nogil
    double _fma_probe_f64 "fastsig_fma_probe_F64"(long long iterations) noexcept nogil
    enum:
        PROBE_CHAINS "FASTSIG_PROBE_CHAINS"


def fma_probe(dtype, long long iterations):
    """Run `iterations` steps of this variant's independent multiply-add chains in `dtype`
    (float32 or float64) on the calling thread, without the GIL; return the floating-point
    operations done (a multiply-add counts two), for the caller to divide by the time."""
    import numpy as np
    cdef double flops
    dt = np.dtype(dtype)
    if iterations < 1:
        raise ValueError(f"fma_probe: iterations must be >= 1, got {iterations}")
    if dt == np.float32:
        with nogil:
            flops = _fma_probe_f32(iterations)
    elif dt == np.float64:
        with nogil:
            flops = _fma_probe_f64(iterations)
    else:
        raise TypeError(f"fma_probe: dtype must be float32 or float64, got {dt}")
    return abs(flops)
