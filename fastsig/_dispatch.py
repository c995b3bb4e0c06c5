"""Which compiled variant of the kernels this process uses.

setup.py compiles the kernels (_kernels/kernels.pxi) once per instruction set:
``baseline`` everywhere, plus ``avx2`` (AVX2 + FMA) and ``avx512`` (AVX-512
F/DQ/BW/VL) on x86-64 with gcc or clang. At import the best variant that was
built and that the CPU supports is chosen; the CPU is asked by _cpu, which is
compiled for the baseline, so an unsupported variant is never imported.

``FASTSIG_ISA=baseline|avx2|avx512`` forces a variant; one that this build lacks
or this CPU cannot run is an ImportError that says which are possible.
Results are bitwise reproducible within a variant; across variants they differ
in the last bits (FMA rounds once where baseline rounds twice, and the matmul
tiles differ).
"""

import importlib
import importlib.util
import os

from . import _cpu

ORDER = ("baseline", "avx2", "avx512")


def _built_variants():
    built = []
    for isa in ORDER:
        if importlib.util.find_spec(f"{__package__}._kernels_{isa}") is not None:
            built.append(isa)
    return tuple(built)


BUILT = _built_variants()
SUPPORTED = _cpu.supported_isas()
AVAILABLE = tuple(isa for isa in BUILT if isa in SUPPORTED)


def _choose_isa():
    forced = os.environ.get("FASTSIG_ISA", "").strip().lower()
    if not forced:
        return AVAILABLE[-1]
    if forced not in AVAILABLE:
        raise ImportError(
            f"FASTSIG_ISA={forced!r} cannot run here: this build of fastsig has "
            f"{', '.join(BUILT)} and this CPU supports {', '.join(SUPPORTED)}; "
            f"choose one of {', '.join(AVAILABLE)} or unset FASTSIG_ISA"
        )
    return forced


ISA = _choose_isa()
kernels = importlib.import_module(f"{__package__}._kernels_{ISA}")
if kernels.compiled_isa() != ISA:  # a build that gave a variant the wrong flags
    raise ImportError(f"fastsig._kernels_{ISA} was compiled for {kernels.compiled_isa()}")
