"""coursekit.grading.plaindata: only numbers, strings, lists and dicts cross from the kernel."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from coursekit.grading import plaindata as pd


def _kinds():
    """Every kind of value the contract lets cross, with an id."""
    from brian2 import mV, ms, nS
    return {
        "None": None, "True": True, "False": False, "int": 3, "negative int": -7, "big int": 2 ** 70,
        "float": -2.5, "nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "str": "divisive",
        "list": [1, 2.0, "x", True], "tuple": (1.0, 2.0), "dict": {"a": 1.0, "b": [1, 2]},
        "np.float64": np.float64(0.1), "np.float32": np.float32(0.25), "np.int64": np.int64(-3),
        "np.int32": np.int32(7), "np.uint8": np.uint8(200), "np.bool_ True": np.True_, "np.bool_ False": np.False_,
        "np.complex128": np.complex128(1 - 2j), "np.float64 nan": np.float64("nan"),
        "0-d float array": np.array(3.0), "0-d float32 array": np.array(3.0, dtype=np.float32),
        "0-d bool array": np.array(True), "0-d int array": np.array(4),
        "1-d float": np.linspace(0.0, 1.0, 7), "2-d int": np.arange(6).reshape(2, 3),
        "1-d bool": np.array([True, False]), "1-d complex": np.array([1 + 2j]),
        "float32 array": np.ones(3, dtype=np.float32), "nan array": np.array([np.nan, -np.inf]),
        "empty array": np.zeros((0, 2)), "Fortran array": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "quantity scalar": 5 * ms, "quantity array": np.array([1.0, 2.0]) * nS, "quantity negative": -65 * mV,
        "nested": {"x": [np.float32(1.5), (np.array([1, 2]), np.True_)]},
    }


def assert_same(back, value):
    """`back` is `value`: same type all the way down, same dtype, shape and numbers (NaN equal to NaN)."""
    assert type(back) is type(value), (back, value)
    if isinstance(value, (np.ndarray, np.generic)):
        assert back.dtype == value.dtype and np.shape(back) == np.shape(value)
        np.testing.assert_array_equal(back, value)
        if hasattr(value, "dim"):
            assert back.dim == value.dim
    elif isinstance(value, (list, tuple)):
        assert len(back) == len(value)
        for b, v in zip(back, value):
            assert_same(b, v)
    elif isinstance(value, dict):
        assert list(back) == list(value)
        for k in value:
            assert_same(back[k], value[k])
    elif isinstance(value, float) and value != value:
        assert back != back
    else:
        assert back == value


KINDS = sorted(_kinds())


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_keeps_its_type_through_the_grader_side(kind):
    value = _kinds()[kind]
    assert_same(pd.loads(pd.dumps(value)), value)


class _FakeShell:
    """What KERNEL_CODE uses of IPython in the kernel: ``user_ns`` and the comm manager."""

    def __init__(self):
        self.user_ns = {}
        self.targets = {}
        manager = type("CommManager", (), {"register_target": lambda _, name, f: self.targets.__setitem__(name, f)})
        self.kernel = type("Kernel", (), {"comm_manager": manager()})()


def kernel_side(monkeypatch):
    """The kernel side of plain data, run for real: ``ask(request)`` gives what the kernel would send back."""
    import IPython
    shell = _FakeShell()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    exec(pd.kernel_code(), {})  # noqa: S102 (the course's own kernel code)
    replies = []

    class Comm:
        def on_msg(self, f):
            self.receive = f
            return f

        def send(self, data):
            replies.append(json.loads(json.dumps(data, allow_nan=False)))  # as JSON on the wire

    comm = Comm()
    shell.targets[pd.COMM_TARGET](comm, {})

    def ask(request):
        comm.receive({"content": {"data": json.loads(json.dumps(request, allow_nan=False))}})
        return replies.pop()

    return shell, ask


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_keeps_its_type_through_the_kernel_side(kind, monkeypatch):
    value = _kinds()[kind]
    shell, ask = kernel_side(monkeypatch)
    # kernel -> grader: a value the student defined
    shell.user_ns["answer"] = value
    reply = ask({"op": "lookup", "names": ["answer"], "id": 1})
    assert_same(pd.decode(reply["names"]["answer"]["value"]), value)
    # grader -> kernel: an argument as the student's function receives it, and its result coming back
    seen = []
    shell.user_ns["f"] = lambda x: seen.append(x) or x
    reply = ask({"op": "call", "name": "f", "args": pd.encode([value]), "kwargs": pd.encode({}), "id": 2})
    assert reply["status"] == "ok", reply
    assert_same(seen[0], value)
    assert_same(pd.decode(reply["value"]), value)
    assert reply["changed_args"] == {} and reply["changed_kwargs"] == {}


def test_a_numpy_bool_is_not_a_0d_array():
    """The bug this guards against: np.isclose's np.True_ arrived as a 0-d array and passed as a number."""
    back = pd.loads(pd.dumps(np.isclose(1.0, 1.0)))
    assert type(back) is np.bool_
    assert type(pd.loads(pd.dumps(np.array(True)))) is np.ndarray


