# Stubs for _cpu.pyx: what the CPU (and the OS) supports, asked before a kernel variant is
# imported.

def supported_isas() -> tuple[str, ...]: ...
