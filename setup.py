"""Build fastsig's Cython extensions.

Flags are chosen per compiler in `BuildExt`; OpenMP is found by compiling and
linking a small test program with the compiler's flag, and when that fails (or
FASTSIG_OPENMP=0) fastsig builds serial and says so in show_config(). What was
chosen is written to fastsig/_build_info.py in the build.

Never -march=native (the wheel would crash on other CPUs) and never -ffast-math
(it breaks inf/NaN and, linked in, sets flush-to-zero for the whole process).

Environment:
  FASTSIG_OPENMP=0          build without OpenMP (serial kernels)
  FASTSIG_CYTHON_CHECKS=1   keep Cython's boundscheck/wraparound on (for testing)
  FASTSIG_SANITIZE=...      add -fsanitize=... and -fno-omit-frame-pointer (for testing)
  FASTSIG_BUILD_ISAS=a,b    build only these kernel variants (default: all the
                            platform and compiler allow; baseline is always built)
  FASTSIG_PORTABLE=1        build the kernels a compiler without GCC's vector
                            extensions (MSVC) gets, with gcc (for testing them)
"""

import glob
import os
import platform
import sys
import tempfile
import textwrap

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Modules compiled once, with the baseline flags only: they run before a kernel
# variant is chosen (_public calls into the chosen one).
BASELINE_MODULES = ["_openmp_helpers", "_cpu", "_public"]

