# Python-visible facts about the OpenMP runtime this build links (see the .pxd).

def openmp_enabled():
    """True when fastsig was compiled with OpenMP (its kernels can run threaded)."""
    return bool(FASTSIG_HAVE_OPENMP)


def get_max_threads():
    """omp_get_max_threads() for the calling thread: OMP_NUM_THREADS and
    threadpoolctl's limits apply; 1 when the build has no OpenMP."""
    return omp_get_max_threads()

