"""Which compiled variant of the kernels this process uses.

fastsig 0.1 builds one variant, ``baseline`` (the compiler's default target for
the platform, SSE2 on x86-64), so the choice is fixed. The per-CPU variants
(AVX2+FMA, AVX-512) slot in here: the CPU check must run in baseline-compiled
code, and an unsupported variant must never be imported.
``FASTSIG_ISA`` forces a variant; asking for one this build lacks is an error.
"""

import os

from . import _dense, _elementwise, _gemm

AVAILABLE = ("baseline",)


def _choose_isa() -> str:
    forced = os.environ.get("FASTSIG_ISA", "").strip().lower()
    if forced and forced not in AVAILABLE:
        raise ImportError(
            f"FASTSIG_ISA={forced!r} is not available in this build of fastsig; "
            f"choose one of {', '.join(AVAILABLE)}"
        )
    return forced or "baseline"


ISA = _choose_isa()

elementwise = _elementwise
gemm = _gemm
dense = _dense
