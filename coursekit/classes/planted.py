"""A planted class for the similarity check: independent students and 8 obfuscated copies of classmates.

Every independent student answers each item of each notebook with one row
drawn at random from that item's answers in the answer tables
(:mod:`coursekit.answers.tables`): the instructor's solution, the RIGHT rows
(correct answers written another way) and the WRONG rows (known wrong
answers) — code written in different forms by different hands. Then
:data:`COPIERS` students copy a classmate's whole submission and disguise it,
two in each of the four ways copiers do (:data:`DISGUISES`):

``rename``
    every local variable renamed (the code re-printed by :func:`ast.unparse`,
    which also drops the comments);
``reorder``
    the notebook's functions moved into its first answer cell in reverse
    order (still valid: each is defined before its tests run);
``comments``
    comments added and changed, blank lines and spaces around operators
    changed;
``wrap``
    each copied function wrapped in another of the same name that calls it.

The truth (who copied whom, how) is in :attr:`PlantedClass.copies`, so a test
can count precision and recall of the similarity report
(:mod:`coursekit.insight.similarity`). Ids start with :data:`PREFIX` (``planted-``);
:func:`prepare_for_grading` writes the class into ``submitted/`` for
``python -m coursekit grade --planted N`` (the report then is a real graded
run).
"""

from __future__ import annotations

import ast
import datetime as _dt
import random
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from coursekit import course as ck
from coursekit.answers import tables
from coursekit.classes import sample as sc
from coursekit.classes.edits import _fill_answers, _gid, _is_answer
from coursekit.classes.synthetic import remove_synthetic

__all__ = ["PREFIX", "COPIERS", "DISGUISES", "PlantedClass", "disguise", "build", "prepare_for_grading",
           "remove_planted"]

PREFIX = "planted-"
COPIERS = 8
DISGUISES = ("rename", "reorder", "comments", "wrap")


@dataclass
class PlantedClass:
    """Student -> notebook file name -> notebook; ``copies``: copier -> (original, disguise)."""

    notebooks: dict[str, dict[str, nbformat.NotebookNode]] = field(default_factory=dict)
    copies: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: student -> notebook id -> item -> label of the row used ("solution" for the instructor's)
    answers: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)

    @property
    def students(self) -> list[str]:
        return sorted(self.notebooks)

    def copied_pairs(self) -> set[frozenset[str]]:
        return {frozenset((c, o)) for c, (o, _) in self.copies.items()}

    def as_json(self) -> dict[str, dict[str, dict]]:
        """student -> notebook id -> notebook as plain JSON (what :func:`coursekit.insight.similarity.class_similarity` reads)."""
        return {s: {Path(name).stem: nbformat.from_dict(nb) for name, nb in per.items()}
                for s, per in self.notebooks.items()}


# =============================================================================== disguises
class _Rename(ast.NodeTransformer):
    """Rename the names a function assigns (not its parameters, not globals)."""

    def __init__(self, salt: str):
        self.salt = salt

    def visit_FunctionDef(self, node):
        params = {a.arg for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs}
        local = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)} - params
        mapping = {name: f"{self.salt}{k}" for k, name in enumerate(sorted(local))}
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and n.id in mapping:
                n.id = mapping[n.id]
        return node


