"""The README, ``make help`` and ``docs/`` say what the code has: no command, target, room or path drifts away."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = [ROOT / "README.md", ROOT / "deploy" / "README.md", ROOT / "benchmarks" / "README.md",
        *sorted((ROOT / "docs").rglob("*.md"))]


def _phony_targets() -> list[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    line = next(line for line in text.splitlines() if line.startswith(".PHONY:"))
    return [t for t in line.split(":", 1)[1].split() if t not in ("help", "venv")]


def _subcommands() -> list[str]:
    out = subprocess.run([sys.executable, "-m", "coursekit", "--help"], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    return re.search(r"\{([a-z,-]+)\}", out).group(1).split(",")


def test_make_help_names_every_target():
    text = subprocess.run(["make", "-s", "help"], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    missing = [t for t in _phony_targets() if not re.search(rf"^make {re.escape(t)}\b", text, re.M)]
    assert not missing, missing


def test_the_readme_lists_every_command_and_room():
    listed = re.search(r"`python -m coursekit\s+\{([a-z,-]+)\}`", README)
    assert listed and listed.group(1).split(",") == _subcommands()
    rooms = sorted(p.name for p in (ROOT / "coursekit").iterdir()
                   if p.is_dir() and (p / "__init__.py").is_file())
    missing = [r for r in rooms if f"`{r}/`" not in README]
    assert not missing, missing


def test_the_first_screen_links_the_docs():
    first = "\n".join(README.splitlines()[:20])
    assert "(docs/README.md)" in first and "(docs/maintaining.md)" in first
    assert "maintaining.md" in (ROOT / "docs" / "README.md").read_text(encoding="utf-8")


def missing_paths(text: str) -> list[str]:
    """``coursekit/...`` paths in ``text`` that do not exist (``NN`` stands for a notebook's number)."""
    named = set(re.findall(r"\bcoursekit/[\w/.-]*\w", text))
    return sorted(p for p in named if not any(ROOT.glob(p.replace("NN", "[0-9][0-9]"))))


def missing_names(text: str) -> list[str]:
    """``coursekit.x.y`` names in ``text`` that are neither a module nor an attribute of one."""
    import importlib

    missing = []
    for name in sorted(set(re.findall(r"\bcoursekit(?:\.\w+)+", text))):
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            for attr in parts[cut:]:
                obj = getattr(obj, attr, None)
            if obj is None:
                missing.append(name)
            break
        else:
            missing.append(name)
    return missing


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_coursekit_path_and_name_a_doc_gives_exists(doc):
    text = doc.read_text(encoding="utf-8")
    assert missing_paths(text) == []
    assert missing_names(text) == []


def test_the_checks_can_fail():
    """The old flat layout's names are caught; the new ones pass."""
    old = "`coursekit/trusted.py`, `coursekit/answers/nbNN.py`, coursekit.pipeline.rescue.nothing, coursekit.trusted"
    assert missing_paths(old) == ["coursekit/trusted.py"]
    assert missing_names(old) == ["coursekit.pipeline.rescue.nothing", "coursekit.trusted"]
    assert missing_names("coursekit.grading.execute.TrustedExecute") == []
