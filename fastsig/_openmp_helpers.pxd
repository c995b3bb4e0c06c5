# The OpenMP runtime as seen by the kernels, whether or not the build has OpenMP.
#
# setup.py compiles every extension with the compiler's OpenMP flag when a probe
# program links with it, and without it otherwise (or when FASTSIG_OPENMP=0).
# Without OpenMP, `_OPENMP` is undefined, Cython's prange is a plain serial loop,
# and the stubs below stand in for the runtime, so every kernel builds either way.

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FASTSIG_HAVE_OPENMP 1
    #else
    #define FASTSIG_HAVE_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    #endif
    """
    bint FASTSIG_HAVE_OPENMP
    int omp_get_max_threads() noexcept nogil
