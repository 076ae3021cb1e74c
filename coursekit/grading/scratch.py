"""Scratch folders of the sandboxed kernel and grader, and the environment they run with.

Nothing of the instructor's environment is passed on but the locale, ``PATH`` and
the tags by which ``make grade`` finds its processes (:func:`sandbox_env`).
"""

from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path


def _font_cache() -> list[str]:
    """matplotlib's font list of this user, so a sandbox does not rebuild it (1-2 s each)."""
    try:
        import matplotlib
        return glob.glob(os.path.join(matplotlib.get_cachedir(), "fontlist-*.json"))
    except Exception:  # noqa: BLE001
        return []


def _scratch(root: Path) -> dict[str, Path]:
    dirs = {name: root / name for name in ("work", "home", "tmp", "run", "mpl", "ipython", "jupyter", "pkgs")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    for cache in _font_cache():
        shutil.copy2(cache, dirs["mpl"])
    return dirs


def sandbox_env(dirs: dict[str, Path], pythonpath: str | None = None) -> dict[str, str]:
    """The environment of a sandboxed process: its scratch folders, one BLAS thread, nothing of ours."""
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "NBGRADER_EXECUTION",
            "NBGRADER_VALIDATING")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    # the tags by which make grade finds (and kills) every process of its run
    env.update({k: v for k, v in os.environ.items() if k.startswith("SYNAPSES_AUTOGRADE_")})
    env.update(
        HOME=str(dirs["home"]), TMPDIR=str(dirs["tmp"]), MPLCONFIGDIR=str(dirs["mpl"]), MPLBACKEND="Agg",
        IPYTHONDIR=str(dirs["ipython"]), JUPYTER_RUNTIME_DIR=str(dirs["run"]),
        JUPYTER_CONFIG_DIR=str(dirs["jupyter"]), JUPYTER_DATA_DIR=str(dirs["jupyter"]),
        PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1", PYTHONUNBUFFERED="1",
        OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
    )
    env.setdefault("NBGRADER_EXECUTION", "autograde")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    # ipykernel's pipe for the output of forked processes needs TCP; there are neither here
    env["PYTHONWARNINGS"] = "ignore:Couldn't bind IOPub Pipe"
    return env