# The kernels (_kernels/kernels.pxi), compiled once per instruction set as
# fastsig._kernels_<isa>; the variant flags add to the common ones. Only
# x86-64 with gcc or clang gets more than the baseline.
ISA_FLAGS = {
    "baseline": [],
    "avx2": ["-mavx2", "-mfma"],
    "avx512": ["-mavx512f", "-mavx512dq", "-mavx512bw", "-mavx512vl", "-mavx2", "-mfma",
               "-mprefer-vector-width=512"],
}

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        return n > 0 && omp_get_max_threads() > 0 ? 0 : 1;
    }
    """
)


def _env_flag(name, default):
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value not in ("0", "false", "no", "off")


def _openmp_flags(compiler_type):
    """(compile args, link args) candidates for OpenMP with this compiler."""
    if compiler_type == "msvc":
        return [(["/openmp"], [])]
    if sys.platform == "darwin":
        # Apple clang has no -fopenmp driver flag; libomp (e.g. Homebrew's) may be present.
        prefixes = [os.environ.get("LIBOMP_PREFIX", ""), "/opt/homebrew/opt/libomp",
                    "/usr/local/opt/libomp"]
        return [(["-Xpreprocessor", "-fopenmp", f"-I{p}/include"], [f"-L{p}/lib", "-lomp"])
                for p in prefixes if p]
    return [(["-fopenmp"], ["-fopenmp"])]


class BuildExt(build_ext):
    def run(self):
        # setuptools builds into build_lib and copies the extensions into the
        # source tree afterwards, clearing `inplace` meanwhile; remember it.
        self._into_source = bool(self.inplace) or bool(getattr(self, "editable_mode", False))
        super().run()

    def _compiles_and_links(self, source, compile_args, link_args):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "probe.c")
            with open(path, "w") as f:
                f.write(source)
            try:
                objects = self.compiler.compile([path], output_dir=tmp,
                                                extra_postargs=compile_args)
                self.compiler.link_executable(objects, "probe", output_dir=tmp,
                                              extra_postargs=link_args)
            except Exception:
                return False
        return True

    def _find_openmp(self):
        if not _env_flag("FASTSIG_OPENMP", True):
            print("fastsig: OpenMP disabled by FASTSIG_OPENMP=0; building serial kernels")
            return [], []
        for compile_args, link_args in _openmp_flags(self.compiler.compiler_type):
            if self._compiles_and_links(OPENMP_PROBE, compile_args, link_args):
                print(f"fastsig: OpenMP found ({' '.join(compile_args)})")
                return compile_args, link_args
        print("fastsig: WARNING: no OpenMP found; building serial kernels")
        return [], []

    def _drop_unbuildable_variants(self):
        """Keep the kernel variants this platform and compiler can build."""
        x86_64 = platform.machine().lower() in ("x86_64", "amd64")
        gnu_like = self.compiler.compiler_type != "msvc"
        wanted = os.environ.get("FASTSIG_BUILD_ISAS", "").replace(" ", "")
        wanted = set(wanted.split(",")) if wanted else set(ISA_FLAGS)
        kept = []
        for ext in self.extensions:
            isa = ext.name.rpartition("._kernels_")[2] if "._kernels_" in ext.name else None
            if isa is None or isa == "baseline":
                kept.append(ext)
            elif (x86_64 and gnu_like and isa in wanted
                  and self._compiles_and_links("int main(void) { return 0; }\n",
                                               ISA_FLAGS[isa], [])):
                kept.append(ext)
            else:
                print(f"fastsig: not building the {isa} kernels here")
        self.extensions = kept

    def build_extensions(self):
        self._drop_unbuildable_variants()
        ctype = self.compiler.compiler_type
        if ctype == "msvc":
            compile_args, link_args = ["/O2"], []
        else:
            # -g0: Python's own CFLAGS carry -g, which only bloats the wheel.
            # -fno-trapping-math changes no result (numpy never enables FP
            # traps); it lets gcc turn selects into vector blends.
            compile_args, link_args = ["-O3", "-g0", "-fno-trapping-math"], []
            # Hot loops start on a 32-byte boundary, so that a tile's speed does not depend
            # on where an unrelated change moves its inner loop in the .so (the number of
            # 64-byte fetch windows it spans; docs/performance.md, "Loop alignment").
            # Changes no result.
            if self._compiles_and_links("int main(void) { return 0; }\n",
                                        ["-falign-loops=32"], []):
                compile_args.append("-falign-loops=32")
            if _env_flag("FASTSIG_PORTABLE", False):
                compile_args.append("-DFASTSIG_PORTABLE")
            sanitize = os.environ.get("FASTSIG_SANITIZE", "").strip()
            if sanitize:
                compile_args += [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer", "-g"]
                link_args += [f"-fsanitize={sanitize}"]
        omp_compile, omp_link = self._find_openmp()
        compile_args += omp_compile
        link_args += omp_link
        for ext in self.extensions:
            ext.extra_compile_args = compile_args + ext.extra_compile_args
            ext.extra_link_args = link_args + ext.extra_link_args
        self._write_build_info(compile_args, link_args)
        super().build_extensions()

    def _write_build_info(self, compile_args, link_args):
        compiler = " ".join(getattr(self.compiler, "compiler_so", None)
                            or [self.compiler.compiler_type])
        text = (
            '"""How this fastsig was compiled; written by setup.py."""\n\n'
            f"COMPILER = {compiler!r}\n"
            f"COMPILE_ARGS = {compile_args!r}\n"
            f"LINK_ARGS = {link_args!r}\n"
            f"ISA_FLAGS = {ISA_FLAGS!r}\n"
        )
        roots = [self.build_lib] + (["."] if getattr(self, "_into_source", False) else [])
        for root in roots:
            path = os.path.join(root, "fastsig", "_build_info.py")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)


def extensions():
    checks = _env_flag("FASTSIG_CYTHON_CHECKS", False)
    directives = {
        "language_level": 3,
        "boundscheck": checks,
        "wraparound": checks,
        "initializedcheck": checks,
        "cdivision": True,
        "embedsignature": True,
    }
    # The kernels' own sources, so that a change to any of them rebuilds the variants.
    kernel_sources = sorted(glob.glob("fastsig/_kernels/*.pxi") + glob.glob("fastsig/_kernels/*.h")
                            + ["fastsig/_sigmoid_math.pxd"])

    def extension(name, extra_compile_args=()):
        return Extension(
            f"fastsig.{name}",
            [f"fastsig/{name}.pyx"],
            depends=kernel_sources if name.startswith("_kernels_") else [],
            include_dirs=[np.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=list(extra_compile_args),
        )

    exts = [extension(name) for name in BASELINE_MODULES]
    exts += [extension(f"_kernels_{isa}", flags) for isa, flags in ISA_FLAGS.items()]
    return cythonize(exts, compiler_directives=directives)


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
