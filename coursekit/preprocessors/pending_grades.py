"""``GetGradesPending``: feedback says "not graded yet" for an answer nobody has marked.

nbgrader's ``GetGrades`` copies each grade cell's score from the gradebook
into the cell's metadata, and the feedback template (nbgrader's
``feedback/index.html.j2``) prints it as ``Score: {{ score | float }} / {{ points }}``.
A written answer that still waits for its grader has ``needs_manual_grade``
and no manual score; its score is 0, so the student reads "Written response
(Score: 0.0 / 2.0)" (trial 3) and takes it for zero marks.

The template offers no hook for a third state (its ``float`` filter turns any
marker into 0.0), so instead of copying the template this step changes what
it is given, in the feedback copy of the notebook only: a pending cell loses
its ``grade`` flag there (the template then shows it as "Student's answer"
without a score and leaves it out of the list of scores at the top) and gets
the comment "Not graded yet: ...", which the template prints under the
answer. The gradebook is not touched; once a grader has marked the answer,
the next ``generate_feedback`` shows its score as usual. The notebook's total
at the top stays nbgrader's (the points given so far, out of all points).
"""

from __future__ import annotations

from nbgrader.preprocessors import GetGrades

__all__ = ["GetGradesPending", "PENDING_NOTE", "is_pending"]

#: The comment a pending answer gets in feedback (``{points}`` is the cell's points).
PENDING_NOTE = "Not graded yet: this answer is marked by hand ({points:g} points); its score appears here once it is."


def is_pending(grade) -> bool:
    """True for a gradebook grade that waits for a grader (no manual score yet)."""
    return bool(getattr(grade, "needs_manual_grade", False)) and getattr(grade, "manual_score", None) is None


class GetGradesPending(GetGrades):
    """``GetGrades`` that shows an unmarked manually graded answer as "not graded yet"."""

    def _get_score(self, cell, resources):
        super()._get_score(cell, resources)
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        if not is_pending(grade):
            return
        meta = cell.metadata["nbgrader"]
        meta["grade"] = False  # the template prints no "Score: 0.0 / N" for it
        meta.pop("score", None)
        note = PENDING_NOTE.format(points=float(grade.max_score or 0.0))
        meta["comment"] = note + (f"\n\n{meta['comment']}" if meta.get("comment") else "")
