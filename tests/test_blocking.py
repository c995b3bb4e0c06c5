"""The register tile's blocking from the CPU's caches (fastsig/_blocking.py): the L2 size
read from sysfs, FASTSIG_BLOCKING's override and its errors, what show_config() reports,
and the bits: the same for any blocking and any thread count."""

import textwrap

import numpy as np
import pytest

import fastsig
from fastsig import _blocking, _dispatch

kernels = _dispatch.kernels

# (n, k, m): many row tasks and NC blocks; few rows with a wide W (column blocks); a W
# packed in slabs (over 8 MB); a depth split (few tasks, k >= 4096).
# (300, 1024, 2304): w packed a block per task, the threads sharing the columns (by
# slabs under NC = 128: x packed, tasks too narrow, _packs_b_per_task; or a small L2);
# (600, 4096, 520): a block per task, on 2 threads a task a thread (where L2 holds 600
# rows of a depth block twice).
SHAPES = ((700, 300, 530), (150, 257, 1100), (300, 1024, 2304), (40, 8192, 40),
          (600, 4096, 520))

_OUTPUTS = textwrap.dedent("""
    import sys
    import numpy as np
    import fastsig
    from fastsig import _dispatch

    def outputs(shapes, threads):
        out = {}
        for dt in (np.float32, np.float64):
            for n, k, m in shapes:
                rng = np.random.default_rng(n * 7 + k * 3 + m)
                x = rng.standard_normal((n, k)).astype(dt)
                w = (rng.standard_normal((k, m)) / np.sqrt(k)).astype(dt)
                b = rng.standard_normal(m).astype(dt)
                g = rng.standard_normal((n, m)).astype(dt)
                key = f"{np.dtype(dt).name} {n}x{k}x{m}"
                out[key + " matmul"] = fastsig.matmul(x, w, num_threads=threads)
                s = fastsig.dense_forward(x, w, b, num_threads=threads)
                out[key + " dense_forward"] = s
                for name, value in zip(("dx", "dw", "db"), fastsig.dense_backward(
                        g, x, w, s, num_threads=threads)):
                    out[f"{key} {name}"] = value
        return out
""")

_CHILD = _OUTPUTS + textwrap.dedent("""
    shapes = eval(sys.argv[1])
    runs = [outputs(shapes, t) for t in (1, 2, 3)]
    for run in runs[1:]:
        for key, value in run.items():
            assert np.array_equal(value, runs[0][key], equal_nan=True), ("threads", key)
    np.savez(sys.argv[2], **runs[0])
    print({"blocking": _dispatch.kernels.blocking(),
           "slabs": _dispatch.kernels.plan("float32", "matmul", *shapes[2], 2)["slabs"]})
""")


def _outputs(shapes, threads):
    scope = {}
    exec(_OUTPUTS, scope)
    return scope["outputs"](shapes, threads)


@pytest.mark.quick
def test_l2_size_from_sysfs(tmp_path):
    for index, (level, kind, size) in enumerate(
            [(1, "Data", "32K"), (1, "Instruction", "32K"), (2, "Unified", "1024K"),
             (3, "Unified", "32768K")]):
        entry = tmp_path / f"index{index}"
        entry.mkdir()
        (entry / "level").write_text(f"{level}\n")
        (entry / "type").write_text(f"{kind}\n")
        (entry / "size").write_text(f"{size}\n")
    assert _blocking.l2_cache_bytes(str(tmp_path)) == 1 << 20
    (tmp_path / "index2" / "size").write_text("2M\n")
    assert _blocking.l2_cache_bytes(str(tmp_path)) == 2 << 20
    (tmp_path / "index2" / "level").write_text("3\n")
    assert _blocking.l2_cache_bytes(str(tmp_path)) is None
    assert _blocking.l2_cache_bytes(str(tmp_path / "missing")) is None


@pytest.mark.quick
@pytest.mark.parametrize("text", ["nc", "nc=", "nc=0", "nc=-64", "nc=1.5", "kc=128",
                                  "nc=64,nc=128", "nc=64;mc=12", "512"])
