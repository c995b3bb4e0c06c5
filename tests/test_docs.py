"""The public functions' docstrings: numpydoc sections, shown by help(), examples that hold.

Every function of ``fastsig.__all__`` and ``fastsig.dask.__all__`` is checked; the
examples run as doctests, so that they cannot drift from what the functions do.
"""

import doctest
import importlib
import inspect
import pydoc
import re

import numpy as np
import pytest

import fastsig
from fastsig import _config

PUBLIC = [f"fastsig.{name}" for name in fastsig.__all__ if callable(getattr(fastsig, name))]
try:
    import fastsig.dask
except ImportError:  # an optional extra: its functions' tests are reported as skipped
    PUBLIC.append(pytest.param("fastsig.dask", marks=pytest.mark.skip(reason="needs dask")))
else:
    PUBLIC += [f"fastsig.dask.{name}" for name in fastsig.dask.__all__]

# numpydoc's order of the sections used here.
SECTION_ORDER = ["Parameters", "Returns", "Raises", "See Also", "Notes", "Examples"]
# Functions that return None, so have no Returns section.
RETURN_NOTHING = {"fastsig.set_num_threads", "fastsig.set_accuracy"}

# numpy's default print options, under which the examples' outputs are written.
NUMPY_PRINT_DEFAULTS = dict(precision=8, threshold=1000, edgeitems=3, linewidth=75,
                            suppress=False, nanstr="nan", infstr="inf", sign="-",
                            floatmode="maxprec", legacy=False)


@pytest.fixture(params=PUBLIC)
def function(request):
    """(dotted name, function) of a public function."""
    module_name, _, name = request.param.rpartition(".")
    return request.param, getattr(importlib.import_module(module_name), name)


def _sections(doc):
    """The numpydoc sections of a cleaned docstring: {title: lines of its body}."""
    lines = doc.splitlines()
    sections, title = {}, None
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and line and re.fullmatch(r"-+", lines[i + 1]) \
                and len(lines[i + 1]) == len(line):
            title = line
            sections[title] = []
        elif title is not None and not re.fullmatch(r"-+", line):
            sections[title].append(line)
    return sections


def test_numpydoc_sections(function):
    qualname, func = function
    doc = inspect.cleandoc(func.__doc__ or "")
    assert doc, f"{qualname} has no docstring"
    sections = _sections(doc)
    parameters = list(inspect.signature(func).parameters)

    expected = {"Examples"}
    if parameters:
        # Every function that takes arguments checks them, and says what it raises.
        expected |= {"Parameters", "Raises"}
    if qualname not in RETURN_NOTHING:
        expected.add("Returns")
    assert expected <= set(sections), f"{qualname}: missing {sorted(expected - set(sections))}"
    titles = [t for t in sections if t in SECTION_ORDER]
    assert titles == sorted(titles, key=SECTION_ORDER.index), f"{qualname}: sections {titles}"
    assert doc.splitlines()[0].strip(), f"{qualname}: no summary line"

    # Each parameter is documented as "name : type", in the signature's order.
    documented = [m.group(1) for line in sections.get("Parameters", [])
                  if (m := re.match(r"(\w+)(?: :|$)", line))]
    assert documented == parameters, f"{qualname}: documented {documented}, takes {parameters}"


def test_help_shows_the_docstring(function):
    qualname, func = function
    text = pydoc.render_doc(func, renderer=pydoc.plaintext)
    assert f"{func.__name__}{inspect.signature(func)}" in text
    doc = inspect.cleandoc(func.__doc__)
    for line in (doc.splitlines()[0], *_sections(doc)):
        assert line in text, f"help({qualname}) lacks {line!r}"


def test_examples_hold(function):
    qualname, func = function
    tests = doctest.DocTestFinder().find(func, qualname, globs={})
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    report = []
    # set_num_threads' and set_accuracy's examples change them
    saved = _config._user_threads, _config._accuracy
    try:
        with np.printoptions(**NUMPY_PRINT_DEFAULTS):
            for test in tests:
                runner.run(test, out=report.append)
    finally:
        _config._user_threads, _config._accuracy = saved
    assert runner.failures == 0, "".join(report)
    # Beyond the imports, at least one example runs: none is all skipped.
    imports = sum(ex.source.startswith("import ") for test in tests for ex in test.examples)
    assert runner.tries > imports, f"{qualname}: no example runs"
