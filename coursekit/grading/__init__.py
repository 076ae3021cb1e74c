"""Grading one notebook: the sandbox, the sandboxed kernel and grader, and the trusted Execute."""
