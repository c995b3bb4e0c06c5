# Stubs for _blocking.py: the register tile's cache blocking, chosen at import.

from typing import Any

ENV: str
SYSFS_CACHE: str
DEFAULT_L2_BYTES: int
B_BLOCK_L2_SHARE: float
A_BLOCK_L2_SHARE: float
NC_MAX: int
MC_MAX: int

def l2_cache_bytes(root: str = ...) -> int | None: ...
def choose() -> dict[str, Any]: ...
