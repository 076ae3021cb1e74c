"""Similarity of the students' own code across a class, with copydetect (winnowing, the method of MOSS).

For each notebook, every pair of students is compared on their *own* code:
the code cells nbgrader marks as solution cells (``nbgrader.solution``),
joined in notebook order. Locked cells (the course's set-up and tests) never
enter; the release's starter code of the same cells (signature, docstring,
``# TODO`` line) is given to copydetect as boilerplate, so what every
student received is not counted as shared. The whole assignment (every
notebook's own code, joined) is compared as well, under the name
:data:`ALL`: a student who copies a classmate's assignment is similar in
every notebook, two students who both wrote the obvious formula in one cell
are not.

The fingerprinting, the winnowing and the matching regions are
copydetect's (:class:`copydetect.CodeFingerprint`,
:func:`copydetect.compare_files`; https://github.com/blingenf/copydetect):
its tokenizer (pygments) replaces every variable name with ``V`` and every
function name with ``F`` and drops comments and whitespace, so renamed
variables, changed comments and reformatting do not hide a copy; k-gram
fingerprints are order-free, so reordered functions and a copied function
wrapped in another still share theirs.

A pair's score is the larger of copydetect's two fractions (the share of
one student's fingerprinted code found in the other's): a copied function
wrapped in a larger one is the whole of the original. Where the method cannot
tell:

* code shorter than :data:`MIN_TOKENS` filtered characters (one-line answers)
  gives no score: a shared one-liner is what everyone writes;
* string literals become one token ``S``: the Brian2 model strings of
  notebooks 02 and 03 are compared by the Python around them only;
* a student who copies and then rewrites every line is not found.

A score is a measure of shared text, never a verdict: the report says
"similar", a person decides.
"""

from __future__ import annotations

import io
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

__all__ = ["ALL", "THRESHOLD", "MIN_TOKENS", "NOISE", "GUARANTEE", "Pair", "Similarity", "own_code",
           "compare_class", "class_similarity", "read_notebooks", "write_csv"]

#: The pseudo-notebook of the whole assignment (every notebook's own code joined).
ALL = "(whole assignment)"
#: Pairs at or above this score are listed (copydetect's default display threshold is 0.33). On the
#: planted class (coursekit.classes.planted) the 8 disguised copies score 0.89-1.0 over the whole
#: assignment, the most similar independent pair 0.71.
THRESHOLD = 0.8
#: Fewer fingerprinted characters of filtered code than this: too short to tell (no score).
MIN_TOKENS = 60
#: copydetect's noise threshold k (shorter matches are ignored) and guarantee threshold
#: (longer matches are always found); its defaults are 25 and 30.
NOISE = 25
GUARANTEE = 30
#: A student's own code in one notebook is cut at this many characters (a submission is hostile: a
#: megabyte cell must not stall the report; real answers are a few thousand).
MAX_CHARS = 60_000


@dataclass
class Pair:
    """Two students' own code in one notebook (or :data:`ALL`)."""

    notebook: str
    a: str
    b: str
    score: float
    #: copydetect's two fractions: of a's code found in b's, of b's found in a's
    fraction_a: float = 0.0
    fraction_b: float = 0.0
    #: the two codes cut into (text, matching) pieces, for a side-by-side view (escaped by the template)
    pieces_a: list[tuple[str, bool]] = field(default_factory=list)
    pieces_b: list[tuple[str, bool]] = field(default_factory=list)


@dataclass
class Similarity:
    """All pair scores of a class, per notebook."""

    threshold: float = THRESHOLD
    notebooks: list[str] = field(default_factory=list)
    #: notebook -> every scored pair's score (for the distribution figure)
    scores: dict[str, list[float]] = field(default_factory=dict)
    #: pairs at or above the threshold, best first (notebook order, then score)
    flagged: list[Pair] = field(default_factory=list)
    #: notebook -> students whose own code was too short to score
    too_short: dict[str, list[str]] = field(default_factory=dict)
    #: every scored pair (notebook, a, b, score), for the CSV
    rows: list[tuple[str, str, str, float]] = field(default_factory=list)

    def flagged_in(self, notebook: str) -> list[Pair]:
        return [p for p in self.flagged if p.notebook == notebook]

    def flagged_pairs(self, notebook: str = ALL) -> set[frozenset[str]]:
        return {frozenset((p.a, p.b)) for p in self.flagged if p.notebook == notebook}


# =============================================================================== reading
def _meta(cell: Mapping) -> Mapping:
    return (cell.get("metadata") or {}).get("nbgrader") or {}


def _source(cell: Mapping) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def own_code(nb: Mapping) -> str:
    """The code of ``nb``'s solution cells (what a student writes), joined in order; locked cells excluded."""
    parts = [_source(c) for c in nb.get("cells", [])
             if c.get("cell_type") == "code" and _meta(c).get("solution") and not _meta(c).get("locked")]
    return ("\n\n".join(p.rstrip() for p in parts if p.strip()) + "\n")[:MAX_CHARS]


