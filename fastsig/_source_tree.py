"""What `import fastsig` does in a source tree whose kernels are not built (a fresh clone).

From the repository's root, the working directory comes first on sys.path, so `import fastsig`
finds this tree, which has no compiled kernels until it is built in place (an editable
install). Importing it is then an ImportError that says what to run, as numpy and
scikit-learn do. One exception: the command line, `python -m fastsig ...` (README's first
command, `python -m pip install . && python -m fastsig bench`, run from the root), hands the
import over to the fastsig pip installed, when there is one: the command runs what was built,
and `show_config()` says from where.
"""

import importlib.machinery
import importlib.util
import os
import sys


def _installed_elsewhere(tree):
    """The spec of a built fastsig on sys.path outside the tree's parent directory, or None."""
    root = os.path.dirname(tree)
    paths = [p for p in sys.path if os.path.abspath(p or os.curdir) != root]
    spec = importlib.machinery.PathFinder.find_spec("fastsig", paths)
    if spec is None or not spec.submodule_search_locations:
        return None
    built = importlib.machinery.PathFinder.find_spec("_cpu", list(spec.submodule_search_locations))
    return spec if built is not None else None


def refuse_or_hand_over(name, tree):
    """Raise the source tree's ImportError; for `python -m fastsig` (while runpy locates the
    module, sys.argv[0] is "-m"), first replace the module `name` by an installed fastsig."""
    spec = _installed_elsewhere(tree) if sys.argv[:1] == ["-m"] else None
    if spec is not None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # the import returns what sys.modules holds after this
        spec.loader.exec_module(module)
        return
    raise ImportError(
        f"fastsig is being imported from its source tree ({tree}), which has no compiled "
        "kernels. Install it (`python -m pip install .`) and run Python from outside the "
        "source tree, or for development install it in place (`python -m pip install -e . "
        "--no-build-isolation`). The tests (`python -m pytest` in the source tree) always "
        "import the installed fastsig."
    )