def test_blocking_override_rejects(text):
    with pytest.raises(ImportError, match="FASTSIG_BLOCKING") as info:
        _blocking._override(text)
    assert "nc=COLUMNS" in str(info.value)


@pytest.mark.quick
def test_blocking_override_accepts():
    assert _blocking._override("nc=512,mc=96") == {"nc": 512, "mc": 96}
    assert _blocking._override(" MC = 30 ") == {"mc": 30}
    assert _blocking._override("nc=" + "9" * 30) == {"nc": _blocking.NC_MAX}


def _nearest(wanted, unit, most):
    return max(unit, (min(most, wanted) + unit // 2) // unit * unit)


@pytest.mark.quick
def test_blocking_in_force_follows_the_rules_and_is_reported(capsys):
    """NC and MC are the shares of L2 (or FASTSIG_BLOCKING's values) in whole tiles, as
    _blocking.py's rules say, and show_config() reports them."""
    blocking = kernels.blocking()
    chosen = _blocking.choose()
    assert blocking["source"] == chosen["source"]
    for dt, size in (("float32", 4), ("float64", 8)):
        plan = kernels.plan(dt, "matmul", 4096, 512, 4096)
        assert plan["kernel"] == "register_tile" and plan["panel_width"] == blocking["nr"][dt]
        column_bytes = blocking["kc"][dt] * size
        nc = chosen["nc"] or chosen["b_block_bytes"] // column_bytes
        mc = chosen["mc"] or chosen["a_block_bytes"] // column_bytes
        assert blocking["nc"][dt] == _nearest(nc, blocking["nr"][dt], _blocking.NC_MAX)
        assert blocking["mc"][dt] == _nearest(mc, blocking["mr"][dt], _blocking.MC_MAX)
        assert blocking["nc"][dt] % blocking["nr"][dt] == 0
        assert blocking["mc"][dt] % blocking["mr"][dt] == 0
    config = fastsig.show_config()
    printed = capsys.readouterr().out
    assert config["blocking"] == blocking
    assert "blocking" in printed and blocking["source"] in printed


@pytest.mark.quick
def test_bad_blocking_override_fails_the_import(tmp_path, helpers):
    p = helpers.run_python(["-c", "import fastsig"], tmp_path, FASTSIG_BLOCKING="nc=wide")
    assert p.returncode != 0
    assert "ImportError" in p.stderr and "FASTSIG_BLOCKING='nc=wide'" in p.stderr


@pytest.mark.parametrize("setting", ["nc=128,mc=24", "nc=2048,mc=600", "mc=1"])
def test_blocking_changes_no_bit(tmp_path, helpers, setting):
    """Any blocking gives the default's bits, on 1, 2 and 3 threads (the child's NC or MC
    differs from this process's)."""
    target = tmp_path / "outputs.npz"
    p = helpers.run_python(["-c", _CHILD, repr(SHAPES), str(target)], tmp_path,
                           timeout=300, FASTSIG_BLOCKING=setting)
    assert p.returncode == 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}"
    child = eval(p.stdout.strip().splitlines()[-1])
    child_blocking = child["blocking"]
    if setting == "nc=128,mc=24":
        assert child["slabs"] > 1, "w packed in slabs"
    for dt in ("float32", "float64"):
        bound = helpers.block_task_rows_big_b(dt)
        for shape, threads in ((SHAPES[2], 2), (SHAPES[4], 1), (SHAPES[4], 2)):
            plan = kernels.plan(dt, "matmul", *shape, threads)
            assert plan["b_per_task"] if shape[0] <= bound else plan["slabs"] > 1, plan
        assert kernels.plan(dt, "matmul", *SHAPES[3], 2)["depth_chunks"] > 1, "depth split"
    assert child_blocking["source"].startswith(f"FASTSIG_BLOCKING={setting}")
    assert child_blocking["nc"] != kernels.blocking()["nc"] or (
        child_blocking["mc"] != kernels.blocking()["mc"])
    mine = _outputs(SHAPES, 2)
    with np.load(target) as theirs:
        assert sorted(theirs.files) == sorted(mine)
        for key, value in mine.items():
            assert np.array_equal(theirs[key], value, equal_nan=True), key
