"""The C tiles on their own, as shipped in the installed package (fastsig/_kernels/*.h):
every header compiles alone, and tests/tile_bench.c checks each tile against plain loops,
for every kernel variant this CPU runs, with the compiler flags of its build."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastsig
from fastsig import _build_info, _dispatch

KERNELS = Path(fastsig.__file__).resolve().parent / "_kernels"
BENCH = Path(__file__).resolve().parent / "tile_bench.c"
CC = os.environ.get("CC", "cc").split()[0]

pytestmark = [
    pytest.mark.skipif(shutil.which(CC) is None, reason=f"no C compiler ({CC})"),
    pytest.mark.skipif(sys.platform == "win32", reason="the C tiles need GCC's vector extensions"),
]


def _flags(isa):
    return list(getattr(_build_info, "ISA_FLAGS", {}).get(isa, []))


def test_the_headers_ship_and_say_what_they_provide():
    headers = sorted(p.name for p in KERNELS.glob("*.h"))
    assert {"isa.h", "scratch.h", "register_tile.h", "vector_tile.h", "column_sums.h"} <= set(
        headers)
    for name in headers:
        text = (KERNELS / name).read_text()
        assert text.startswith("/* fastsig"), name
        if not name.endswith("_template.h"):
            assert "Provides" in text and "Uses" in text, name


@pytest.mark.parametrize("isa", _dispatch.AVAILABLE)
def test_every_header_compiles_alone(isa, tmp_path):
    for header in sorted(KERNELS.glob("*.h")):
        if header.name.endswith("_template.h"):
            continue  # included by its header, with the parameters set
        source = tmp_path / "one.c"
        source.write_text(f'#include "{header.name}"\n')
        done = subprocess.run([CC, "-fsyntax-only", "-Wall", "-Wno-unused-function",
                               *_flags(isa), "-I", str(KERNELS), str(source)],
                              capture_output=True, text=True)
        assert done.returncode == 0 and not done.stderr, (header.name, done.stderr)


@pytest.mark.parametrize("double", [False, True], ids=["float32", "float64"])
@pytest.mark.parametrize("isa", _dispatch.AVAILABLE)
def test_the_tiles_agree_with_plain_loops(isa, double, tmp_path):
    if not BENCH.exists():
        pytest.skip("tests/tile_bench.c is not beside the tests")
    program = tmp_path / "tile_bench"
    compiled = subprocess.run([CC, "-O2", *_flags(isa), *(["-DBENCH_DOUBLE"] if double else []),
                               "-I", str(KERNELS), str(BENCH), "-o", str(program)],
                              capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr
    ran = subprocess.run([str(program), "--check"], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"{isa} {'float64' if double else 'float32'}: tiles correct" in ran.stdout


@pytest.mark.parametrize("isa", _dispatch.AVAILABLE)
def test_the_column_dots_agree_with_plain_loops(isa, tmp_path):
    """tests/column_dots_bench.c checks column_dots.h (one to four columns) against plain
    loops within the products' bound, for odd shapes: rows in pairs and alone, the last
    step's masked loads (of one vector and of two); exit status 2 where the variant has no such kernel (baseline)."""
    source = Path(__file__).resolve().parent / "column_dots_bench.c"
    if not source.exists():
        pytest.skip("tests/column_dots_bench.c is not beside the tests")
    program = tmp_path / "column_dots_bench"
    compiled = subprocess.run([CC, "-O2", *_flags(isa), "-I", str(KERNELS), str(source),
                               "-o", str(program), "-lm"], capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr
    for args in (["37", "21"], ["9", "40", "double"], ["5", "1000"], ["3", "17", "double"],
                 ["7", "29"], ["5", "13", "double"]):
        ran = subprocess.run([str(program), *args], capture_output=True, text=True)
        if isa == "baseline":
            assert ran.returncode == 2, ran.stdout + ran.stderr
            break
        assert ran.returncode == 0, (args, ran.stdout + ran.stderr)
        assert ran.stdout.count("us,") == 4, ran.stdout
