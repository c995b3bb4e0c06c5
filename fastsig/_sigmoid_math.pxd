# One element of the sigmoid and of its backward, shared by every kernel.
#
# Header-only (`cdef inline`): every kernel module cimports these, so the
# arithmetic is written once and inlined into each loop.
#
# σ(y) needs only t = e^-|y| ∈ (0, 1]:  σ(y) = 1/(1+t) for y >= 0 and t/(1+t) for
# y < 0, so nothing overflows and tiny outputs keep their precision down to the
# subnormals. The exp is our own, branch-free, so that gcc vectorizes the loops
# that call it (libm's exp is a scalar call):
#   a = -|y| clamped to [-746, 0]    (e^-746 rounds to 0 in double)
#   a = n·ln2 + r, |r| <= ln2/2      n = rint(a·log2 e) by the 1.5·2^52 trick,
#                                    r by Cody-Waite with a two-part ln2
#   e^r = 1 + q, q = r + r²·P(r)     P of degree 9, fitted to (e^r - 1 - r)/r² on
#                                    [-ln2/2, ln2/2] by mpmath.chebyfit (error
#                                    < 2^-55 of e^r; the Taylor polynomial needs
#                                    degree 11 for as much, two more steps)
#   t = (s + s·q)·2^-64              s = 2^(n+64) built from exponent bits (a
#                                    normal double for every n), so that 2^n below
#                                    2^-1022 still works; the last product rounds
#                                    once, subnormals too.
# Special values need no branch: σ(+inf)=1, σ(-inf)=0, σ(NaN)=NaN (a NaN carries
# through q), σ(-0.0)=0.5. Both dtypes compute in double; a float32 result is
# rounded once from it.
#
# Accuracy, as distance in representable steps from the correctly rounded value
# (glibc's way of counting ULPs): float64 <= 2, float32 <= 1.
#
# Two accuracy modes (fastsig's `accuracy=`); they differ for float32 only:
# - "high", the default: float32 <= 1, float64 <= 2 (above); sigmoid_one.
# - "fast": float32 <= 2 where the kernels have FMA (max 2, every one of the 2^32
#   inputs checked), the "high" routine elsewhere; float64 the "high" routine, which
#   is already at 2. sigmoid_one_fast.
#
# float32 "high" has two paths, chosen when the kernels are compiled:
# - with FMA (the avx2 and avx512 variants): _sigmoid_float32, in float32 lanes
#   (twice as many per vector as double) with the roundings compensated, below;
# - without FMA (baseline x86-64, where fmaf is a slow library call):
#   _sigmoid_for_float32, the double path cut short: a double result good to
#   2^-27 is far inside half a float32 step.
# The build adds -fno-trapping-math: it changes no result, and lets gcc turn the
# selects below into vector blends.

from cython cimport floating
from libc.math cimport fabs, fabsf, fmaf
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy

cdef extern from *:
    # 1.5·2^52: adding it to |x| < 2^51 rounds x to an integer held in the low
    # mantissa bits.
    const double ROUND_SHIFT "6755399441055744.0"
    const uint64_t ROUND_SHIFT_BITS "0x4338000000000000ULL"
    # The same for float: 1.5·2^23 rounds |x| < 2^22 to an integer.
    const float ROUND_SHIFT_F "12582912.0f"
    const uint32_t ROUND_SHIFT_F_BITS "0x4B400000u"
    const float TWO_TO_64_F "0x1p64f"
    const float TWO_TO_MINUS_64_F "0x1p-64f"
    const double TWO_TO_MINUS_64 "0x1p-64"

# 1 where the compiler was told the CPU has FMA (-mfma): the float32 path needs
# fmaf as one exact instruction.
cdef extern from *:
    """
    #ifdef __FMA__
    #define FASTSIG_HAVE_FMA 1
    #else
    #define FASTSIG_HAVE_FMA 0
    #endif
    """
    const int FASTSIG_HAVE_FMA


cdef inline double _pow2(double n) noexcept nogil:
    """2**n for an integral double n in [-1022, 1023], from exponent bits."""
    cdef double d = n + ROUND_SHIFT
    cdef uint64_t bits
    memcpy(&bits, &d, 8)
    bits = (bits - ROUND_SHIFT_BITS + 1023) << 52
    memcpy(&d, &bits, 8)
    return d


