"""Writing answer cells for the tables (:mod:`coursekit.answers.nb01` ...): a signature and a body.

>>> print(function_answer("def f(x):", '''
...     y = 2 * x
...     return y
...     '''), end="")
def f(x):
    y = 2 * x
    return y
>>> answer = answer_writer({"f": "def f(x):"})
>>> answer("f", "return x") == function_answer("def f(x):", "return x")
True
"""

from __future__ import annotations

import textwrap

__all__ = ["function_answer", "answer_writer"]


def function_answer(signature: str, body: str) -> str:
    """An answer cell: ``signature`` and the (dedented) ``body`` indented under it."""
    return signature + "\n" + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"


def answer_writer(signatures: dict[str, str]):
    """``answer(item, body)``: :func:`function_answer` with the item's signature."""
    def answer(name: str, body: str) -> str:
        return function_answer(signatures[name], body)

    return answer
