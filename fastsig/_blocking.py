"""The register tile's cache blocking for this CPU: how many columns of packed B (NC) and
how many rows of packed A (MC) a task holds, chosen at import from the size of one core's
L2 cache, the way BLIS keeps a block size per microarchitecture.

Rules (the kernel module, ``_kernels/plan.pxi``, applies them per dtype):

1. A block of packed B, KC deep and NC wide, is read from L2 by every MR-row panel of a
   task, and a task's packed A (MC × KC) is read again for each such block: both stay in
   L2, so B's block takes ``B_BLOCK_L2_SHARE`` of it and A's ``A_BLOCK_L2_SHARE``; the
   rest is C's lines and what the prefetchers bring.
2. NC is rounded to the nearest multiple of the tile's NR, MC to the nearest multiple
   of its MR, each at least one tile and at most NC_MAX and MC_MAX (rounded).
3. Where the L2 size is unknown (no Linux sysfs), the block sizes are those the rule gives
   for a 1 MiB L2 (AMD Zen 4, where the tile was tuned).
4. ``FASTSIG_BLOCKING="nc=COLUMNS,mc=ROWS"`` (either part may be left out) sets them
   instead, rounded and clamped as in 2; anything else there is an ImportError that says
   what is accepted.
5. NC_MAX keeps a slab of packed B (plan.pxi's _plan_slabs: 8 depth blocks deep, at
   least NC wide) within about README's 8 MB of scratch for w; MC_MAX keeps a task's
   packed A within about 1 MB a thread.

None of this changes a bit: each output's sums run over the depth in blocks of KC, which
is fixed per dtype and kernel variant, and NC and MC only decide which task and thread
computes which outputs (the depth split, ``_depth_chunks``, counts tasks with the
former fixed constants, NC 256 and 12 MR-row panels, plan.pxi's SPLIT_NC and
SPLIT_MC_PANELS, whatever the blocking in force). ``show_config()["blocking"]`` reports what is in
force and where it came from; docs/performance.md, "Blocking from the caches", has the
measurements behind the shares.
"""

import os

ENV = "FASTSIG_BLOCKING"
SYSFS_CACHE = "/sys/devices/system/cpu/cpu0/cache"
DEFAULT_L2_BYTES = 1 << 20
B_BLOCK_L2_SHARE = 0.25     # rule 1: KC × NC of packed B
A_BLOCK_L2_SHARE = 0.125    # and MC × KC of packed A
NC_MAX = 1024      # a slab of packed B (8 depth blocks × NC) then stays within 8 MB
MC_MAX = 1024


def _parse_size(text):
    """Bytes from sysfs's "1024K" / "32M" / "512"."""
    text = text.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in "KMG" else text
    return int(digits) * scale


def l2_cache_bytes(root=SYSFS_CACHE):
    """One core's L2 (data or unified) in bytes, from Linux's sysfs; None where unknown."""
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return None
    for entry in entries:
        if not entry.startswith("index"):
            continue
        path = os.path.join(root, entry)
        try:
            with open(os.path.join(path, "level")) as f:
                level = int(f.read())
            with open(os.path.join(path, "type")) as f:
                kind = f.read().strip()
            with open(os.path.join(path, "size")) as f:
                size = _parse_size(f.read())
        except (OSError, ValueError):
            continue
        if level == 2 and kind in ("Data", "Unified") and size > 0:
            return size
    return None


def _override(text):
    """{"nc": int, "mc": int} (either may be absent) from FASTSIG_BLOCKING's value."""
    wanted = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        try:
            number = int(value)
        except ValueError:
            number = 0
        if not sep or key not in ("nc", "mc") or key in wanted or number < 1:
            raise ImportError(
                f"{ENV}={text!r} is not understood: give nc=COLUMNS and/or mc=ROWS as "
                f"positive integers, comma-separated (for example {ENV}=nc=512,mc=96), "
                f"or unset {ENV}")
        wanted[key] = min(number, NC_MAX if key == "nc" else MC_MAX)
    return wanted


def choose():
    """What the kernel module needs to set its blocking: {"l2_bytes", "b_block_bytes",
    "a_block_bytes", "nc", "mc", "nc_max", "mc_max", "source"}; "nc" and "mc" are
    FASTSIG_BLOCKING's columns and rows, or None where the shares of L2 decide."""
    text = os.environ.get(ENV, "").strip()
    wanted = _override(text) if text else {}
    l2 = l2_cache_bytes()
    known = l2 is not None
    l2 = l2 if known else DEFAULT_L2_BYTES
    source = f"L2 {l2 // 1024} KiB" if known else f"L2 unknown: {l2 // 1024} KiB assumed"
    if wanted:
        source = f"{ENV}={text}" + ("" if len(wanted) == 2 else f"; the rest from {source}")
    return {"l2_bytes": l2,
            "b_block_bytes": int(l2 * B_BLOCK_L2_SHARE),
            "a_block_bytes": int(l2 * A_BLOCK_L2_SHARE),
            "nc": wanted.get("nc"), "mc": wanted.get("mc"), "nc_max": NC_MAX, "mc_max": MC_MAX,
            "source": source}
