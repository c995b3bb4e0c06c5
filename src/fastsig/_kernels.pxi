# All of fastsig's compute kernels, compiled once per instruction set.
#
# _kernels_baseline.pyx, _kernels_avx2.pyx and _kernels_avx512.pyx each include
# this file; setup.py compiles them with the baseline flags, with -mavx2 -mfma,
# and with AVX-512, and _dispatch.py imports the best one the CPU supports. The
# source is one; what differs per variant is the compiler's code generation and
# the register tile of the matmul, which the C preprocessor picks below from the
# macros the compiler predefines for the target (__AVX512F__, __AVX2__, __FMA__).
#
# Design, for every kernel:
# - the Python layer (_api.py) has checked dtypes, shapes, out= and the thread
#   count and converted the inputs; the def wrappers here only re-check the
#   shapes that memory safety depends on, allocate scratch with the GIL held
#   (raising MemoryError), then release the GIL;
# - float32 and float64 share one source through Cython's fused `floating`;
#   inputs are `const` memoryviews, so read-only arrays work;
# - with more than one thread, work is cut into tasks that prange hands out
#   statically; with one thread the same tasks run in a plain loop that never
#   enters OpenMP, which keeps a child forked after threaded work safe;
# - every sum runs in an order fixed by the shapes alone, never by the threads,
#   so results are bitwise identical for any thread count.

from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.stdint cimport uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from ._sigmoid_math cimport sigmoid_backward_one, sigmoid_one

cdef extern from *:
    """
    #if defined(__AVX512F__)
    #define FASTSIG_COMPILED_ISA "avx512"
    #define FASTSIG_MR_F64 6
    #define FASTSIG_NR_F64 32
    #define FASTSIG_MR_F32 12
    #define FASTSIG_NR_F32 32
    #define FASTSIG_MRT_F64 24
    #define FASTSIG_NRT_F64 8
    #define FASTSIG_MRT_F32 32
    #define FASTSIG_NRT_F32 8
    #define FASTSIG_A_IN_PLACE_F64 1
    #define FASTSIG_A_IN_PLACE_F32 1
    #elif defined(__AVX2__) && defined(__FMA__)
    #define FASTSIG_COMPILED_ISA "avx2"
    #define FASTSIG_MR_F64 4
    #define FASTSIG_NR_F64 8
    #define FASTSIG_MR_F32 4
    #define FASTSIG_NR_F32 24
    #define FASTSIG_MRT_F64 8
    #define FASTSIG_NRT_F64 4
    #define FASTSIG_MRT_F32 24
    #define FASTSIG_NRT_F32 4
    #define FASTSIG_A_IN_PLACE_F64 0
    #define FASTSIG_A_IN_PLACE_F32 1
    #else
    #define FASTSIG_COMPILED_ISA "baseline"
    #define FASTSIG_MR_F64 4
    #define FASTSIG_NR_F64 4
    #define FASTSIG_MR_F32 4
    #define FASTSIG_NR_F32 8
    #define FASTSIG_MRT_F64 4
    #define FASTSIG_NRT_F64 4
    #define FASTSIG_MRT_F32 8
    #define FASTSIG_NRT_F32 4
    #define FASTSIG_A_IN_PLACE_F64 0
    #define FASTSIG_A_IN_PLACE_F32 0
    #endif
    /* Scratch memory (packed operands, partial sums), freed with free(). Buffers of
       4 MB and more are aligned to 2 MB and advised to transparent huge pages on
       Linux (a hint, ignored where THP is off): a packed 2048 × 2048 float64 B is
       32 MB, more than the 4 KB pages the second-level TLB covers (12 MB on Zen 4),
       and every task streams all of it. numpy asks the same for its arrays. */
    #include <stdlib.h>
    #if defined(__linux__)
    #include <sys/mman.h>
    #endif
    static void* fastsig_malloc(size_t bytes) {
    #if defined(__linux__) && defined(MADV_HUGEPAGE)
        if (bytes >= ((size_t)4 << 20)) {
            void* p = NULL;
            if (posix_memalign(&p, (size_t)2 << 20, bytes) != 0)
                return NULL;
            madvise(p, bytes, MADV_HUGEPAGE);
            return p;
        }
    #endif
        return malloc(bytes);
    }
    """
    # The register tile of the matmul micro-kernel, MR rows × NR columns of
    # accumulators, vectors along the columns; and the transposed tile of the
    # narrow kernel, MRT rows × NRT columns, vectors along the rows (for a B
    # narrower than NR). Chosen by measurement on gcc 12 (AMD Zen 4): these shapes
    # keep the whole tile in vector registers; others spill and run 5-20× slower
    # (e.g. MR×NR = 16×16 float32: 12 GF/s against 12×32: 114; MRT×NRT = 16×8
    # float64: 5.5 GF/s against 24×8: 31 at a depth of 16). Among the shapes that
    # fit, NR = 32 on AVX-512 (float32 12×32 and float64 6×32, as fast as 8×48 and
    # 8×24) divides the layer widths people use (32, 64, 256, ...) without a
    # ragged last panel. A_IN_PLACE: whether the register tile keeps its registers
    # when it reads A where it lies, through a runtime row stride (measured: yes on
    # AVX-512, and on AVX2 for float32; the others spill).
    const char* COMPILED_ISA "FASTSIG_COMPILED_ISA"
    void* scratch_malloc "fastsig_malloc"(size_t bytes) nogil
    enum:
        MR_F64 "FASTSIG_MR_F64"
        NR_F64 "FASTSIG_NR_F64"
        MR_F32 "FASTSIG_MR_F32"
        NR_F32 "FASTSIG_NR_F32"
        MRT_F64 "FASTSIG_MRT_F64"
        NRT_F64 "FASTSIG_NRT_F64"
        MRT_F32 "FASTSIG_MRT_F32"
        NRT_F32 "FASTSIG_NRT_F32"
        A_IN_PLACE_F64 "FASTSIG_A_IN_PLACE_F64"
        A_IN_PLACE_F32 "FASTSIG_A_IN_PLACE_F32"


def compiled_isa():
    """The instruction set this variant was compiled for."""
    return COMPILED_ISA.decode()


include "_elementwise.pxi"
include "_gemm.pxi"
include "_dense.pxi"
include "_small.pxi"
