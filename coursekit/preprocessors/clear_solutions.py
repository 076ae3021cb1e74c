"""Small nbgrader extensions used by ``nbgrader_config.py``.

``InstructiveClearSolutions`` makes each student stub say what to do. In a
source notebook the line right above ``### BEGIN SOLUTION`` may be a comment
``# TODO: <one-line instruction>``; the released stub then reads::

    # TODO: <one-line instruction>
    raise NotImplementedError("<one-line instruction>")

so the error a student sees before answering is the instruction itself.
Cells without such a comment get nbgrader's configured stub.
"""

from __future__ import annotations

import re

from nbgrader.preprocessors import ClearSolutions

_TODO = re.compile(r"^\s*#\s*TODO:\s*(?P<text>.+?)\s*$")


def stub_instruction(source: str, begin_marker: str = "BEGIN SOLUTION") -> str | None:
    """The ``# TODO:`` text right above the first solution marker, if any."""
    previous = None
    for line in source.splitlines():
        if begin_marker in line:
            if previous is None:
                return None
            match = _TODO.match(previous)
            return match.group("text") if match else None
        if line.strip():
            previous = line
    return None


class InstructiveClearSolutions(ClearSolutions):
    """ClearSolutions whose Python stub raises the cell's own ``# TODO:`` instruction."""

    def _replace_solution_region(self, cell, language):
        instruction = stub_instruction(cell.source, self.begin_solution_delimeter)
        if instruction is None or language != "python":
            return super()._replace_solution_region(cell, language)
        original = self.code_stub
        self.code_stub = dict(original, python=f"raise NotImplementedError({instruction!r})")
        try:
            return super()._replace_solution_region(cell, language)
        finally:
            self.code_stub = original
