"""The one reader of a course's nbgrader configuration.

``nbgrader_config.py`` is Python that may edit ``os.environ`` (it puts the
course's ``share/jupyter`` and ``bin`` first). So there are two ways in:

* :func:`read_settings` -- for everyone: reads the config in a short-lived
  subprocess with the environment nbgrader itself gets
  (:func:`coursekit.release.nbgrader_env`), so the caller's process is left
  alone and both see the same values;
* :func:`load_config` and :func:`settings_of` -- for a process made for it
  (the parallel autograde's writer, which runs nbgrader's converter in
  process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

__all__ = ["CourseSettings", "load_config", "describe_preprocessors", "settings_of", "read_settings"]


@dataclass
class CourseSettings:
    """What the instructor's tools need from a course's ``nbgrader_config.py``.

    Attributes
    ----------
    root : pathlib.Path
    db_url : str
        Gradebook URL (``sqlite:///<root>/gradebook.db`` unless configured).
    course_id : str
    exchange_root : pathlib.Path
    cell_timeout : float or None
        ``Execute.timeout`` (s).
    autograde_preprocessors : list of dict
        ``{"name": "module.Class", "execute": bool}`` for each entry of
        ``Autograde.autograde_preprocessors`` (nbgrader's default list if the
        config leaves it alone); ``execute`` marks the step that runs the
        notebook.
    allow_unsandboxed, scratch_dir
        Options of the pipeline's own nbgrader runs (:attr:`execute_args`).
    """

    root: Path
    db_url: str
    course_id: str
    exchange_root: Path
    cell_timeout: float | None
    autograde_preprocessors: list = field(default_factory=list)
    allow_unsandboxed: bool = False
    scratch_dir: str = ""

    @property
    def execute_args(self) -> list[str]:
        """``--Execute.timeout=N`` (if a limit is set) and the sandbox options for the nbgrader runs."""
        args = [f"--Execute.timeout={int(round(self.cell_timeout))}"] if self.cell_timeout else []
        if self.scratch_dir:
            args.append(f"--TrustedExecute.scratch_dir={self.scratch_dir}")
        return args + (["--TrustedExecute.allow_unsandboxed=True"] if self.allow_unsandboxed else [])


def load_config(course_root: str | os.PathLike = ".", nbgrader_args: Iterable[str] = ()):
    """The traitlets ``Config`` that ``nbgrader`` builds for the course.

    ``<course_root>/nbgrader_config.py`` plus command-line style options
    (``--Class.trait=value``), which take precedence as on nbgrader's command
    line. The config file may edit ``os.environ``: call this in a process made
    for it, or use :func:`read_settings`.
    """
    from traitlets.config.loader import KVArgParseConfigLoader, PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config()
    args = list(nbgrader_args)
    if args:
        cfg.merge(KVArgParseConfigLoader(argv=args).load_config())
    return cfg


def describe_preprocessors(items: Iterable[Any]) -> list[dict[str, Any]]:
    """``{"name", "execute"}`` for preprocessor classes or dotted names.

    Raises
    ------
    ValueError
        If one is not a class importable by its name (parallel workers and the
        rescue run name them on nbgrader's command line).
    """
    from nbconvert.preprocessors import ExecutePreprocessor
    from traitlets.utils.importstring import import_item

    out = []
    for item in items:
        cls = import_item(item) if isinstance(item, str) else item
        if not isinstance(cls, type):
            raise ValueError(f"autograde preprocessor {item!r} is not a class")
        name = f"{cls.__module__}.{cls.__qualname__}"
        try:
            importable = import_item(name) is cls
        except Exception:  # noqa: BLE001
            importable = False
        if not importable:
            raise ValueError(f"autograde preprocessor {name} cannot be imported by name; "
                             "define it in an importable module")
        out.append({"name": name, "execute": issubclass(cls, ExecutePreprocessor)})
    return out


def settings_of(cfg, course_root: str | os.PathLike) -> CourseSettings:
    """:class:`CourseSettings` of a loaded ``Config`` (defaults as nbgrader's, relative to the root)."""
    from nbgrader.converters import Autograde

    root = Path(course_root).resolve()
    cd = cfg.get("CourseDirectory", {})
    timeout = cfg.get("Execute", {}).get("timeout", 30)
    items = cfg.get("Autograde", {}).get("autograde_preprocessors") or \
        Autograde.class_traits()["autograde_preprocessors"].default()
    return CourseSettings(
        root=root,
        db_url=cd.get("db_url") or f"sqlite:///{root / 'gradebook.db'}",
        course_id=cd.get("course_id", ""),
        exchange_root=Path(cfg.get("Exchange", {}).get("root") or root / "exchange"),
        cell_timeout=float(timeout) if timeout else None,
        autograde_preprocessors=describe_preprocessors(items),
    )


def read_settings(course_root: str | os.PathLike, nbgrader_args: Iterable[str] = ()) -> CourseSettings:
    """:class:`CourseSettings` of the course, read as nbgrader reads it, in a subprocess.

    Raises
    ------
    coursekit.release.NbgraderError
        If the config cannot be loaded (the message carries its error).
    """
    from coursekit import course as ck
    root = Path(course_root).resolve()
    proc = subprocess.run([sys.executable, "-m", "coursekit.settings", *nbgrader_args], cwd=str(root),
                          env=ck.nbgrader_env(), capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("SETTINGS=")]
    if proc.returncode != 0 or not lines:
        raise ck.NbgraderError(f"could not read {root}/nbgrader_config.py:\n{proc.stderr[-3000:]}")
    data = json.loads(lines[-1].removeprefix("SETTINGS="))
    data["root"], data["exchange_root"] = Path(data["root"]), Path(data["exchange_root"])
    return CourseSettings(**data)


if __name__ == "__main__":  # the subprocess of read_settings (not a command line for people)
    _s = asdict(settings_of(load_config(".", sys.argv[1:]), "."))
    print("SETTINGS=" + json.dumps(_s, default=str))