def read_notebooks(course_root: Path, assignment: str, students: Iterable[str]) -> dict[str, dict[str, dict]]:
    """student -> notebook -> notebook JSON: the submitted notebook, else the autograded one (nbgrader keeps
    the solution cells as submitted).

    Only read as JSON: nothing of it is run.
    """
    root = Path(course_root)
    out: dict[str, dict[str, dict]] = {}
    for student in students:
        for top in ("submitted", "autograded"):
            folder = root / top / student / assignment
            if folder.is_dir():
                for path in sorted(folder.glob("*.ipynb")):
                    try:
                        out.setdefault(student, {})[path.stem] = json.loads(path.read_text(encoding="utf-8"))
                    except (OSError, ValueError):
                        continue
                break
    return out


# =============================================================================== comparing
def _fingerprint(name: str, code: str, boilerplate=None):
    from copydetect import CodeFingerprint

    return CodeFingerprint(f"{name}.py", NOISE, GUARANTEE - NOISE + 1, boilerplate=boilerplate,
                           language="python", fp=io.StringIO(code))


def _pieces(code: str, slices) -> list[tuple[str, bool]]:
    """``code`` cut at copydetect's matching slices (2 x N array of starts and ends in the raw code)."""
    out, at = [], 0
    spans = sorted(zip((int(s) for s in slices[0]), (int(e) for e in slices[1]))) if len(slices[0]) else []
    for start, end in spans:
        start, end = max(start, at), min(max(end, start), len(code))
        if start > at:
            out.append((code[at:start], False))
        if end > start:
            out.append((code[start:end], True))
        at = max(at, end)
    if at < len(code):
        out.append((code[at:], False))
    return out


def compare_class(codes: Mapping[str, str], starter: str = "", *, notebook: str = "", threshold: float = THRESHOLD,
                  keep_pieces: bool = True):
    """Every pair of ``codes`` (student -> own code) with copydetect.

    Returns ``(scores, flagged, too_short, rows)``: the list of every pair's
    score, the :class:`Pair` objects at or above ``threshold`` (best first),
    the students too short to score, and (notebook, a, b, score) rows.
    """
    import numpy as np
    from copydetect import compare_files

    boiler = None
    if starter.strip():
        boiler = np.array(sorted(_fingerprint("starter", starter).hashes), dtype=np.int64)
    prints, too_short = {}, []
    for student in sorted(codes):
        fp = _fingerprint(student, codes[student], boiler)
        if fp.token_coverage < MIN_TOKENS:
            too_short.append(student)
        else:
            prints[student] = fp
    scores, flagged, rows = [], [], []
    for a, b in itertools.combinations(sorted(prints), 2):
        fa, fb = prints[a], prints[b]
        if fa.hashes.isdisjoint(fb.hashes):
            score, fracs, slices = 0.0, (0.0, 0.0), None
        else:
            _, fracs, slices = compare_files(fa, fb)
            score = float(max(fracs))
        scores.append(score)
        rows.append((notebook, a, b, round(score, 4)))
        if score >= threshold:
            pair = Pair(notebook, a, b, score, float(fracs[0]), float(fracs[1]))
            if keep_pieces and slices is not None:
                pair.pieces_a = _pieces(fa.raw_code, slices[0])
                pair.pieces_b = _pieces(fb.raw_code, slices[1])
            flagged.append(pair)
    flagged.sort(key=lambda p: (-p.score, p.a, p.b))
    return scores, flagged, too_short, rows


def class_similarity(notebooks: Mapping[str, Mapping[str, Mapping]], released: Mapping[str, Mapping] | None = None,
                     *, threshold: float = THRESHOLD, keep_pieces: bool = True) -> Similarity:
    """Similarity of a class: ``notebooks`` is student -> notebook name -> notebook JSON (as submitted or
    autograded), ``released`` notebook name -> the released notebook (its starter code is boilerplate)."""
    released = released or {}
    names = sorted({nb for per in notebooks.values() for nb in per})
    result = Similarity(threshold=threshold, notebooks=names + [ALL])
    whole: dict[str, str] = {}
    for name in names:
        codes = {s: own_code(per[name]) for s, per in notebooks.items() if name in per}
        for s, code in codes.items():
            whole[s] = whole.get(s, "") + f"# --- {name}\n" + code
        starter = own_code(released[name]) if name in released else ""
        _add(result, name, codes, starter, threshold, keep_pieces)
    starter_all = "".join(f"# --- {n}\n" + own_code(released[n]) for n in names if n in released)
    _add(result, ALL, whole, starter_all, threshold, keep_pieces=False)
    return result


def _add(result: Similarity, name: str, codes, starter: str, threshold: float, keep_pieces: bool) -> None:
    scores, flagged, short, rows = compare_class(codes, starter, notebook=name, threshold=threshold,
                                                 keep_pieces=keep_pieces)
    result.scores[name] = scores
    result.flagged.extend(flagged)
    if short:
        result.too_short[name] = short
    result.rows.extend(rows)


def write_csv(sim: Similarity, path: Path) -> Path:
    """``reports/<assignment>-similarity.csv``: notebook, student a, student b, score (every scored pair)."""
    import csv

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["notebook", "student_a", "student_b", "score"])
        for row in sorted(sim.rows, key=lambda r: (r[0] == ALL, r[0], -r[3], r[1], r[2])):
            w.writerow(row)
    return path
