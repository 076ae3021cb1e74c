"""The trusted grader: runs the instructor's test cells, never student code.

One grader process serves one notebook of one student. It is started by
:class:`coursekit.grading.execute.TrustedExecute` (inside the sandbox of
:mod:`coursekit.grading.sandbox`: it runs Brian2 on the student's equation
strings) and talks to it over one socket with length-prefixed JSON messages
(:class:`Channel`). It runs, in one namespace of its own and in notebook order,

* the notebook's locked set-up cells (``kind="setup"``), and
* its autograded test cells (``kind="test"``), visible and hidden parts,

taking both sources from the gradebook, never from the submission. A name that
a cell uses but does not define (``exp_conductance``, ``alpha_model``) is looked
up in the student's kernel through the parent (``lookup``): a function becomes a
:class:`StudentFunction` whose calls send plain data (``call``) and get plain
data back (:mod:`coursekit.grading.plaindata`); a string or an array becomes
that value; a name the student never defined stays undefined, so the test says
"... is not defined". Each cell answers with the outputs that nbgrader scores:
a ``stream`` with what it printed and, if it failed, one ``error`` whose
traceback is a single line (no hidden test code ever reaches feedback); a
failed test cell also gets a marker output before its error that names the
misconception for the instructor's report (:mod:`coursekit.answers.misconceptions`;
it changes no score, and feedback does not show it).

Run as ``python -m coursekit.grading.grader FD`` with FD an inherited socket.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
from typing import Any

__all__ = ["Channel", "StudentFunction", "show_changes", "main"]

_HEADER = struct.Struct("!I")
#: Largest message (bytes of JSON) either side accepts.
MAX_MESSAGE = 96 << 20


class ChannelClosed(EOFError):
    """The other side went away."""


class Channel:
    """Length-prefixed JSON messages over a connected socket.

    Parameters
    ----------
    sock : socket.socket
        A connected stream socket (one end of ``socket.socketpair()``).
    """

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def send(self, message: dict) -> None:
        data = json.dumps(message, allow_nan=False).encode("utf-8")
        if len(data) > MAX_MESSAGE:
            raise ValueError(f"message of {len(data)} bytes is larger than {MAX_MESSAGE}")
        self.sock.sendall(_HEADER.pack(len(data)) + data)

    def _exactly(self, n: int) -> bytes:
        chunks, left = [], n
        while left:
            chunk = self.sock.recv(min(left, 1 << 20))
            if not chunk:
                raise ChannelClosed("the other side closed the channel")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def receive(self, timeout: float | None = None) -> dict:
        """The next message; ``TimeoutError`` after `timeout` seconds without one."""
        self.sock.settimeout(timeout)
        try:
            (size,) = _HEADER.unpack(self._exactly(_HEADER.size))
            if size > MAX_MESSAGE:
                raise ChannelClosed(f"message of {size} bytes announced; refusing")
            self.sock.settimeout(max(timeout or 0, 60) if timeout is not None else None)
            message = json.loads(self._exactly(size).decode("utf-8"))
        except socket.timeout:
            raise TimeoutError("no message in time") from None
        finally:
            self.sock.settimeout(None)
        if type(message) is not dict:
            raise ChannelClosed("a message that is not a JSON object")
        return message


# ---------------------------------------------------------------------------
# Inside the grader process
# ---------------------------------------------------------------------------
_channel: Channel | None = None


def _grading():
    import helpers.grading as grading
    return grading


def _exception_class(ename: str) -> type:
    """An exception class with the student's exception's name, never one with behaviour of its own."""
    import builtins
    name = ename if isinstance(ename, str) and ename.isidentifier() else "Exception"
    builtin = getattr(builtins, name, None)
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        return builtin
    return type(name, (Exception,), {"__module__": "student"})


class StudentFunction:
    """Stands in for a function defined in the student's kernel.

    Calling it sends the arguments as plain data to the kernel, which calls the
    student's function there, and returns the plain data it sends back. A
    student exception is raised again here as an exception of the same name (a
    builtin class or a bare subclass of ``Exception``); a call that runs over
    its time limit, kills the kernel or returns something that is not plain
    data raises ``GradingError`` with one sentence.
    """

    __slots__ = ("_name",)

    def __init__(self, name: str):
        self._name = name

    @property
    def __name__(self) -> str:  # messages use fn.__name__
        return self._name

    def __repr__(self) -> str:
        return f"<student function {self._name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from coursekit.grading import plaindata
        grading = _grading()
        try:
            request = {"op": "call", "name": self._name, "args": plaindata.encode(list(args)),
                       "kwargs": plaindata.encode(dict(kwargs))}
        except plaindata.PlainDataError as exc:  # the test passed something odd: a grader bug
            raise grading.CourseError(f"cannot send {exc} to {self._name}") from None
        assert _channel is not None
        _channel.send(request)
        reply = _channel.receive()
        show_changes(args, kwargs, reply)
        status = reply.get("status")
        if status == "ok":
            try:
                return plaindata.decode(reply.get("value"))
            except plaindata.PlainDataError as exc:
                raise grading.GradingError(f"{self._name} returned {exc}; expected a number, an array of numbers "
                                           "or a string") from None
        if status == "error":
            raise _exception_class(reply.get("ename", "Exception"))(str(reply.get("evalue", "")))
        if status == "unsupported":
            raise grading.GradingError(f"{self._name} returned {str(reply.get('what', 'an object'))[:200]}; "
                                       "expected a number, an array of numbers or a string")
        if status == "missing":
            raise NameError(f"name {self._name!r} is not defined", name=self._name)
        raise grading.GradingError(f"{self._name}: " + str(reply.get("message", "the call failed"))[:300])


def show_changes(args: tuple, kwargs: dict, reply: dict) -> list[str]:
    """Make the caller see what the student's function did to its arguments; the names of those it changed.

    The kernel sends back, as plain data, each argument that the call left
    different from what it received (``changed_args`` by position,
    ``changed_kwargs`` by name). Here each is compared with what was sent, and
    a changed array, list or dict of the caller is changed the same way in
    place, so that a check such as ``check_waveform``'s "changed the array t
    that was passed in" (``modifies-input``) sees it as it would in the
    student's own kernel. An argument that cannot take the change (a number, a
    tuple, another shape or dtype) is left alone. A kernel can lie here (send
    nothing back); that only hides a side effect of its own function, it
    cannot make a wrong value right.
    """
    from coursekit.grading import plaindata
    import numpy as np

    changed_args = reply.get("changed_args")
    changed_kwargs = reply.get("changed_kwargs")
    pairs = []
    if type(changed_args) is dict:
        pairs += [(args[int(k)], v, f"argument {int(k) + 1}") for k, v in changed_args.items()
                  if isinstance(k, str) and k.isdigit() and int(k) < len(args)]
    if type(changed_kwargs) is dict:
        pairs += [(kwargs[k], v, k) for k, v in changed_kwargs.items() if k in kwargs]
    names = []
    for given, data, name in pairs:
        try:
            now = plaindata.decode(data)
        except plaindata.PlainDataError:
            continue
        if isinstance(given, np.ndarray) and isinstance(now, np.ndarray) and type(given) is np.ndarray:
            if now.shape != given.shape or now.dtype != given.dtype or not given.flags.writeable:
                continue
            if np.array_equal(now, given, equal_nan=now.dtype.kind in "fc"):
                continue
            given[...] = now
        elif type(given) is list and type(now) is list:
            if _same(now, given):
                continue
            given[:] = now
        elif type(given) is dict and type(now) is dict:
            if _same(now, given):
                continue
            given.clear()
            given.update(now)
        else:
            continue
        names.append(name)
    return names


def _same(a: Any, b: Any) -> bool:
    from coursekit.grading import plaindata
    try:
        return plaindata.encode(a) == plaindata.encode(b)
    except plaindata.PlainDataError:
        return False


class _NoShell:
    """``get_ipython()`` of the set-up cells: magics (``%matplotlib inline``) do nothing here."""

    def run_line_magic(self, *args: Any, **kwargs: Any) -> None:
        return None

    run_cell_magic = run_line_magic
    system = run_line_magic

    def getoutput(self, *args: Any, **kwargs: Any) -> list:
        return []


def _free_names(tree: Any, namespace: dict) -> list[str]:
    import ast
    import builtins
    stored, loaded = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                loaded.append(node.id)
            else:
                stored.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            stored.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                stored.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.arg):
            stored.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            stored.add(node.name)
    seen, free = set(), []
    for name in loaded:
        if name in seen or name in stored or name in namespace or hasattr(builtins, name):
            continue
        seen.add(name)
        free.append(name)
    return free


def _error_output(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}


def run_cell(source: str, kind: str, namespace: dict) -> tuple[list[dict], str]:
    """Run one trusted cell in `namespace`; return its nbgrader outputs and a log text.

    Names the cell uses but does not define are looked up in the student's
    kernel first (test cells only). The outputs hold at most one stdout stream
    and one error with a one-line traceback.
    """
    import ast
    import contextlib
    import io
    import traceback
    import warnings

    from IPython.core.inputtransformer2 import TransformerManager
    from coursekit.grading import plaindata

    import time

    log = io.StringIO()
    out = io.StringIO()
    error = None
    marker = None
    started = time.monotonic()
    try:
        code = TransformerManager().transform_cell(source)
        tree = ast.parse(code, filename=f"<{kind} cell>")
        if kind == "test":
            free = _free_names(tree, namespace)
            if free:
                assert _channel is not None
                _channel.send({"op": "lookup", "names": free})
                reply = _channel.receive()
                if reply.get("status") != "ok" or type(reply.get("names")) is not dict:
                    why = str(reply.get("message", "it gave no answer"))[:300]
                    for name in free:
                        namespace[name] = _Unusable(name, None, f"the notebook's kernel could not be asked for "
                                                              f"{name}: {why} (was IPython's input handling "
                                                              "changed?)")
                for name, found in (reply.get("names") or {}).items():
                    if name not in free or type(found) is not dict:
                        continue
                    if found.get("kind") == "function":
                        namespace[name] = StudentFunction(name)
                    elif found.get("kind") == "value":
                        try:
                            namespace[name] = plaindata.decode(found.get("value"))
                        except plaindata.PlainDataError as exc:
                            namespace[name] = _Unusable(name, str(exc))
                    elif found.get("kind") == "unsupported":
                        namespace[name] = _Unusable(name, str(found.get("what", "an object"))[:200])
                    else:
                        namespace.pop(name, None)
        compiled = compile(tree, f"<{kind} cell>", "exec")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(log), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compiled, namespace)  # noqa: S102 (the instructor's own cell, from the gradebook)
    except Exception as exc:  # noqa: BLE001 (every failure becomes one line)
        grading = sys.modules.get("helpers.grading")
        expected = grading is not None and isinstance(exc, (grading.GradingError,))
        if not expected:
            log.write("".join(traceback.format_exception(exc)))
        ename = "GradingError" if expected else type(exc).__name__
        error = _error_output(ename, " ".join(str(exc).split())[:2000] or ename)
        if kind == "test":  # the misconception, for the instructor only (coursekit.answers.misconceptions)
            try:
                marker = _misconception_marker(exc, code, namespace, time.monotonic() - started)
            except Exception:  # noqa: BLE001 (naming it must never change the grade)
                log.write("".join(traceback.format_exception(*sys.exc_info())))
    outputs = []
    if out.getvalue():
        outputs.append({"output_type": "stream", "name": "stdout", "text": out.getvalue()[:20000]})
    if marker is not None:
        outputs.append(marker)
    if error is not None:
        outputs.append(error)
    return outputs, log.getvalue()[-20000:]


#: The line that starts the hidden part of a test cell (nbgrader's marker).
HIDDEN_MARKER = "### BEGIN HIDDEN TESTS"


#: A failed test cell that took longer than this (s) is not run again to name its misconception.
SECOND_RUN_LIMIT = 20.0


def _misconception_marker(exc: BaseException, code: str, namespace: dict, seconds: float = 0.0) -> dict:
    """The marker output naming the misconception behind a failed test cell.

    A quick (visible) check that fails first often says only what is off ("at
    rest only about 5 % of the channels conduct"); the hidden tests name the
    cause. So when the failure carries no identifier of its own, the hidden
    part of the cell runs once more on its own, its outputs discarded, and its
    identifier is used if it has one. The cell's outputs and score stay those
    of the first run. A cell that failed because the student's code ran out of
    time or killed the kernel, or that took longer than
    :data:`SECOND_RUN_LIMIT`, is not run again (the grader's time budget is
    the cell's).
    """
    import contextlib
    import io
    import warnings

    from coursekit.answers import misconceptions

    ident, origin = misconceptions.identify(exc)
    settled = misconceptions.RUNTIME | {"not-answered", "not-defined"}  # the hidden tests would say the same
    if origin != "check" and ident not in settled and seconds < SECOND_RUN_LIMIT \
            and HIDDEN_MARKER in code and not _in_hidden_part(exc, code):
        hidden = code[code.index(HIDDEN_MARKER):]
        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(compile(hidden, "<hidden tests>", "exec"), namespace)  # noqa: S102 (the instructor's)
        except Exception as second:  # noqa: BLE001
            ident2, origin2 = misconceptions.identify(second)
            if origin2 == "check" or (origin2 == "catalogue" and misconceptions.kind(ident2) != "code"
                                      and misconceptions.kind(ident) in ("code", "other")) \
                    or (origin2 == "catalogue" and origin == "none"):
                ident, origin = ident2, origin2 + "/hidden"
    return misconceptions.marker_output(ident, origin)


def _in_hidden_part(exc: BaseException, code: str) -> bool:
    """True if the failure was raised in the hidden part of the cell (no second run needed)."""
    start = code[:code.index(HIDDEN_MARKER)].count("\n") + 1 if HIDDEN_MARKER in code else 10 ** 9
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<test cell>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line is not None and line >= start


class _Unusable:
    """A student's name bound to something that is not plain data: any use fails with one sentence."""

    def __init__(self, name: str, what: str | None, sentence: str = ""):
        self._sentence = sentence or f"{name} is {what}; expected a function, a number, an array of numbers or a string"

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise _grading().GradingError(self._sentence)

    __call__ = __getattr__ = __str__ = __len__ = __iter__ = __array__ = __float__ = _fail


def main(argv: list[str] | None = None) -> int:
    """Serve ``run`` requests on the inherited socket until ``exit`` or EOF."""
    global _channel
    argv = sys.argv[1:] if argv is None else argv
    _channel = Channel(socket.socket(fileno=int(argv[0])))
    namespace: dict[str, Any] = {"__name__": "__main__", "get_ipython": _NoShell}
    _channel.send({"op": "ready"})
    while True:
        try:
            message = _channel.receive()
        except ChannelClosed:
            return 0
        if message.get("op") == "exit":
            return 0
        if message.get("op") != "run":
            continue
        outputs, log = run_cell(str(message.get("source", "")), str(message.get("kind", "test")), namespace)
        _channel.send({"op": "done", "outputs": outputs, "log": log})


if __name__ == "__main__":
    sys.exit(main())
