"""The cost of the similarity of submissions in the class report, for 200 students.

In one run, in a temporary course: a gradebook and autograded notebooks for 200
simulated students (:func:`coursekit.classes.synthetic.simulate`, no grading
run), and as their submissions the notebooks of a planted class of 200
(:mod:`coursekit.classes.planted`: rows of the mutation tables, 40 of them
disguised copies of classmates). The class report is built twice, alternately:
without the similarity (``build_report(similarity=False)``, the baseline) and
with it (copydetect on every pair of students in every notebook and over the
whole assignment: 6 x 19,900 + 19,900 comparisons). The ratio is
with / without; the recall over the 40 copies and the independent pairs flagged
are reported with it, so a faster but blind setting cannot pass unnoticed.

Usage: ``.venv/bin/python benchmarks/bench_similarity.py`` (or ``make bench``).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
N = 200
COPIERS = 40
REPEATS = 2


def run() -> dict:
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    from coursekit.insight import class_report as cr
    from coursekit.classes import planted as pc
    from coursekit import release as rel
    from coursekit import course as ck
    from coursekit.insight import similarity as sm
    from coursekit.classes import synthetic as syn

    with tempfile.TemporaryDirectory() as tmp:
        root = rel.make_course(Path(tmp) / "course")
        url = f"sqlite:///{root / 'gradebook.db'}"
        syn.simulate(root, N, db_url=url, course_id="bench")
        shutil.copytree(REPO / "release", root / "release")  # the starter code (boilerplate of the comparison)
        planted = pc.build(root, N, copiers=COPIERS)
        names = {p: f"{syn.PREFIX}{k:03d}" for k, p in enumerate(planted.students, start=1)}
        for student, per in planted.notebooks.items():
            dest = root / "submitted" / names[student] / ck.ASSIGNMENT_ID
            dest.mkdir(parents=True, exist_ok=True)
            for name, nb in per.items():
                nbformat.write(nb, dest / name)
        without, with_ = [], []
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            cr.build_report(root, ck.ASSIGNMENT_ID, root / "reports" / "without.html", db_url=url,
                            course_id="bench", say=None, similarity=False)
            without.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            cr.build_report(root, ck.ASSIGNMENT_ID, root / "reports" / "with.html", db_url=url,
                            course_id="bench", say=None)
            with_.append(time.perf_counter() - t0)
        data = cr.collect(root, ck.ASSIGNMENT_ID, db_url=url, course_id="bench")
        flagged = data.similarity.flagged_pairs(sm.ALL)
        truth = {frozenset(names[s] for s in pair) for pair in planted.copied_pairs()}
        truth = {pair for pair in truth if pair <= set(data.students)}  # 1 in 30 simulated submits nothing
        submitted = len(data.students)
    return {"students": N, "submitted": submitted, "copies": len(truth),
            "report_without_s": min(without), "report_with_s": min(with_),
            "similarity_cost_ratio": min(with_) / min(without),
            "copies_flagged": len(flagged & truth), "independent_pairs_flagged": len(flagged - truth),
            "load_avg": os.getloadavg()[0]}


def main() -> None:
    for key, value in run().items():
        print(f"{key}: {value:.3g}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
