"""Plain data between the student's kernel and the trusted grader: nothing with behaviour crosses.

The grader never receives an object from the student's kernel, only JSON made of
``null``, booleans, numbers, strings, lists and objects, in which four tagged
forms stand for values JSON cannot hold:

``{"__ndarray__": <base64>, "dtype": "<f8", "shape": [3]}``
    a numpy array of booleans, integers, floats or complex numbers;
``{"__quantity__": <array form>, "dim": [m, kg, s, A, K, mol, cd]}``
    a Brian2 quantity: its value in SI units and the exponents of its dimension;
``{"__scalar__": <array form with shape []>}``
    a numpy scalar (``np.float32(0.25)``, ``np.True_``): it arrives as the
    numpy scalar of the same dtype, not as a 0-d array (a 0-d array stays one);
``{"__float__": "nan" | "inf" | "-inf"}`` and ``{"__int__": "<digits>"}``
    a Python float that JSON cannot hold and a Python int too large for a
    double: they stay a Python ``float`` and ``int``;
``{"__tuple__": [...]}`` and ``{"__dict__": {"key": ...}}``
    a tuple, and a dict with string keys.

So every value keeps its type: a Python scalar stays a Python scalar, a bool a
bool, a numpy scalar or array its dtype, shape and kind.

:func:`decode` accepts exactly these forms and refuses everything else (object
or structured dtypes, sizes that do not match, nesting deeper than
:data:`MAX_DEPTH`, more than :data:`MAX_BYTES` of array data), so a hostile
kernel can only send numbers and strings, never code. No pickle is involved at
any point.

:data:`KERNEL_CODE` is the same format written for the kernel side: the code
that :class:`coursekit.grading.execute.TrustedExecute` sends into the
student's kernel to look up names and call functions. It runs in the student's
interpreter, so nothing in it is trusted; only :func:`decode` of its answer is.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

__all__ = ["PlainDataError", "encode", "decode", "dumps", "loads", "describe", "KERNEL_CODE", "COMM_TARGET",
           "kernel_code", "MAX_BYTES", "MAX_DEPTH"]

#: Largest total of array bytes in one message.
MAX_BYTES = 64 << 20
#: Largest reply (bytes of JSON) the kernel's comm target sends; the instructor's side refuses
#: larger ZeroMQ messages anyway (:data:`coursekit.grading.kernel.MAX_KERNEL_MESSAGE`, a little more).
MAX_REPLY = 15 << 20
#: Deepest nesting of lists, tuples and dicts.
MAX_DEPTH = 16
#: Most digits of an int sent as ``{"__int__": ...}`` (Python's own limit for str(int)).
MAX_INT_DIGITS = 4300
_FLOATS = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}
_KINDS = "biufc"  # bool, signed, unsigned, float, complex


class PlainDataError(ValueError):
    """A value is not plain data (its message is one sentence about what it is)."""


def describe(x: Any) -> str:
    """A few words for what `x` is, for messages ("a generator", "an array of object")."""
    if isinstance(x, np.ndarray):
        return f"an array of {x.dtype}"
    name = type(x).__name__
    return ("an " if name[:1].lower() in "aeiou" else "a ") + name


def _quantity_type():
    import sys
    module = sys.modules.get("brian2.units.fundamentalunits")
    return getattr(module, "Quantity", None)


def encode(x: Any, _depth: int = 0, _budget: list | None = None) -> Any:
    """`x` as plain JSON data (the forms listed in the module docstring).

    Raises
    ------
    PlainDataError
        For anything else (functions, generators, objects, object arrays).
    """
    budget = [MAX_BYTES] if _budget is None else _budget
    if _depth > MAX_DEPTH:
        raise PlainDataError(f"nested more than {MAX_DEPTH} levels deep")
    quantity = _quantity_type()
    if quantity is not None and isinstance(x, quantity):
        return {"__quantity__": encode(np.asarray(x).view(np.ndarray), _depth + 1, budget),
                "dim": [float(d) for d in x.dim._dims]}
    if x is None or type(x) in (bool, str):
        return x
    if type(x) is int:
        return x if abs(x) < 2 ** 53 else _big_int(x)
    if type(x) is float:
        return x if np.isfinite(x) else {"__float__": repr(x)}
    if isinstance(x, np.generic):
        return {"__scalar__": _array(np.asarray(x), budget)}
    if isinstance(x, np.ndarray):
        return _array(np.asarray(x), budget)
    if type(x) is list:
        return [encode(v, _depth + 1, budget) for v in x]
    if type(x) is tuple:
        return {"__tuple__": [encode(v, _depth + 1, budget) for v in x]}
    if type(x) is dict and all(type(k) is str for k in x):
        return {"__dict__": {k: encode(v, _depth + 1, budget) for k, v in x.items()}}
    raise PlainDataError(describe(x))


def _big_int(x: int) -> dict:
    digits = str(x)
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise PlainDataError(f"an int of more than {MAX_INT_DIGITS} digits")
    return {"__int__": digits}


def _array(a: np.ndarray, budget: list) -> dict:
    if a.dtype.kind not in _KINDS or a.dtype.fields is not None:
        raise PlainDataError(describe(a))
    a = np.array(a, order="C", copy=True)  # (np.ascontiguousarray would make a 0-d array 1-d)
    budget[0] -= a.nbytes
    if budget[0] < 0:
        raise PlainDataError(f"more than {MAX_BYTES >> 20} MiB of numbers")
    return {"__ndarray__": base64.b64encode(a.tobytes()).decode("ascii"), "dtype": a.dtype.str,
            "shape": list(a.shape)}


def decode(x: Any, _depth: int = 0, _budget: list | None = None) -> Any:
    """The value that plain data `x` stands for; refuses anything else.

    Raises
    ------
    PlainDataError
        `x` is not made of the forms listed in the module docstring.
    """
    budget = [MAX_BYTES] if _budget is None else _budget
    if _depth > MAX_DEPTH:
        raise PlainDataError(f"nested more than {MAX_DEPTH} levels deep")
    if x is None or type(x) in (bool, int, float, str):
        return x
    if type(x) is list:
        return [decode(v, _depth + 1, budget) for v in x]
    if type(x) is not dict:
        raise PlainDataError(describe(x))
    keys = set(x)
    if keys == {"__ndarray__", "dtype", "shape"}:
        return _decode_array(x, budget)
    if keys == {"__quantity__", "dim"}:
        value = decode(x["__quantity__"], _depth + 1, budget)
        dim = x["dim"]
        if (not isinstance(value, (np.ndarray, float, int)) or type(dim) is not list or len(dim) != 7
                or not all(type(d) in (int, float) for d in dim)):
            raise PlainDataError("a malformed quantity")
        from brian2.units.fundamentalunits import Quantity, get_or_create_dimension
        return Quantity(np.asarray(value, dtype=float), dim=get_or_create_dimension([float(d) for d in dim]))
    if keys == {"__scalar__"} and type(x["__scalar__"]) is dict \
            and set(x["__scalar__"]) == {"__ndarray__", "dtype", "shape"} and x["__scalar__"]["shape"] == []:
        return _decode_array(x["__scalar__"], budget)[()]
    if keys == {"__float__"} and x["__float__"] in _FLOATS:
        return _FLOATS[x["__float__"]]
    if keys == {"__int__"} and type(x["__int__"]) is str and 0 < len(x["__int__"].lstrip("-")) <= MAX_INT_DIGITS \
            and x["__int__"].lstrip("-").isdigit() and x["__int__"].isascii():
        return int(x["__int__"])
    if keys == {"__tuple__"} and type(x["__tuple__"]) is list:
        return tuple(decode(v, _depth + 1, budget) for v in x["__tuple__"])
    if keys == {"__dict__"} and type(x["__dict__"]) is dict:
        return {str(k): decode(v, _depth + 1, budget) for k, v in x["__dict__"].items()}
    raise PlainDataError("an object with keys " + ", ".join(sorted(map(str, keys))[:5]))


def _decode_array(x: dict, budget: list) -> np.ndarray:
    data, dtype, shape = x["__ndarray__"], x["dtype"], x["shape"]
    if type(data) is not str or type(dtype) is not str or type(shape) is not list:
        raise PlainDataError("a malformed array")
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise PlainDataError("an array of an unknown type") from None
    if dt.kind not in _KINDS or dt.fields is not None or dt.subdtype is not None or dt.itemsize > 32:
        raise PlainDataError(f"an array of {dt}")
    if not all(type(n) is int and 0 <= n for n in shape) or len(shape) > 32:
        raise PlainDataError("an array with a malformed shape")
    raw = base64.b64decode(data.encode("ascii"), validate=True)
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    budget[0] -= len(raw)
    if budget[0] < 0 or len(raw) != count * dt.itemsize:
        raise PlainDataError("an array whose data does not match its shape")
    return np.frombuffer(raw, dtype=dt).reshape(shape).copy()


def dumps(x: Any) -> str:
    """``json.dumps(encode(x))``."""
    return json.dumps(encode(x), allow_nan=False)


def loads(text: str) -> Any:
    """``decode(json.loads(text))``."""
    return decode(json.loads(text))


# ---------------------------------------------------------------------------
# The kernel side: a Jupyter comm target, so that each request is one comm
# message and each answer one comm message back, without IPython's cell
# machinery (about 2 ms a call instead of 6). Runs in the student's interpreter.
# ---------------------------------------------------------------------------
#: Name of the comm target that :data:`KERNEL_CODE` registers in the kernel.
COMM_TARGET = "synapses_grader"

KERNEL_CODE = r'''
def __synapses_grader_install():
    import base64, json, sys
    import numpy
    from IPython import get_ipython
    user_ns = get_ipython().user_ns
    def describe(x):
        if isinstance(x, numpy.ndarray):
            return "an array of %s" % x.dtype
        name = type(x).__name__
        return ("an " if name[:1].lower() in "aeiou" else "a ") + name
    def array(a):
        if a.dtype.kind not in "biufc" or a.dtype.fields is not None:
            raise TypeError(describe(a))
        return {"__ndarray__": base64.b64encode(a.tobytes()).decode("ascii"), "dtype": a.dtype.str,
                "shape": list(a.shape)}
    def enc(x, depth=0):
        if depth > 16:
            raise TypeError("nested too deeply")
        q = getattr(sys.modules.get("brian2.units.fundamentalunits"), "Quantity", None)
        if q is not None and isinstance(x, q):
            return {"__quantity__": enc(numpy.array(numpy.asarray(x).view(numpy.ndarray), order="C"), depth + 1),
                    "dim": [float(d) for d in x.dim._dims]}
        if x is None or type(x) in (bool, str):
            return x
        if type(x) is int:
            return x if abs(x) < 2 ** 53 else {"__int__": str(x)}
        if type(x) is float:
            return x if numpy.isfinite(x) else {"__float__": repr(x)}
        if isinstance(x, numpy.generic):
            return {"__scalar__": array(numpy.array(x, order="C", copy=True))}
        if isinstance(x, numpy.ndarray):
            return array(numpy.array(x, order="C", copy=True))
        if type(x) is list:
            return [enc(v, depth + 1) for v in x]
        if type(x) is tuple:
            return {"__tuple__": [enc(v, depth + 1) for v in x]}
        if type(x) is dict and all(type(k) is str for k in x):
            return {"__dict__": {k: enc(v, depth + 1) for k, v in x.items()}}
        raise TypeError(describe(x))
    floats = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}
    def dec(x):
        if type(x) is list:
            return [dec(v) for v in x]
        if type(x) is not dict:
            return x
        if "__ndarray__" in x:
            raw = base64.b64decode(x["__ndarray__"])
            return numpy.frombuffer(raw, dtype=x["dtype"]).reshape(x["shape"]).copy()
        if "__scalar__" in x:
            return dec(x["__scalar__"])[()]
        if "__float__" in x:
            return floats[x["__float__"]]
        if "__int__" in x:
            return int(x["__int__"])
        if "__quantity__" in x:
            from brian2.units.fundamentalunits import Quantity, get_or_create_dimension
            return Quantity(dec(x["__quantity__"]), dim=get_or_create_dimension(x["dim"]))
        if "__tuple__" in x:
            return tuple(dec(v) for v in x["__tuple__"])
        return {k: dec(v) for k, v in x["__dict__"].items()}
    def changed(sent, given):
        # the arguments as the call left them, those that differ from what the grader sent
        out = {}
        for key, value in given:
            try:
                now = enc(value)
            except BaseException as exc:
                now = {"__unsupported__": str(exc)[:200]}
            if now != sent[key]:
                out[str(key)] = now
        return out
    def answer(request):
        if request["op"] == "lookup":
            found = {}
            for name in request["names"]:
                if name not in user_ns:
                    found[name] = {"kind": "missing"}
                elif callable(user_ns[name]):
                    found[name] = {"kind": "function"}
                else:
                    try:
                        found[name] = {"kind": "value", "value": enc(user_ns[name])}
                    except BaseException as exc:
                        found[name] = {"kind": "unsupported", "what": str(exc)[:200]}
            return {"status": "ok", "names": found}
        name = request["name"]
        if name not in user_ns:
            return {"status": "missing"}
        args, kwargs = dec(request["args"]), dec(request["kwargs"])
        try:
            value = user_ns[name](*args, **kwargs)
        except BaseException as exc:
            reply = {"status": "error", "ename": type(exc).__name__, "evalue": str(exc)[:2000]}
        else:
            try:
                reply = {"status": "ok", "value": enc(value)}
            except BaseException as exc:
                reply = {"status": "unsupported", "what": str(exc)[:200]}
        sent = request["kwargs"].get("__dict__", {}) if type(request["kwargs"]) is dict else {}
        reply["changed_args"] = changed(request["args"], enumerate(args))
        reply["changed_kwargs"] = changed(sent, [(k, kwargs[k]) for k in sent if k in kwargs])
        return reply
    def target(comm, open_msg):
        @comm.on_msg
        def receive(msg):
            request = msg["content"]["data"]
            try:
                reply = answer(request)
            except BaseException as exc:
                reply = {"status": "failed", "message": "%s: %s" % (type(exc).__name__, str(exc)[:300])}
            reply["id"] = request.get("id")
            if len(json.dumps(reply)) > __MAX_REPLY__:  # a courtesy: the grader's side drops it anyway
                reply = {"status": "failed", "id": request.get("id"), "message": "the answer is larger than "
                         "the %d MiB the grader accepts" % (__MAX_REPLY__ >> 20)}
            comm.send(reply)
    get_ipython().kernel.comm_manager.register_target("__TARGET__", target)
__synapses_grader_install()
del __synapses_grader_install
'''


def kernel_code() -> str:
    """The code that installs the grader's comm target (:data:`COMM_TARGET`) in the student's kernel.

    The grader's requests then arrive as comm messages (``{"op": "lookup",
    "names": [...]}`` or ``{"op": "call", "name": ..., "args": [...],
    "kwargs": {...}}``, each with an ``id``) and each gets one comm message
    back with the same ``id``. A kernel that unregisters or replaces the
    target answers nothing useful, and only its own tests suffer.
    """
    return KERNEL_CODE.replace("__TARGET__", COMM_TARGET).replace("__MAX_REPLY__", str(MAX_REPLY))