cdef inline double _exp_nonpositive(double a) noexcept nogil:
    """e**a for a <= 0 (or NaN); 0 below -746, correctly scaled into the subnormals."""
    cdef double k, n, r, p, q, scaled
    cdef uint64_t bits
    a = -746.0 if a < -746.0 else a
    # k = n + 1.5·2^52: the rounding trick leaves the integer n in k's low bits.
    k = a * 1.4426950408889634 + ROUND_SHIFT
    n = k - ROUND_SHIFT
    r = (a - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10
    p = 2.5100375832561234e-08
    p = p * r + 2.7620075879983367e-07
    p = p * r + 2.7557268480310024e-06
    p = p * r + 2.4801521322368692e-05
    p = p * r + 0.00019841269863040545
    p = p * r + 0.0013888888917196719
    p = p * r + 0.008333333333330065
    p = p * r + 0.041666666666624164
    p = p * r + 0.16666666666666669
    p = p * r + 0.5000000000000001
    q = r + r * r * p
    # 2^n = 2^(n+64) · 2^-64: n >= -1077, so 2^(n+64) is a normal double, made
    # from k's bits (biased exponent n + 64 + 1023), and the product by it exact;
    # the constant 2^-64 is exact too unless t is subnormal, where it is the one
    # rounding.
    memcpy(&bits, &k, 8)
    bits = (bits - ROUND_SHIFT_BITS + (64 + 1023)) << 52
    memcpy(&scaled, &bits, 8)
    return (scaled + scaled * q) * TWO_TO_MINUS_64


cdef inline double sigmoid_double(double y) noexcept nogil:
    """σ(y) = 1 / (1 + e^-y) in double, without overflow, branch-free."""
    cdef double t = _exp_nonpositive(-fabs(y))
    cdef double numerator = 1.0 if y >= 0 else t
    return numerator / (1.0 + t)


cdef inline double _sigmoid_for_float32(double y) noexcept nogil:
    """σ(y) in double to 2^-27 relative: enough for a float32 result within 1 ULP.

    The same steps as sigmoid_double, cut to what float32 needs: a = -|y| stops
    at -150 (σ(-104) already rounds to 0 in float32), so 2^n is one normal
    double; ln2 in one part; the polynomial to degree 7 (error < 2^-27)."""
    cdef double a = -fabs(y), n, r, p, scale, t
    a = -150.0 if a < -150.0 else a
    n = (a * 1.4426950408889634 + ROUND_SHIFT) - ROUND_SHIFT
    r = a - n * 0.6931471805599453
    p = 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    scale = _pow2(n)
    t = scale + scale * (r + r * r * p)
    return (1.0 if y >= 0 else t) / (1.0 + t)


cdef struct ExpFloat32:
    float q         # e^r - 1
    float scaled    # 2^(n+64)


cdef inline ExpFloat32 _exp_minus_abs_float32(float y) noexcept nogil:
    """e^-|y| = 2^n (1 + q) in float32 arithmetic, as q and 2^(n+64) (both float32 σs).

    a = -|y| clamped at -104 (σ(-104) < 2^-150 rounds to 0); a = n·ln2 + r;
    e^r = 1 + q, q = r + r²·P(r), P a minimax fit of degree 4 (error < 2^-28).
    2^n is applied as 2^(n+64) · 2^-64 by the callers. n >= -150, so 2^(n+64) is a
    normal float made from the exponent bits of the rounding sum k, with no clamp."""
    cdef float a = -fabsf(y), k, n, r, p
    cdef uint32_t bits
    cdef ExpFloat32 e
    a = <float>-104.0 if a < <float>-104.0 else a      # a NaN stays NaN
    # k = n + 1.5·2^23: the rounding trick leaves the integer n in k's low bits.
    k = fmaf(a, <float>1.44269504, ROUND_SHIFT_F)
    n = k - ROUND_SHIFT_F
    # ln2 in two parts; n·LN2_HI is exact (15 bits × 8 bits), so is a - n·LN2_HI.
    r = fmaf(-n, <float>0.693145752, a)
    r = fmaf(-n, <float>1.42860677e-06, r)
    p = <float>0.0013814539415761828
    p = fmaf(p, r, <float>0.00836874544620514)
    p = fmaf(p, r, <float>0.04166838899254799)
    p = fmaf(p, r, <float>0.1666652113199234)
    p = fmaf(p, r, <float>0.4999999403953552)
    e.q = fmaf(r * r, p, r)
    # 2^(n+64): biased exponent n + 64 + 127 in [41, 191].
    memcpy(&bits, &k, 4)
    bits = (bits - ROUND_SHIFT_F_BITS + (64 + 127)) << 23
    memcpy(&e.scaled, &bits, 4)
    return e


cdef inline float _sigmoid_float32(float y) noexcept nogil:
    """σ(y) in float32 arithmetic, within 1 step of the correctly rounded value.

    Every rounding that could add up to more than one step is compensated; only
    the last operation rounds freely:
      t = e^-|y| = 2^n (1 + q) (_exp_minus_abs_float32), and d = 1 + t kept
      unrounded as dh + dl;
      1/(1+t) = q0 (1 + res) with q0 = 1/dh and res its residual, exact by FMA;
      y >= 0:  σ = 1/(1+t) = q0 + q0·res
      y < 0:   σ = t/(1+t) = 2^n (1+q)(1+res) q0 = 2^n (q0 + q0·c),
               c = q + res + q·res, never rounding t itself.
    The product by 2^(n+64) is exact, and the product by the constant 2^-64 is
    exact too unless σ is subnormal, where it is the one rounding. t is formed the
    same way, so it is 0 or subnormal, never garbage, far below 2^-126.
    Checked on all 2^32 inputs by tests/test_math.py (at most 1 step)."""
    cdef ExpFloat32 e = _exp_minus_abs_float32(y)
    cdef float q = e.q, scaled = e.scaled, t, dh, dl, q0, res, c, m
    t = fmaf(scaled, q, scaled) * TWO_TO_MINUS_64_F
    dh = <float>1.0 + t
    dl = t - (dh - <float>1.0)                          # exact: t <= 1
    q0 = <float>1.0 / dh
    res = fmaf(-q0, dh, <float>1.0)                     # exact
    res = fmaf(-q0, dl, res)
    c = fmaf(q, res, q + res)
    m = fmaf(q0, res if y >= 0 else c, q0)
    return (m * (TWO_TO_64_F if y >= 0 else scaled)) * TWO_TO_MINUS_64_F


cdef inline float _sigmoid_float32_fast(float y) noexcept nogil:
    """σ(y) in float32 arithmetic, uncompensated: within 2 steps of the correctly
    rounded value (checked on all 2^32 inputs by tests/test_math.py).

    1. t = e^-|y| = 2^n (1 + q) (_exp_minus_abs_float32), rounded once (t is then
       within 1 step of e^-|y|, subnormal or 0 below 2^-126, never flushed);
    2. σ = (1 if y >= 0 else t) / (1 + t): two more roundings, 1 + t and the
       quotient, and no compensation (about 20 vector instructions a vector
       against 34). Where σ is subnormal, 1 + t = 1 and σ = t, rounded once."""
    cdef ExpFloat32 e = _exp_minus_abs_float32(y)
    cdef float t = fmaf(e.scaled, e.q, e.scaled) * TWO_TO_MINUS_64_F
    return (<float>1.0 if y >= 0 else t) / (<float>1.0 + t)


cdef inline floating sigmoid_one(floating y) noexcept nogil:
    """σ(y), rounded once to the dtype of y."""
    if floating is float:
        if FASTSIG_HAVE_FMA:
            return _sigmoid_float32(y)
        return <float>_sigmoid_for_float32(<double>y)
    else:
        return sigmoid_double(y)


cdef inline floating sigmoid_backward_one(floating grad, floating s) noexcept nogil:
    """grad * s * (1 - s): the chain rule through σ, with σ'(y) = s (1 - s).

    Formed in double: float32 results are rounded once (within 1 ULP of the exact
    product); float64 rounds each of the three operations (within 2 ULP). float32 spans go
    through sigmoid_backward.h, which has this form in the baseline and avx2 variants and
    a float32 one, of exact products rounded once, in the avx512 variant (also within
    1 ULP)."""
    cdef double g = grad, sd = s
    return <floating>(g * sd * (1.0 - sd))


cdef inline floating sigmoid_one_fast(floating y) noexcept nogil:
    """σ(y) in the "fast" mode: the uncompensated float32 form where FMA is one
    instruction, sigmoid_one everywhere else."""
    if floating is float and FASTSIG_HAVE_FMA:
        return _sigmoid_float32_fast(y)
    return sigmoid_one(y)
