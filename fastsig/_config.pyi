# Stubs for _config.py: the process-wide thread count and accuracy mode, and show_config().

from typing import Any, Literal, SupportsIndex, TypeAlias

# n goes through operator.index, so numpy integers are accepted; bool is refused at runtime.
def set_num_threads(n: SupportsIndex | None) -> None: ...
def get_num_threads() -> int: ...

# The sigmoid's accuracy modes; any other value is a ValueError at runtime.
_Accuracy: TypeAlias = Literal["high", "fast"]
ACCURACY_MODES: tuple[_Accuracy, ...]
ULP_BOUNDS: dict[str, dict[str, int]]

def set_accuracy(mode: _Accuracy | None) -> None: ...
def get_accuracy() -> _Accuracy: ...

# A plain dict at runtime; its keys are listed in show_config's docstring.
def show_config() -> dict[str, Any]: ...

# show_config()'s line for its "blocking" entry; the bench's header prints it too.
def _blocking_line(blocking: dict[str, Any]) -> str: ...
