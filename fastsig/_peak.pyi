DTYPES: tuple[str, str]
MIN_SECONDS: float
REPEATS: int

def fma_peak() -> dict[str, float]: ...
