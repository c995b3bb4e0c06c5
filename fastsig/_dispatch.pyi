# Stubs for _dispatch.py: which compiled variant of the kernels this process uses.

from types import ModuleType

ORDER: tuple[str, ...]
BUILT: tuple[str, ...]
SUPPORTED: tuple[str, ...]
AVAILABLE: tuple[str, ...]
ISA: str
# One of _kernels_baseline, _kernels_avx2, _kernels_avx512, chosen at import; all three have
# the interface of _kernels_baseline.pyi.
kernels: ModuleType
