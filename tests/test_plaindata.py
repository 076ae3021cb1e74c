"""coursekit.plaindata: only numbers, strings, lists and dicts cross from the kernel."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from coursekit import plaindata as pd


@pytest.mark.parametrize("value", [
    None, True, 3, -2.5, "divisive", [1, 2.0, "x"], (1.0, 2.0), {"a": 1.0, "b": [1, 2]},
    np.linspace(0.0, 1.0, 7), np.arange(6).reshape(2, 3), np.float32(0.25), np.array(3.0), np.array([True, False]),
    np.array([1 + 2j]), float("nan"), float("inf"), np.array([np.nan, -np.inf]),
])
def test_round_trip(value):
    back = pd.loads(pd.dumps(value))
    if isinstance(value, (np.ndarray, np.generic)) or (isinstance(value, float) and not np.isfinite(value)):
        np.testing.assert_array_equal(np.asarray(back), np.asarray(value))
        assert np.asarray(back).dtype == np.asarray(value).dtype
        assert np.shape(back) == np.shape(value)
    else:
        assert back == value and type(back) is type(value)


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