def test_the_kernel_sends_back_the_arguments_that_the_call_changed(monkeypatch):
    shell, ask = kernel_side(monkeypatch)

    def clip(t, g_peak, *, out):
        t[t < 0] = 0.0
        out.append(1)
        return t

    shell.user_ns["clip"] = clip
    t = np.array([-1.0, 0.0, 2.0])
    reply = ask({"op": "call", "name": "clip", "args": pd.encode([t, 2.0]), "kwargs": pd.encode({"out": []}),
                 "id": 3})
    assert reply["status"] == "ok"
    assert set(reply["changed_args"]) == {"0"}  # g_peak was not changed, so it is not sent back
    np.testing.assert_array_equal(pd.decode(reply["changed_args"]["0"]), [0.0, 0.0, 2.0])
    assert pd.decode(reply["changed_kwargs"]["out"]) == [1]
    # an exception after the change still reports it
    def fails(t):
        t[0] = 5.0
        raise ValueError("no")
    shell.user_ns["fails"] = fails
    reply = ask({"op": "call", "name": "fails", "args": pd.encode([t]), "kwargs": pd.encode({}), "id": 4})
    assert reply["status"] == "error" and pd.decode(reply["changed_args"]["0"])[0] == 5.0


def test_brian_quantities_keep_their_unit():
    from brian2 import mV, ms, nS
    for q in (5 * ms, np.array([1.0, 2.0]) * nS, -65 * mV):
        back = pd.loads(pd.dumps(q))
        assert back.dim == q.dim
        np.testing.assert_allclose(np.asarray(back), np.asarray(q))


@pytest.mark.parametrize("value, words", [
    (lambda t: t, "function"),
    ((x for x in ()), "generator"),
    (np.array([object()], dtype=object), "object"),
    (object(), "object"),
    ({1: 2}, "dict"),
])
def test_behaviour_is_refused_on_encode(value, words):
    with pytest.raises(pd.PlainDataError, match=words):
        pd.encode(value)


def _array(raw: bytes, dtype: str, shape) -> dict:
    return {"__ndarray__": base64.b64encode(raw).decode(), "dtype": dtype, "shape": shape}


@pytest.mark.parametrize("data, words", [
    (_array(b"\0" * 8, "|O", [1]), "object"),
    (_array(b"\0" * 8, "<f8", [2]), "does not match"),
    (_array(b"\0" * 16, "<f8", [-2]), "shape"),
    (_array(b"\0" * 8, "V8", [1]), "void|V8"),
    (_array(b"\0" * 8, "[('a', '<f8')]", [1]), "unknown|a"),
    ({"__pickle__": "gASVAAAA"}, "keys"),
    ({"__ndarray__": "AA==", "dtype": "<f8", "shape": [1], "extra": 1}, "keys"),
    ({"__quantity__": 1.0, "dim": [1, 2]}, "quantity"),
    ({"__quantity__": "1.0", "dim": [0] * 7}, "quantity"),
    ({"__scalar__": _array(b"\0" * 16, "<f8", [2])}, "keys"),
    ({"__scalar__": "AA=="}, "keys"),
    ({"__float__": "1e999"}, "keys"),
    ({"__float__": 1.0}, "keys"),
    ({"__int__": "12a"}, "keys"),
    ({"__int__": "9" * 5000}, "keys"),
    ({"__int__": "\u0661\u0662"}, "keys"),
    (["a", {"b": 1}], "keys"),
])
def test_anything_else_is_refused_on_decode(data, words):
    with pytest.raises(pd.PlainDataError, match=words):
        pd.decode(json.loads(json.dumps(data)))


def test_depth_and_size_limits():
    deep = []
    for _ in range(pd.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(pd.PlainDataError, match="nested"):
        pd.decode(deep)
    big = _array(b"\0" * 16, "<f8", [2])
    with pytest.raises(pd.PlainDataError, match="does not match"):
        pd.decode([big] * (pd.MAX_BYTES // 16 + 1))


def test_kernel_code_installs_the_comm_target_and_nothing_else():
    import ast
    code = pd.kernel_code()
    tree = ast.parse(code)
    assert f'register_target("{pd.COMM_TARGET}"' in code
    # one function, called and deleted: nothing else lands in the student's namespace
    assert [type(node).__name__ for node in tree.body] == ["FunctionDef", "Expr", "Delete"]
    imports = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
               for alias in node.names}
    assert imports <= {"base64", "json", "sys", "numpy", "get_ipython", "Quantity", "get_or_create_dimension"}
    # the reply size it refuses to send is filled in (a courtesy; the instructor's side enforces its own)
    assert "__MAX_REPLY__" not in code and str(pd.MAX_REPLY) in code
