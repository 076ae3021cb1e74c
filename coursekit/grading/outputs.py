"""What the trusted Execute writes into a notebook's cells: pure helpers, no process, no kernel.

The grader's outputs cleaned to what nbgrader may score (:func:`_clean_outputs`),
one-line error outputs (:func:`_error`), the size of a kernel message's content
(:func:`_content_size`), the notices of dropped outputs (:func:`dropped_notice`,
:func:`late_output_notice`), the rescue's messages and the digest that names a cell source across runs (:func:`source_digest`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from nbformat.notebooknode import NotebookNode, from_dict

from coursekit.answers import misconceptions
from coursekit.grading.kernel import MAX_KERNEL_MESSAGE


def source_digest(source: str) -> str:
    """SHA-1 (hex) of a cell source, stripped of surrounding whitespace.

    >>> source_digest("  x = 1  ") == source_digest("x = 1")
    True
    """
    return hashlib.sha1(source.strip().encode("utf-8")).hexdigest()


def _error(ename: str, evalue: str) -> NotebookNode:
    return from_dict({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]})


def _utc_now() -> str:
    """The time now as nbclient writes it in ``metadata.execution`` (ISO 8601, UTC, ``Z``)."""
    import datetime
    return datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def _content_size(content: Any) -> int:
    """Characters of the strings in a message's content (what an output would hold)."""
    if isinstance(content, str):
        return len(content)
    if isinstance(content, dict):
        return sum(_content_size(v) for v in content.values())
    if isinstance(content, list):
        return sum(_content_size(v) for v in content)
    return 8


def _clean_outputs(outputs: Any) -> list[NotebookNode]:
    """The grader's outputs as nbformat outputs: only stdout streams, misconception markers and one-line errors."""
    clean = []
    for out in outputs if isinstance(outputs, list) else []:
        if not isinstance(out, dict):
            continue
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            clean.append(from_dict({"output_type": "stream", "name": "stdout", "text": str(out.get("text", ""))}))
        elif misconceptions.is_marker(out):
            value = out["data"][misconceptions.MIME_TYPE]
            value = value if isinstance(value, dict) else {}
            clean.append(from_dict(misconceptions.marker_output(str(value.get("id", "")),
                                                                str(value.get("from", ""))[:20])))
        elif out.get("output_type") == "error":
            clean.append(_error(str(out.get("ename", "Error")), str(out.get("evalue", ""))))
    return clean


def dropped_notice(cell_limit_reached: bool, max_cell: int, max_notebook: int, count: int, size: int) -> str:
    """The line at the end of a cell's outputs once outputs are dropped (:meth:`TrustedExecute.output`).

    >>> print(dropped_notice(True, 2 << 20, 16 << 20, 3, 4096).strip())
    [output cut: this cell's output limit (2 MiB per cell, 16 MiB per notebook) was reached; 3 more outputs (4,096 bytes) were dropped]
    """
    which = "this cell's" if cell_limit_reached else "this notebook's"
    return (f"\n[output cut: {which} output limit ({max_cell >> 20} MiB per cell, {max_notebook >> 20} MiB per "
            f"notebook) was reached; {count} more outputs ({size:,} bytes) were dropped]\n")


def late_output_notice(iopub_timeout: float) -> NotebookNode:
    """The line added to a kernel cell whose output did not end after its reply (:meth:`TrustedExecute._execute_kernel_cell`)."""
    return from_dict({
        "output_type": "stream", "name": "stdout",
        "text": f"\n[output cut: this cell's output had not ended {iopub_timeout} s after the cell "
                f"finished, or came in messages over the {MAX_KERNEL_MESSAGE >> 20} MiB limit; the rest was "
                "dropped]\n"})


def stuck_message(timeout: Any) -> str:
    """The rescue's error for a cell that ran past `timeout` s and ignored the interrupt."""
    return (f"this cell was still running after the {timeout} s time limit and ignored the interrupt "
            "(is KeyboardInterrupt caught, or SIGINT ignored, in a loop?); the grader killed the kernel, "
            "restarted it and re-ran the cells above")


#: The rescue's error for a cell during which the kernel died.
DIED_MESSAGE = ("the kernel died while this cell ran (os._exit, a crash, running out of memory or writing more "
                "than the disk quota); the grader restarted it and re-ran the cells above")