def _functions(source: str) -> list[str] | None:
    """The top-level statements of ``source`` as separate sources, or None if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    lines = source.splitlines()
    out = []
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
        out.append("\n".join(lines[start:node.end_lineno]))
    return out


def disguise(sources: list[str], how: str, rng: random.Random) -> list[str]:
    """The answer cells ``sources`` of one notebook, disguised ``how`` (one of :data:`DISGUISES`)."""
    if how == "rename":
        out = []
        for src in sources:
            try:
                tree = _Rename(rng.choice(["val", "tmp", "q", "res"]) + "_").visit(ast.parse(src))
                out.append(ast.unparse(tree) + "\n")
            except SyntaxError:
                out.append(src)
        return out
    if how == "reorder":
        parts = [_functions(src) for src in sources]
        if any(p is None for p in parts) or len(sources) < 2:
            return list(sources)
        statements = [s for p in parts for s in p]
        return ["\n\n\n".join(reversed(statements)) + "\n"] + ["# see the first answer cell\n"] * (len(sources) - 1)
    if how == "comments":
        out = []
        for src in sources:
            lines = []
            for line in src.splitlines():
                code = re.sub(r"\s+#.*$", "", line) if '"' not in line and "'" not in line else line
                code = re.sub(r"(?<=\w)\s*([*/+-])\s*(?=[\w(])", r" \1 ", code) if code.strip().startswith(
                    ("return", "t ", "s ", "g ", "x")) else code
                lines.append(code)
                if code.strip().startswith("return"):
                    lines.append("")
                    indent = code[:len(code) - len(code.lstrip())]
                    lines.insert(len(lines) - 2, f"{indent}# my own derivation, see lecture notes")
            out.append("# answer\n\n" + "\n".join(lines) + "\n\n")
        return out
    if how == "wrap":
        out = []
        for src in sources:
            try:
                tree = ast.parse(src)
            except SyntaxError:
                out.append(src)
                continue
            funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
            if len(funcs) != 1 or len(tree.body) != 1:
                out.append(src)
                continue
            f = funcs[0]
            args = [a.arg for a in f.args.posonlyargs + f.args.args]
            call = ", ".join(args + [f"{a.arg}={a.arg}" for a in f.args.kwonlyargs])
            signature = src.splitlines()[f.lineno - 1]
            inner = src.replace(f"def {f.name}(", f"def _{f.name}_impl(", 1)
            out.append(signature + "\n" + textwrap.indent(inner.rstrip(), "    ") +
                       f"\n    result = _{f.name}_impl({call})\n    return result\n")
        return out
    raise ValueError(f"unknown disguise {how!r}")


# =============================================================================== the class
def build(course_root: Path | str = ck.REPO_ROOT, n: int = 40, *, seed: int = 22, copiers: int = COPIERS,
          assignment: str = ck.ASSIGNMENT_ID) -> PlantedClass:
    """``n`` students (``n - copiers`` independent, ``copiers`` disguised copies) as notebooks to submit."""
    if n < 2 * copiers:
        raise ValueError(f"a planted class needs at least {2 * copiers} students, not {n}")
    root = Path(course_root)
    rng = random.Random(seed)
    rows = tables.answer_rows()
    released = {p.name: nbformat.read(p, as_version=4) for p in sorted((root / "release" / assignment).glob("*.ipynb"))}
    if not released:
        raise FileNotFoundError(f"no released notebooks in {root / 'release' / assignment}: run `make release`")
    sources = {name: nbformat.read(root / "source" / assignment / name, as_version=4) for name in released}
    planted = PlantedClass()
    ids = [f"{PREFIX}{k:03d}" for k in range(1, n + 1)]
    independent, copying = ids[:n - copiers], ids[n - copiers:]
    for sid in independent:
        planted.notebooks[sid] = {}
        for name, rel_nb in released.items():
            nb = nbformat.from_dict(rel_nb)
            _fill_answers(nb, sources[name], "solution", [])
            table = rows.get(Path(name).stem, {})
            for cell in nb.cells:
                item = _gid(cell)
                if not _is_answer(cell) or item not in table:
                    continue
                choices = [("solution", None)] + table[item]
                label, src = rng.choice(choices)
                if src is not None:
                    cell.source = src
                planted.answers.setdefault(sid, {}).setdefault(Path(name).stem, {})[item] = label
            planted.notebooks[sid][name] = nb
    originals = rng.sample(independent, copiers)
    for k, (sid, original) in enumerate(zip(copying, originals)):
        how = DISGUISES[k % len(DISGUISES)]
        planted.copies[sid] = (original, how)
        planted.notebooks[sid] = {}
        for name, nb in planted.notebooks[original].items():
            nb = nbformat.from_dict(nb)
            cells = [c for c in nb.cells if _is_answer(c)]
            for cell, src in zip(cells, disguise([c.source for c in cells], how, rng)):
                cell.source = src
            planted.notebooks[sid][name] = nb
    return planted


def remove_planted(course_root: Path, db_url: str, course_id: str, assignment: str = ck.ASSIGNMENT_ID) -> list[str]:
    """Remove every ``planted-`` student (folders and gradebook rows)."""
    return remove_synthetic(course_root, db_url, course_id, assignment, prefix=PREFIX)


def prepare_for_grading(course_root: Path | str, n: int = 40, *, seed: int = 22, say=print,
                        assignment: str = ck.ASSIGNMENT_ID) -> list[str]:
    """Write the planted class into ``submitted/`` (removing an earlier one); return the ids to grade."""
    from coursekit.settings import read_settings

    root = Path(course_root).resolve()
    settings = read_settings(root)
    removed = remove_planted(root, settings.db_url, settings.course_id, assignment)
    if removed and say:
        say(f"removed the previous planted class ({len(removed)} students)")
    planted = build(root, n, seed=seed, assignment=assignment)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime(sc.TIMESTAMP_FORMAT)
    for sid, per in planted.notebooks.items():
        dest = root / "submitted" / sid / assignment
        dest.mkdir(parents=True)
        for name, nb in per.items():
            nbformat.write(sc.with_course_root(nb, root), dest / name)
        (dest / "timestamp.txt").write_text(stamp)
    if say:
        say(f"planted class: {len(planted.students)} submissions, {len(planted.copies)} of them disguised copies: "
            + ", ".join(f"{c} of {o} ({how})" for c, (o, how) in sorted(planted.copies.items())))
    return planted.students
