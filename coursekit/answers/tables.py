"""The answer tables of every notebook, found by name: ``coursekit/answers/nbNN.py`` for ``source/.../NN_*.ipynb``.

Each table module (:mod:`coursekit.answers.nb01` ...) is plain data: ``NOTEBOOK``
(the notebook's file stem), ``SIGNATURES`` and ``VALUES`` (its answers),
``WRONG`` and ``RIGHT`` (answers written wrongly and rightly),
``MISCONCEPTIONS`` ((item, label) of a WRONG row -> identifier), ``ERRATA`` and
``REFERENCE_OF`` (the sample class's wrong and re-exported answers). This module
gathers them for the sample, synthetic and planted classes and the tests, and
says what a notebook still lacks (:func:`missing_parts`).

>>> table("01_synapse_zoo").NOTEBOOK
'01_synapse_zoo'
>>> table("07_nothing_yet") is None
True
>>> ERRATA["mg_block"].split("#")[-1].strip()
"lecture's 16.3 mV"
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from coursekit import course as ck

__all__ = ["TABLES", "table", "answer_names", "ERRATA", "REFERENCE_OF", "EXPECTED", "wrong_rows", "right_rows",
           "answer_rows", "missing_parts"]

_MODULE = re.compile(r"nb(\d\d)$")


@lru_cache(maxsize=None)
def _tables() -> dict[str, ModuleType]:
    package = Path(__file__).parent
    out = {}
    for info in sorted(pkgutil.iter_modules([str(package)]), key=lambda i: i.name):
        if _MODULE.match(info.name):
            module = importlib.import_module(f"{__package__}.{info.name}")
            out[module.NOTEBOOK] = module
    return out


#: Notebook file stem (``01_synapse_zoo``) -> its table module, for every ``nbNN`` module here.
TABLES: dict[str, ModuleType] = _tables()


def table(notebook: str) -> ModuleType | None:
    """The table module of a notebook (file stem), or None."""
    return TABLES.get(notebook)


def answer_names(module: ModuleType) -> list[str]:
    """The answers a table declares: its function answers, then its value answers."""
    return [*getattr(module, "SIGNATURES", {}), *getattr(module, "VALUES", ())]


#: grade id -> the erratum that replaces its solution (every notebook's ``ERRATA``).
ERRATA: dict[str, str] = {k: v for m in TABLES.values() for k, v in m.ERRATA.items()}
#: grade id -> (reference module, names): every notebook's ``REFERENCE_OF``.
REFERENCE_OF: dict[str, tuple[str, str]] = {k: v for m in TABLES.values() for k, v in m.REFERENCE_OF.items()}
#: (notebook number, item, label) of a WRONG row -> the misconception the grader must report.
EXPECTED: dict[tuple[int, str, str], str] = {
    (int(nb[:2]), item, label): ident for nb, m in TABLES.items() for (item, label), ident in m.MISCONCEPTIONS.items()}


def wrong_rows() -> dict[str, list[tuple[str, str, str]]]:
    """Notebook -> the WRONG rows (item, label, answer source) of its table."""
    return {nb: [(case[0], case[1], case[2]) for case in m.WRONG] for nb, m in TABLES.items()}


def right_rows() -> dict[str, list[tuple[str, str, str]]]:
    """Notebook -> the RIGHT rows (item, label, answer source) of its table."""
    return {nb: [(case[0], case[1], case[2]) for case in m.RIGHT] for nb, m in TABLES.items()}


def answer_rows() -> dict[str, dict[str, list[tuple[str, str]]]]:
    """Notebook -> item -> [(label, answer source)]: its RIGHT rows, then its WRONG rows."""
    out: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for nb, m in TABLES.items():
        items = out.setdefault(nb, {})
        for case in list(m.RIGHT) + list(m.WRONG):
            items.setdefault(case[0], []).append((case[1], case[2]))
    return out


# ------------------------------------------------------------------------------------ what a notebook lacks
_REFERENCE_IMPORT = re.compile(r"helpers\.references(?: import |\.)(\w+)")


def _notebook_text(root: Path, notebook: str) -> str | None:
    path = root / "source" / ck.ASSIGNMENT_ID / f"{notebook}.ipynb"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _answer_ids(text: str) -> list[str]:
    import nbformat

    nb = nbformat.reads(text, as_version=4)
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]


def missing_parts(notebook: str, root: Path | str = ck.REPO_ROOT) -> list[str]:
    """What a notebook (file stem, e.g. ``01_synapse_zoo``) still lacks, one line each; [] when complete.

    The parts: the notebook in ``source/``; the reference modules its hidden tests
    import (``helpers/references/<module>.py``); its table module here, declaring
    every answer cell; an entry in ``MISCONCEPTIONS`` for every WRONG row, each a
    known identifier (:mod:`coursekit.answers.misconceptions`); its section
    (``## NN ...``) in ``docs/student-api.md``; and the sample class's entries: an
    erratum or a re-export for every answer (most have an erratum).

    >>> missing_parts("01_synapse_zoo")
    []
    >>> len(missing_parts("99_made_up"))
    6
    """
    from coursekit.answers import misconceptions as mc

    root = Path(root)
    missing = []
    text = _notebook_text(root, notebook)
    number = notebook[:2]
    module = table(notebook)
    if text is None:
        missing.append(f"notebook: no source/{ck.ASSIGNMENT_ID}/{notebook}.ipynb")
        answers: list[str] = []
    else:
        answers = _answer_ids(text)
    references = sorted(set(_REFERENCE_IMPORT.findall(text or "")))
    absent = [r for r in references if not (root / "helpers" / "references" / f"{r}.py").is_file()]
    if not references or absent:
        missing.append("reference modules: " + (f"helpers/references/{', '.join(absent)}.py missing" if absent else
                                                "the hidden tests import no helpers.references module"))
    if module is None:
        missing.append(f"answer table: no coursekit/answers/nb{number}.py with NOTEBOOK = {notebook!r}")
    elif text is not None and sorted(answer_names(module)) != sorted(answers):
        missing.append(f"answer table: nb{number}.py declares {sorted(answer_names(module))}, "
                       f"the notebook's answers are {sorted(answers)}")
    wrong = {(case[0], case[1]) for case in getattr(module, "WRONG", ())}
    named = dict(getattr(module, "MISCONCEPTIONS", {}))
    unknown = sorted(ident for ident in named.values() if ident not in mc.TITLES)
    if not wrong or wrong != set(named) or unknown:
        missing.append(f"misconceptions: nb{number}.MISCONCEPTIONS " + (
            f"names unknown identifiers {unknown}" if unknown else
            f"lacks {sorted(wrong - set(named))}, has extra {sorted(set(named) - wrong)}" if wrong else
            "has no WRONG rows to name"))
    api = root / "docs" / "student-api.md"
    if not re.search(rf"^## {number} ", api.read_text(encoding="utf-8") if api.is_file() else "", re.M):
        missing.append(f"student API: no '## {number} ...' section in docs/student-api.md")
    errata, reexports = getattr(module, "ERRATA", {}), getattr(module, "REFERENCE_OF", {})
    bare = [a for a in answers if a not in errata and a not in reexports]
    if not answers or bare or not errata:
        missing.append("sample class: " + (f"no ERRATA or REFERENCE_OF entry for {bare}" if bare else
                                           f"nb{number}.ERRATA is empty" if answers else "no answers to write"))
    return missing
