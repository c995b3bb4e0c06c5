"""show_config(), __version__, the OpenMP flag and the ISA variant chosen (FASTSIG_ISA)."""

import os
import platform
import sys
import textwrap

import pytest

import fastsig
from fastsig._openmp_helpers import openmp_enabled

KEYS = ("version", "location", "compiler", "compile_args", "openmp", "isa", "num_threads",
        "accuracy")
ISAS = ("baseline", "avx2", "avx512")


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


def _cpu_supports(isa):
    if isa == "baseline":
        return True
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    flags = _cpu_flags()
    if flags is None:
        return False
    need = {"avx2": {"avx2", "fma"},
            "avx512": {"avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"}}[isa]
    return need <= flags


@pytest.mark.quick
def test_show_config(capsys):
    cfg = fastsig.show_config()
    printed = capsys.readouterr().out
    assert isinstance(cfg, dict)
    for key in KEYS:
        assert key in cfg, key
        assert key in printed, f"{key} not printed"
    assert cfg["version"] == fastsig.__version__
    assert cfg["location"] == os.path.dirname(os.path.abspath(fastsig.__file__))
    assert isinstance(cfg["compiler"], str) and cfg["compiler"]
    assert isinstance(cfg["openmp"], bool)
    assert cfg["openmp"] == openmp_enabled()
    assert cfg["isa"] in ISAS
    assert isinstance(cfg["num_threads"], int) and cfg["num_threads"] >= 1
    assert cfg["num_threads"] == fastsig.get_num_threads()
    assert str(cfg["version"]) in printed
    assert cfg["isa"] in printed
    if not cfg["openmp"]:
        assert cfg["num_threads"] == 1


def test_show_config_follows_set_num_threads(capsys, thread_setting):
    thread_setting(3)
    assert fastsig.show_config()["num_threads"] == 3
    thread_setting(None)
    assert fastsig.show_config()["num_threads"] == fastsig.get_num_threads()


@pytest.mark.quick
def test_version():
    assert isinstance(fastsig.__version__, str)
    assert fastsig.__version__ == "0.1.0"


def test_installed_metadata_version():
    from importlib import metadata

    try:
        dist_version = metadata.version("fastsig")
    except metadata.PackageNotFoundError:
        pytest.skip("fastsig is not installed as a distribution")
    assert dist_version == fastsig.__version__


def test_isa_matches_cpu(capsys):
    isa = fastsig.show_config()["isa"]
    forced = os.environ.get("FASTSIG_ISA", "").strip().lower()
    if forced:
        assert isa == forced
    assert _cpu_supports(isa), f"isa {isa!r} chosen on a CPU without it"


def test_public_names():
    for name in ("matmul", "sigmoid", "sigmoid_backward", "dense_forward", "dense_backward",
                 "get_num_threads", "set_num_threads", "get_accuracy", "set_accuracy",
                 "show_config", "__version__"):
        assert hasattr(fastsig, name), name
        if name != "__version__":
            assert callable(getattr(fastsig, name)), name


# a correctness check run in a child with one variant forced
_VARIANT_CHECK = textwrap.dedent("""
    import sys, io, contextlib
    import numpy as np
    import fastsig
    from fastsig import _reference
    with contextlib.redirect_stdout(io.StringIO()):
        cfg = fastsig.show_config()
    print(cfg["isa"])
    rng = np.random.default_rng(7)
    for dt, ulps in ((np.float32, 1), (np.float64, 2)):
        rd = np.float64 if dt == np.float32 else np.longdouble
        u = np.finfo(dt).eps / 2
        x = rng.normal(size=(131, 77)).astype(dt)
        w = rng.normal(size=(77, 45)).astype(dt)
        y = fastsig.matmul(x, w)
        ex = x.astype(rd) @ w.astype(rd)
        bound = 2 * 77 * u * (np.abs(x.astype(rd)) @ np.abs(w.astype(rd))) * (1 + 1e-6)
        assert np.all(np.abs(y - ex) <= bound), "matmul bound"
        assert np.array_equal(y, fastsig.matmul(x, w, num_threads=3)), "matmul threads"
        v = np.concatenate([rng.uniform(-40, 40, 20000), rng.normal(0, 3, 20000)]).astype(dt)
        s = fastsig.sigmoid(v)
        ref = _reference.sigmoid(v, rd).astype(dt)
        it = np.int32 if dt == np.float32 else np.int64
        d = np.abs(s.view(it).astype(np.int64) - ref.view(it).astype(np.int64))
        assert d.max() <= ulps + 1, ("sigmoid ulps", int(d.max()))
        assert np.array_equal(s, fastsig.sigmoid(v, num_threads=3)), "sigmoid threads"
        g = rng.normal(size=(131, 45)).astype(dt)
        sv = fastsig.dense_forward(x, w, w[0])
        dx, dw, db = fastsig.dense_backward(g, x, w, sv)
        dx3, dw3, db3 = fastsig.dense_backward(g, x, w, sv, num_threads=3)
        assert np.array_equal(dx, dx3) and np.array_equal(dw, dw3) and np.array_equal(db, db3)
        dy = _reference.sigmoid_backward(g, sv, rd)
        assert np.allclose(dw, x.astype(rd).T @ dy, rtol=1e-4, atol=1e-4), "dw"
    print("ok")
""")


