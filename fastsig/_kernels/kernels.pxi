# All of fastsig's compute kernels, compiled once per instruction set.
#
# _kernels_baseline.pyx, _kernels_avx2.pyx and _kernels_avx512.pyx each include this
# file; setup.py compiles them with the baseline flags, with -mavx2 -mfma and with
# AVX-512, and _dispatch.py imports the best one the CPU runs. The source is one; what
# differs per variant is the compiler's code generation and the tiles' constants, which
# isa.h picks from the macros the compiler predefines for the target.
#
# Design, for every kernel:
# - the Python layer (_api.py) has checked dtypes, shapes, out= and the thread count
#   and converted the inputs; the def functions here re-check only the shapes that
#   memory safety depends on, allocate scratch with the GIL held (raising MemoryError),
#   then release the GIL;
# - float32 and float64 share one source through Cython's fused `floating`; inputs are
#   `const` memoryviews, so read-only arrays work;
# - with more than one thread, work is cut into tasks that prange hands out statically;
#   with one thread the same tasks run in a plain loop that never enters OpenMP, which
#   keeps a child forked after threaded work safe;
# - every sum runs in an order fixed by the shapes alone, never by the threads, so
#   results are bitwise identical for any thread count.
#
# The rooms, in the order they are included (each file opens with what it provides
# and what it uses; C lives in the .h files beside them, behind `cdef extern from`):
#   isa.h, scratch.h        the per-ISA constants; scratch memory
#   elementwise.pxi         sigmoid and sigmoid_backward over flat buffers (C:
#                           sigmoid_backward.h, fetch.h)
#   plan.pxi                which kernel, how many tasks and threads, for a shape
#   packing.pxi             B into panels, A into panels
#   tiles.pxi               the micro-kernels: register, transposed and vector tiles
#                           (C: register_tile.h, vector_tile.h; Cython where C lacks
#                           vector extensions), the few-rows kernel (C: few_rows.h),
#                           dot products for one to four columns (C: column_dots.h)
#   gemm.pxi                the matmul's loops and tasks, with the fused epilogue
#   layer.pxi               dense_forward and dense_backward (C: column_sums.h,
#                           dw_rows.h)
#   native.pxi              the native fast paths (the contract checked in C)
#   probe.pxi               the FMA peak probe (C: fma_peak.h)

from cpython.pyport cimport PY_SSIZE_T_MAX
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.stdint cimport uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from ._sigmoid_math cimport sigmoid_backward_one, sigmoid_one, sigmoid_one_fast

cdef extern from "_kernels/isa.h":
    const char* COMPILED_ISA "FASTSIG_COMPILED_ISA"
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
        VECTOR_TILE "FASTSIG_VECTOR_TILE"
        HALF_TILE "FASTSIG_HALF_TILE"
        MRVH_F32 "FASTSIG_MRVH_F32"
        MRV1_F32 "FASTSIG_MRV1_F32"
        MRV2_F32 "FASTSIG_MRV2_F32"
        MRVH_F64 "FASTSIG_MRVH_F64"
        MRV1_F64 "FASTSIG_MRV1_F64"
        MRV2_F64 "FASTSIG_MRV2_F64"
        MRV1H_F32 "FASTSIG_MRV1H_F32"
        MRV1H_F64 "FASTSIG_MRV1H_F64"
        LANES_F32 "FASTSIG_LANES_F32"
        LANES_F64 "FASTSIG_LANES_F64"

cdef extern from "_kernels/scratch.h":
    # Called with the GIL held (scratch.h, 3): no nogil here, so Cython enforces it.
    void* scratch_take "fastsig_scratch_take"(size_t bytes, size_t* size)
    void scratch_give "fastsig_scratch_give"(void* buffer, size_t size)


def compiled_isa():
    """The instruction set this variant was compiled for."""
    return COMPILED_ISA.decode()


include "elementwise.pxi"
include "plan.pxi"
include "packing.pxi"
include "tiles.pxi"
include "gemm.pxi"
include "layer.pxi"
include "native.pxi"
include "probe.pxi"

# The blocking is set here, as the module is imported, before any of its functions can run.
from . import _blocking
_set_blocking(_blocking.choose())
