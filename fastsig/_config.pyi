# Stubs for _config.py: the process-wide thread count and show_config().

from typing import Any, SupportsIndex

# n goes through operator.index, so numpy integers are accepted; bool is refused at runtime.
def set_num_threads(n: SupportsIndex | None) -> None: ...
def get_num_threads() -> int: ...

# A plain dict at runtime; its keys are listed in show_config's docstring.
def show_config() -> dict[str, Any]: ...