@pytest.mark.parametrize("isa", ISAS)
def test_forced_isa_variant(tmp_path, helpers, isa):
    if not _cpu_supports(isa):
        pytest.skip(f"this CPU cannot run {isa}")
    with_default = fastsig.show_config()
    available = with_default.get("isa_available")
    if isa != "baseline" and isa != with_default["isa"] and (
            available is None or isa not in available):
        pytest.skip(f"{isa} is not built into this fastsig")
    p = helpers.run_python(["-c", _VARIANT_CHECK], tmp_path, timeout=180, FASTSIG_ISA=isa)
    assert p.returncode == 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    assert p.stdout.split() == [isa, "ok"]


def _editable_install():
    import importlib.metadata
    import json

    direct_url = importlib.metadata.distribution("fastsig").read_text("direct_url.json")
    return bool(direct_url and json.loads(direct_url).get("dir_info", {}).get("editable"))


@pytest.mark.quick
def test_the_tests_import_the_installed_build():
    """What the tests import is what pip installed: a package outside the source tree, or the
    tree itself only through an editable install (which builds its kernels in place)."""
    from pathlib import Path

    package = Path(fastsig.__file__).resolve().parent
    root = Path(__file__).resolve().parent.parent
    if package.parent == root:
        assert _editable_install(), (
            f"the tests imported the source tree {package}, which is not an editable install")


@pytest.mark.quick
def test_importing_the_unbuilt_source_tree_says_what_to_run(tmp_path):
    """A tree with fastsig's Python files and no compiled kernels (a fresh clone) refuses to
    import, and says how to install it. (Imported under another name: an editable install's
    import hook would otherwise find the real one first.)"""
    import importlib.util
    import shutil
    from pathlib import Path

    tree = tmp_path / "fastsig"
    tree.mkdir()
    for source in Path(fastsig.__file__).resolve().parent.glob("*.py"):
        shutil.copy(source, tree)
    spec = importlib.util.spec_from_file_location(
        "fastsig_unbuilt", tree / "__init__.py", submodule_search_locations=[str(tree)])
    module = importlib.util.module_from_spec(spec)
    try:
        sys.modules["fastsig_unbuilt"] = module
        with pytest.raises(ImportError, match="source tree.*no compiled kernels.*pip install"):
            spec.loader.exec_module(module)
    finally:
        sys.modules.pop("fastsig_unbuilt", None)


@pytest.mark.quick
def test_the_command_line_in_an_unbuilt_tree_runs_the_installed_build(tmp_path, helpers):
    """`python -m fastsig` from the root of a fresh clone (README's first command) runs the
    fastsig pip installed, and says so."""
    import shutil
    from pathlib import Path

    if _editable_install():
        pytest.skip("an editable install is its source tree: there is no other build to run")

    tree = tmp_path / "fastsig"
    tree.mkdir()
    for source in Path(fastsig.__file__).resolve().parent.glob("*.py"):
        shutil.copy(source, tree)
    done = helpers.run_python(["-m", "fastsig", "info"], tmp_path)
    assert done.returncode == 0, done.stderr
    location = next(line.split(None, 1)[1] for line in done.stdout.splitlines()
                    if line.startswith("location"))
    assert Path(location).resolve() == Path(fastsig.__file__).resolve().parent
