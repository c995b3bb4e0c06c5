# What the CPU (and the OS, which must save the wider registers) supports.
#
# Compiled with the baseline flags only, like every module that runs before a
# kernel variant is chosen: a module built for AVX-512 may execute AVX-512
# instructions in its own import code, so the question is asked from here and an
# unsupported variant is never imported. gcc and clang answer through
# __builtin_cpu_supports, which checks the OS support (XGETBV) too; elsewhere
# only the baseline variant is built, and nothing more is claimed.

cdef extern from *:
    """
    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    static int fastsig_cpu_has_avx2_fma(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    static int fastsig_cpu_has_avx512(void) {
        __builtin_cpu_init();
        return fastsig_cpu_has_avx2_fma()
            && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    }
    #else
    static int fastsig_cpu_has_avx2_fma(void) { return 0; }
    static int fastsig_cpu_has_avx512(void) { return 0; }
    #endif
    """
    int fastsig_cpu_has_avx2_fma() noexcept nogil
    int fastsig_cpu_has_avx512() noexcept nogil


def supported_isas():
    """The kernel variants this CPU can run, from the least to the most capable."""
    isas = ["baseline"]
    if fastsig_cpu_has_avx2_fma():
        isas.append("avx2")
    if fastsig_cpu_has_avx512():
        isas.append("avx512")
    return tuple(isas)
