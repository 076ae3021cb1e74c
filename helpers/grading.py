"""Comparison utilities for the visible and hidden tests of the synapses course.

Every check either returns quietly or raises :class:`GradingError` (an
``AssertionError``) whose message is ONE sentence in physics terms, for example::

    exp_conductance with g_peak = 1 nS and tau = 5 ms: peak of g is 0.370 nS at
    t = 5.00 ms; expected 1.00 nS at t = 0 ms

Plain-number units follow the course: ms, mV, nS, pF, pA, mM, Hz. Numbers in
messages have 3 significant digits (more when needed to tell two values apart);
the inputs a test used are printed exactly (up to 6 digits).

Writing a hidden test
---------------------
::

    ### BEGIN HIDDEN TESTS
    from helpers.grading import fresh
    grading = fresh()            # pristine copy, immune to patches of helpers.grading
    from helpers import waveforms as ref
    with grading.checking("exp_conductance"):
        grading.check_waveform(exp_conductance, ref.exp_conductance,
                               {"g_peak": 2.0, "tau": 3.0}, name="g", unit="nS")
    ### END HIDDEN TESTS

* ``checking(name)`` turns whatever goes wrong inside the block into one
  sentence: an undefined name ("exp_conductance is not defined; run the cell that
  defines it"), an exception from student code ("exp_conductance raised
  NotImplementedError: ..."), a plain ``assert`` of the test itself. It never
  swallows ``KeyboardInterrupt`` or ``SystemExit``, and it silences numpy and
  Python warnings inside the block: nbgrader scores a cell with any stderr output
  0, and a correct ``np.where(t >= 0, np.exp(-t/tau), 0)`` warns about overflow.
* ``hidden=True`` (the default) keeps hidden reference values out of messages:
  they state the student's value, the inputs, and the physical rule or the
  direction of the error ("too large"), never a reference output. Visible tests
  pass ``hidden=False`` and may state expected numbers.
* ``check_waveform`` and friends call :func:`check_own_work`, so re-exporting a
  ``helpers`` reference fails.
* Instructor errors (a reference that raises, an inconsistent test) raise
  :class:`CourseError`, which ``checking`` lets through with its full traceback;
  so does any exception that escapes this module's own code (a grader bug is
  never blamed on the student).
* The checks of one module copy take their default function name from the
  innermost ``checking`` block of the same copy: use ``grading.checking`` and
  ``grading.check_*`` from the same ``fresh()`` result.

API
---
``GradingError``, ``CourseError``, ``checking(name, quiet=True)``,
``call(fn, *args, name=None, **kw)``, ``check_own_work(obj, name)``,
``check_callable(obj, name)``, ``check_string(obj, name)``,
``check_choice(obj, name, choices, expected=None, hidden=True)``,
``check_shape(actual, expected_shape, what, input_shape=None)``,
``check_finite(actual, what, x=None, ...)``,
``check_values(actual, expected, what, unit="", rtol=1e-6, atol=0.0, hidden=True, inputs=None, rule=None, ...)``,
``check_waveform(fn, reference, args, t=None, name="g", unit="nS", hidden=True, ...)``,
``check_trace(t, actual, expected, what, unit, atol, hidden=True, ...)``,
``fresh()``, ``check_untampered()``, ``install_ipython_handler()``, ``fmt(x)``,
and ``UNITS`` (the unit printed for a named input, e.g. ``tau`` -> ms).

In IPython and ipykernel, importing this module installs a custom exception
handler, so a ``GradingError`` prints only ``GradingError: <sentence>``: no
traceback line of a hidden test reaches the student's feedback. The cell still
ends with an error output (the execute reply has status "error"), so nbgrader
scores it 0. Other exceptions keep their normal tracebacks.

Tamper resistance
-----------------
Student code runs in the same kernel as the tests and can replace
``np.allclose``, ``np.isclose``, ``numpy.testing.*``, ``math.isclose``,
``np.abs``, ``np.max``, ``np.all``, ``np.isnan``, or builtins. This module does
not use any of them: it captures numpy's C-level functions from
``numpy._core._multiarray_umath`` at import (ufuncs such as ``absolute``;
patching ``np.abs`` does not touch them), computes closeness itself, keeps a
private snapshot of the builtins, and before every check runs a canary that
verifies the captured primitives are genuine (C types, right names) and compute
the right answers on known inputs. If the module itself may have been patched
(``helpers.grading.check_values = lambda *a, **k: None``), use :func:`fresh`,
which executes this file again into a new module object; :func:`check_untampered`
(of a fresh copy) fails the cell if the imported module was modified. This
defends against accidental and casual tampering; a student who rewrites
``fresh`` itself or numpy's C internals is doing something that manual review
sees at a glance, and the canary still catches most such attempts.
"""

import builtins as _builtins_module

# A private snapshot of the builtins: every function defined below looks its
# builtins up here, so `builtins.abs = ...` in a notebook after this import
# changes nothing. `_canary` verifies the snapshot (it could have been taken
# after a patch).
__builtins__ = dict(vars(_builtins_module))

import dis as _dis  # noqa: E402
import functools as _functools  # noqa: E402
import importlib.util as _ilu  # noqa: E402
import os as _os  # noqa: E402
import re as _re  # noqa: E402
import sys as _sys  # noqa: E402
import sysconfig as _sysconfig  # noqa: E402
import types as _types  # noqa: E402
import warnings as _warnings  # noqa: E402

import numpy as _numpy  # noqa: E402,F401  (initialises numpy)

try:  # numpy >= 2
    from numpy._core import _multiarray_umath as _mu  # noqa: E402
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import _multiarray_umath as _mu  # noqa: E402

__all__ = [
    "GradingError",
    "CourseError",
    "checking",
    "call",
    "check_own_work",
    "check_callable",
    "check_shape",
    "check_finite",
    "check_values",
    "check_waveform",
    "check_trace",
    "check_string",
    "check_choice",
    "fresh",
    "check_untampered",
    "install_ipython_handler",
    "fmt",
    "UNITS",
]

# ---------------------------------------------------------------------------
# Primitives captured at import (C level; see the module docstring)
# ---------------------------------------------------------------------------
_array = _mu.array
_zeros = _mu.zeros
_arange = _mu.arange
_abs = _mu.absolute
_sub = _mu.subtract
_add = _mu.add
_mul = _mu.multiply
_le = _mu.less_equal
_lt = _mu.less
_gt = _mu.greater
_eq = _mu.equal
_isnan = _mu.isnan
_isfinite = _mu.isfinite
_and = _mu.logical_and
_or = _mu.logical_or
_not = _mu.logical_not
_max = _mu.maximum
_min = _mu.minimum
_make_extobj = _mu._make_extobj
_extobj_var = _mu._extobj_contextvar

_UFUNCS = (
    ("absolute", _abs), ("subtract", _sub), ("add", _add), ("multiply", _mul),
    ("less_equal", _le), ("less", _lt), ("greater", _gt), ("equal", _eq),
    ("isnan", _isnan), ("isfinite", _isfinite), ("logical_and", _and),
    ("logical_or", _or), ("logical_not", _not), ("maximum", _max), ("minimum", _min),
)
_CFUNCS = (("array", _array), ("zeros", _zeros), ("arange", _arange),
           ("_make_extobj", _make_extobj))

# Types taken from literals: these cannot be replaced by notebook code.
_float = (0.0).__class__
_int = (0).__class__
_str = "".__class__
_bool = (0 == 0).__class__
_tuple = ().__class__
_list = [].__class__
_dict = {}.__class__
_type = _float.__class__
_BUILTIN_FN = [].append.__class__
_HEAPTYPE = 1 << 9
_INF = _float("inf")
_NAN = _float("nan")

# Builtin functions this module calls; `_canary` checks each is genuine.
# (tests/test_grading.py verifies this list covers every builtin used here.)
_BUILTIN_NAMES = (
    "any", "callable", "format", "getattr", "globals", "hasattr", "id", "isinstance",
    "issubclass", "len", "max", "min", "repr", "round", "sorted", "vars",
)
# Builtin classes (incl. exceptions) this module uses; `_canary` checks each is
# the genuine static type.
_BUILTIN_TYPES = (
    "AssertionError", "Exception", "ImportError", "NameError", "NotImplementedError",
    "RuntimeError", "TypeError", "ValueError", "bytes", "classmethod", "complex",
    "enumerate", "frozenset", "reversed", "set", "staticmethod", "zip",
)

_catch_warnings = _warnings.catch_warnings
_simplefilter = _warnings.simplefilter
_get_instructions = _dis.get_instructions
_spec_from_file_location = _ilu.spec_from_file_location
_module_from_spec = _ilu.module_from_spec
_partial = _functools.partial
_FunctionType = _types.FunctionType
_MethodType = _types.MethodType
_ModuleType = _types.ModuleType
_THIS_FILE = _os.path.abspath(__file__)
_LIBRARY_DIRS = _tuple(sorted({
    _os.path.abspath(p) for p in (
        _sysconfig.get_paths().get(key)
        for key in ("stdlib", "platstdlib", "purelib", "platlib"))
    if p and _os.path.abspath(p) != _os.sep
}))

#: Default unit of a named input (plain-number exercises), used in messages.
UNITS = {
    "t": "ms", "t_s": "ms", "tau": "ms", "tau_rise": "ms", "tau_decay": "ms",
    "tau_m": "ms", "t_ref": "ms", "dt": "ms", "duration": "ms",
    "u": "mV", "E_syn": "mV", "E_e": "mV", "E_i": "mV", "E_nmda": "mV",
    "u_rest": "mV", "u_th": "mV", "u_reset": "mV", "u_inf": "mV",
    "g": "nS", "g_peak": "nS", "g_syn": "nS", "g_m": "nS", "g_l": "nS",
    "g_e": "nS", "g_i": "nS", "g_max": "nS",
    "C_m": "pF", "I_e": "pA", "I": "pA", "mg": "mM", "Mg": "mM",
}


# ---------------------------------------------------------------------------
# Exceptions
# ---------------------------------------------------------------------------
class GradingError(AssertionError):
    """A check failed; the message is one sentence meant for the student.

    Creating one (re)installs the IPython handler, so even a GradingError that
    a test raises itself is shown as one line if notebook code removed it.
    """

    _helpers_grading_error = True

    def __init__(self, *args):
        install_ipython_handler()
        AssertionError.__init__(self, *args)


class CourseError(RuntimeError):
    """The test itself is broken (a reference raised, inconsistent arguments).

    ``checking`` lets it through unchanged so the instructor sees the traceback.
    """

    _helpers_course_error = True


def _fail(sentence):
    raise GradingError(sentence)


# ---------------------------------------------------------------------------
# Canary: are the captured primitives still genuine?
# ---------------------------------------------------------------------------
def _same_floats(values, expected):
    if len(values) != len(expected):
        return False
    for v, e in zip(values, expected):  # noqa: B905
        if e != e:
            if v == v:
                return False
        elif not (v == e):
            return False
    return True


def _canary():
    """Raise GradingError if numpy primitives or builtins were replaced."""
    bad = []
    ufunc_type = _type(_abs)
    if ufunc_type.__name__ != "ufunc" or ufunc_type.__flags__ & _HEAPTYPE:
        bad.append("ufunc")
    for name, f in _UFUNCS:
        if _type(f) is not ufunc_type or f.__name__ != name:
            bad.append(name)
    for name, f in _CFUNCS:
        if _type(f) is not _BUILTIN_FN or f.__name__ != name:
            bad.append(name)
    for name in _BUILTIN_NAMES:
        f = __builtins__.get(name)
        owner = getattr(f, "__self__", None) if _type(f) is _BUILTIN_FN else None
        if (_type(f) is not _BUILTIN_FN or f.__name__ != name
                or _type(owner).__name__ != "module"
                or getattr(owner, "__name__", None) != "builtins"):
            bad.append(name)
    for name in _BUILTIN_TYPES:
        cls = __builtins__.get(name)
        if _type(cls) is not _type or cls.__flags__ & _HEAPTYPE or cls.__name__ != name:
            bad.append(name)
    if bad:
        _fail(_cheat_sentence(bad))
    a = _array([-2.0, 0.5, _NAN, _INF], dtype="float64")
    b = _array([-2.0, 1.0, 1.0, _INF], dtype="float64")
    results = (
        (_abs(a).tolist(), [2.0, 0.5, _NAN, _INF], "absolute"),
        (_sub(a, 1.0).tolist(), [-3.0, -0.5, _NAN, _INF], "subtract"),
        (_add(a, 1.0).tolist(), [-1.0, 1.5, _NAN, _INF], "add"),
        (_mul(a, 2.0).tolist(), [-4.0, 1.0, _NAN, _INF], "multiply"),
        (_le(a, b).tolist(), [True, True, False, True], "less_equal"),
        (_lt(a, b).tolist(), [False, True, False, False], "less"),
        (_gt(a, b).tolist(), [False, False, False, False], "greater"),
        (_eq(a, b).tolist(), [True, False, False, True], "equal"),
        (_isnan(a).tolist(), [False, False, True, False], "isnan"),
        (_isfinite(a).tolist(), [True, True, False, False], "isfinite"),
        (_and(_isfinite(a), _le(a, 0.0)).tolist(), [True, False, False, False], "logical_and"),
        (_or(_isnan(a), _le(a, 0.0)).tolist(), [True, False, True, False], "logical_or"),
        (_not(_isnan(a)).tolist(), [True, True, False, True], "logical_not"),
        (_max(a, 0.0).tolist(), [0.0, 0.5, _NAN, _INF], "maximum"),
        (_min(a, 0.0).tolist(), [-2.0, 0.0, _NAN, 0.0], "minimum"),
        ([_float(_max.reduce(b, axis=None)), _float(_min.reduce(b, axis=None))],
         [_INF, -2.0], "maximum.reduce"),
        (_zeros(2, "float64").tolist(), [0.0, 0.0], "zeros"),
        (_arange(-1, 2).tolist(), [-1, 0, 1], "arange"),
        ([_float(_or.reduce(_isnan(a), axis=None)), _float(_and.reduce(_isnan(a), axis=None))],
         [1.0, 0.0], "reduce"),
        ([_float(_array([1.0, 3.0, 2.0]).argmax())], [1.0], "argmax"),
    )
    wrong = [name for got, want, name in results if not _same_floats(got, want)]
    if wrong:
        _fail(_cheat_sentence(wrong))


def _cheat_sentence(names):
    return ("the notebook replaced numpy or Python internals that the grader relies on ("
            + ", ".join(names) + "); tampering with the checking code earns no points")


class _Quiet:
    """Silence numpy floating-point warnings and Python warnings (nbgrader
    scores any stderr output as a failure)."""

    def __enter__(self):
        self._token = _extobj_var.set(_make_extobj(all="ignore"))
        self._cw = _catch_warnings()
        self._cw.__enter__()
        _simplefilter("ignore")
        return self

    def __exit__(self, *exc):
        try:
            self._cw.__exit__(*exc)
        finally:
            _extobj_var.reset(self._token)
        return False


# ---------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------
def fmt(x, sig=3):
    """Format a number with `sig` significant digits ("0.370", "5.00", "-65.0").

    Exact zero prints as "0"; NaN as "NaN"; |x| >= 1e5 or < 1e-3 in exponent
    notation ("1.23e-05").
    """
    x = _float(x)
    if x != x:
        return "NaN"
    if x == _INF:
        return "inf"
    if x == -_INF:
        return "-inf"
    if x == 0.0:
        return "0"
    mantissa, exponent = format(x, "." + _str(sig - 1) + "e").split("e")
    e = _int(exponent)
    if -3 <= e < 5:
        decimals = sig - 1 - e
        return format(x, "." + _str(decimals if decimals > 0 else 0) + "f")
    return mantissa + "e" + ("-" if e < 0 else "") + _str(e if e >= 0 else -e).rjust(2, "0")


def _fmt_pair(a, b):
    """Format a and b with 3 significant digits, more if needed to differ."""
    for sig in (3, 4, 5, 6, 7, 8, 10, 12, 15, 17):
        sa, sb = fmt(a, sig), fmt(b, sig)
        if sa != sb:
            return sa, sb
    return sa, sb


def _fmt_in(x):
    """Format an input value exactly enough to reproduce it (6 digits)."""
    x = _float(x)
    if x != x:
        return "NaN"
    if x == 0.0:
        return "0"
    return format(x, ".6g")


def _with_unit(text, unit):
    return text + (" " + unit if unit else "")


def _join_and(parts):
    parts = _list(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _brian_unit(unit):
    b2 = _sys.modules.get("brian2")
    if b2 is None:
        return None
    if not unit:
        return 1.0
    return getattr(b2, unit, None)


def _brian_dim_text(x):
    """'volt', 'siemens', ... for a Brian2 quantity (its SI unit's name)."""
    b2 = _sys.modules.get("brian2")
    try:
        return repr(b2.get_unit(x.dim))
    except Exception:
        return _safe_str(getattr(x, "dim", "?"))


def _is_brian(x):
    """True for a Brian2 quantity that carries a physical dimension (a
    dimensionless quantity is a plain number)."""
    if not ((_type(x).__module__ or "").startswith("brian2") and hasattr(x, "dim")):
        return False
    try:
        return not _bool(x.is_dimensionless)
    except Exception:
        return True


def _fmt_input_value(name, value):
    unit = UNITS.get(name, "")
    if isinstance(value, _tuple) and len(value) == 2 and isinstance(value[1], _str):
        value, unit = value
    if isinstance(value, _str):
        return repr(value)
    if _is_brian(value):
        u = _brian_unit(unit)
        try:
            value = value / u
            if _is_brian(value):
                raise TypeError
        except Exception:
            return _str(value)
    try:
        arr = _array(value, dtype="float64")
    except Exception:
        return _str(value)
    if arr.ndim == 0:
        return _with_unit(_fmt_in(arr.item()), unit)
    flat = arr.reshape(-1)
    if flat.size <= 4:
        return _with_unit("[" + ", ".join(_fmt_in(v) for v in flat.tolist()) + "]", unit)
    return _with_unit("from " + _fmt_in(flat[0].item()) + " to " + _fmt_in(flat[-1].item()),
                      unit) + " (" + _str(flat.size) + " values)"


def _fmt_inputs(inputs):
    """'g_peak = 2 nS and tau = 3 ms' from {'g_peak': 2.0, 'tau': 3.0}."""
    if not inputs:
        return ""
    return _join_and(name + " = " + _fmt_input_value(name, value)
                     for name, value in inputs.items())


def _who(function, inputs):
    text = _fmt_inputs(inputs)
    return function + (" with " + text if text else "")


def _shape_text(shape):
    return "a scalar" if shape == () else "shape " + repr(_tuple(shape))


def _at(x, index, x_name, x_unit, shape):
    """' at t = 5.00 ms' for the element `index` (flat) of the compared arrays."""
    if x is not None:
        return " at " + x_name + " = " + _with_unit(fmt(x.reshape(-1)[index].item()), x_unit)
    if shape == ():
        return ""
    position = _unravel(index, shape)
    return " at element " + repr(position[0] if len(position) == 1 else position)


def _unravel(index, shape):
    out = []
    for n in reversed(shape):
        out.append(index % n)
        index //= n
    return _list(reversed(out))


def _safe_str(exc):
    try:
        text = _str(exc)
    except Exception:
        text = "<unprintable message>"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if len(text) > 200:
        text = text[:197] + "..."
    return text


# ---------------------------------------------------------------------------
# Conversion of student values
# ---------------------------------------------------------------------------
def _to_array(x, subject, unit="", allow_quantity=False, returned=False):
    """Convert `x` to a fresh float64 ndarray or fail with one sentence.

    `subject` starts the sentence: "exp_conductance returned" or "u_inf is".
    Brian2 quantities are converted to `unit` if allowed.
    """
    if x is None:
        _fail(subject + " None" + (" (is a return statement missing?)" if returned else ""))
    if isinstance(x, (_str, bytes)):
        _fail(subject + " the text " + repr(x)[:60] + ", not a number")
    if _is_brian(x):
        if not allow_quantity:
            _fail(subject + " a Brian2 quantity (in " + _brian_dim_text(x)
                  + "); this exercise uses plain numbers" + (" in " + unit if unit else ""))
        b2u = _brian_unit(unit)
        try:
            ratio = x / b2u
        except Exception:
            ratio = None
        if ratio is None or _is_brian(ratio):
            _fail(subject + " a quantity in " + _brian_dim_text(x)
                  + "; expected " + (unit if unit else "a dimensionless number"))
        x = ratio
    try:
        raw = _array(x)
    except Exception as exc:
        _fail(subject + " something that is not a number or an array of numbers ("
              + _type(x).__name__ + ": " + _safe_str(exc) + ")")
    kind = raw.dtype.kind
    if kind == "c":
        _fail(subject + " a complex value")
    if kind not in "biuf":
        try:
            raw = _array(raw, dtype="float64")
        except Exception:
            _fail(subject + " a " + _type(x).__name__ + " that does not hold plain numbers")
    return _array(raw, dtype="float64", copy=True)


def _close(a, e, rtol, atol):
    """Elementwise a ~ e within atol + rtol |e| (NaN ~ NaN, inf ~ same inf).

    Returns flat (ok mask, excess) where excess is how far each element is
    beyond its tolerance (inf for non-finite mismatches, -inf where ok).
    """
    a, e = a.reshape(-1), e.reshape(-1)
    both = _and(_isfinite(a), _isfinite(e))
    diff = _zeros(a.shape, "float64")
    _sub(a, e, out=diff, where=both)
    _abs(diff, out=diff)
    tol = _zeros(a.shape, "float64")
    _mul(_float(rtol), _abs(e), out=tol, where=both)
    _add(tol, _float(atol), out=tol)
    ok = _or(_or(_and(both, _le(diff, tol)), _eq(a, e)), _and(_isnan(a), _isnan(e)))
    excess = _sub(diff, tol)
    excess[_not(both)] = _INF
    excess[ok] = -_INF
    return ok, excess


def _all(mask):
    return _bool(_and.reduce(mask, axis=None))


def _any(mask):
    return _bool(_or.reduce(mask, axis=None))


def _first(mask):
    """Flat index of the first True element of `mask`."""
    return _int(mask.reshape(-1).argmax())


# ---------------------------------------------------------------------------
# checking() and call()
# ---------------------------------------------------------------------------
_NAMES = []  # stack of names of the `checking` blocks that are active


def _current_name(default=None):
    return _NAMES[-1] if _NAMES else default


def _function_name(fn, function):
    if function:
        return function
    current = _current_name()
    if current:
        return current
    name = getattr(fn, "__name__", None)
    if isinstance(name, _str) and name.isidentifier():
        return name
    return "the function"


def _exception_sentence(name, exc, context=None):
    kind = _type(exc).__name__
    message = _safe_str(exc)
    if isinstance(exc, NotImplementedError):
        if message:
            return name + " raised NotImplementedError: " + message
        return (name + " raised NotImplementedError (replace the "
                "`raise NotImplementedError()` line with your solution)")
    return (name + " raised " + kind + (" for " + context if context else "")
            + (": " + message if message else ""))


class _Checking:
    __slots__ = ("name", "quiet", "_quiet")

    def __init__(self, name, quiet):
        self.name = name
        self.quiet = quiet
        self._quiet = None

    def __enter__(self):
        install_ipython_handler()
        _NAMES.append(self.name)
        if self.quiet:
            self._quiet = _Quiet()
            self._quiet.__enter__()
        return self

    def __exit__(self, etype, exc, tb):
        if _NAMES and _NAMES[-1] == self.name:
            _NAMES.pop()
        if self._quiet is not None:
            self._quiet.__exit__(None, None, None)
            self._quiet = None
        if etype is None or not issubclass(etype, Exception):
            return False  # KeyboardInterrupt, SystemExit, GeneratorExit propagate
        if (getattr(etype, "_helpers_grading_error", False)
                or getattr(etype, "_helpers_course_error", False)):
            return False
        if _raised_by_grader(tb):
            return False  # a bug of the grader or the test: not the student's fault
        direct = tb is not None and tb.tb_next is None  # raised in the test's own code
        if issubclass(etype, NameError) and (direct or getattr(exc, "name", None) == self.name):
            missing = getattr(exc, "name", None) or self.name
            sentence = missing + " is not defined; run the cell that defines it"
        elif direct and issubclass(etype, AssertionError):
            message = _safe_str(exc)
            sentence = self.name + " failed a check" + (": " + message if message else "")
        else:
            sentence = _exception_sentence(self.name, exc)
        raise GradingError(sentence) from None


def _raised_by_grader(tb):
    """True if the exception passed through this module's code (after the
    frame holding the ``with``): student errors met there are already wrapped,
    so anything else is a grader or test bug and keeps its traceback."""
    tb = tb.tb_next if tb is not None else None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _THIS_FILE:
            return True
        tb = tb.tb_next
    return False


def checking(name, quiet=True):
    """Context manager for one graded item: failures become one sentence.

    Parameters
    ----------
    name : str
        The student's name for the item ("exp_conductance"); used in messages
        and as the default function name of the checks inside the block.
    quiet : bool
        Silence numpy floating-point warnings and Python warnings in the block
        (default True; nbgrader gives 0 points to a cell that writes to stderr).

    Notes
    -----
    Inside the block, a ``NameError`` raised by the test's own code becomes
    "<name> is not defined; run the cell that defines it"; any other
    ``Exception`` (from student code, including ``NotImplementedError`` from a
    stub) becomes "<name> raised <Type>: <its message>"; a plain ``assert`` of
    the test becomes "<name> failed a check: <message>". ``GradingError`` and
    ``CourseError`` pass unchanged; ``KeyboardInterrupt`` and ``SystemExit``
    are never caught.
    """
    if not isinstance(name, _str) or not name:
        raise CourseError("checking() needs the item's name as a non-empty string")
    return _Checking(name, quiet)


def call(fn, *args, name=None, **kwargs):
    """Call student code `fn(*args, **kwargs)` under ``checking``.

    Parameters
    ----------
    fn : callable or str
        The student's function, or its name, looked up in the caller's
        globals (the notebook namespace); a missing name fails with
        "<name> is not defined; run the cell that defines it".
    name : str, optional
        Name used in messages (default: `fn` if it is a str, else the
        enclosing ``checking`` name, else ``fn.__name__``).

    Returns
    -------
    The value returned by `fn`.
    """
    if isinstance(fn, _str):
        name = name or fn
        namespace = _sys._getframe(1).f_globals
        if fn not in namespace:
            _fail(name + " is not defined; run the cell that defines it")
        fn = namespace[fn]
    name = _function_name(fn, name)
    check_callable(fn, name)
    with checking(name):
        return fn(*args, **kwargs)


def _call_student(fn, args, name, context):
    try:
        return fn(*args)
    except Exception as exc:
        _fail(_exception_sentence(name, exc, context))


# ---------------------------------------------------------------------------
# Own work: no re-exported helpers references
# ---------------------------------------------------------------------------
def _is_helpers_name(name):
    return isinstance(name, _str) and (name == "helpers" or name.startswith("helpers."))


_HELPERS_IMPORT = _re.compile(r"\b(?:import|from)\s+helpers\b")


def _index_helpers_value(index, value, label, depth):
    if isinstance(value, _str):
        if len(value) >= 2 and not value.isidentifier():
            index[id(value)] = (value, label)
        return
    if isinstance(value, (_FunctionType, _type)):
        if _is_helpers_name(getattr(value, "__module__", None)):
            # name a reference where it is defined, wherever it was found
            qualname = getattr(value, "__qualname__", None)
            if isinstance(qualname, _str) and "<" not in qualname:
                label = value.__module__ + "." + qualname
            index[id(value)] = (value, label)
            if isinstance(value, _FunctionType):
                index[id(value.__code__)] = (value.__code__, label)
            else:
                for key, member in _list(vars(value).items()):
                    if isinstance(member, (staticmethod, classmethod)):
                        member = member.__func__
                    if isinstance(member, _FunctionType):
                        index[id(member)] = (member, label + "." + key)
                        index[id(member.__code__)] = (member.__code__, label + "." + key)
        return
    if isinstance(value, _partial):
        index[id(value)] = (value, label)
        return
    if depth < 2 and isinstance(value, _dict):
        for key, member in _list(value.items())[:500]:
            _index_helpers_value(index, member, label + "[" + repr(key) + "]", depth + 1)
    elif depth < 2 and isinstance(value, (_list, _tuple)):
        for i, member in enumerate(value[:500]):
            _index_helpers_value(index, member, label + "[" + _str(i) + "]", depth + 1)


def _helpers_index():
    index, namespaces = {}, {}
    for modname, module in _list(_sys.modules.items()):
        if not _is_helpers_name(modname) or module is None:
            continue
        index[id(module)] = (module, modname)
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, _dict):
            continue
        namespaces[id(namespace)] = modname
        for key, value in _list(namespace.items()):
            if not key.startswith("__"):
                _index_helpers_value(index, value, modname + "." + key, 0)
    return index, namespaces


def _is_library_module(modname):
    if not isinstance(modname, _str) or modname == "__main__":
        return False
    if _is_helpers_name(modname):
        return False
    if modname in _sys.builtin_module_names:
        return True
    module = _sys.modules.get(modname)
    path = getattr(module, "__file__", None)
    if not isinstance(path, _str):
        return False
    path = _os.path.abspath(path)
    return any(path.startswith(d + _os.sep) for d in _LIBRARY_DIRS)


def _codes(code):
    stack = [code]
    while stack:
        c = stack.pop()
        yield c
        stack.extend(k for k in c.co_consts if _type(k) is _types.CodeType)


def _find_helpers_use(obj, budget=5000):
    """Return a description of the helpers object `obj` is or reaches, else None."""
    index, namespaces = _helpers_index()
    stack, seen = [obj], set()
    while stack and budget > 0:
        x = stack.pop()
        budget -= 1
        if id(x) in seen:
            continue
        seen.add(id(x))
        hit = index.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        try:
            found = _expand(x, stack, namespaces)
        except Exception:
            found = None
        if found:
            return found
    return None


def _expand(x, stack, namespaces):
    """Push what `x` refers to; return a description if `x` itself is helpers code."""
    if isinstance(x, _ModuleType):
        name = getattr(x, "__name__", None)
        return name if _is_helpers_name(name) else None
    if isinstance(x, (_str, bytes, _int, _float, _bool, complex)) or x is None:
        return None
    if isinstance(x, _FunctionType):
        g = x.__globals__
        modname = g.get("__name__")
        label = _str(modname) + "." + _str(getattr(x, "__qualname__", "?"))
        if _is_helpers_name(modname) or id(g) in namespaces:
            return label
        if _is_helpers_name(getattr(x, "__module__", None)):
            return _str(x.__module__) + "." + _str(getattr(x, "__qualname__", "?"))
        stack.append(x.__code__)  # a helpers code object in a new function
        if _is_library_module(modname):
            return None
        doc = x.__doc__
        for code in _codes(x.__code__):
            for const in code.co_consts:
                if isinstance(const, _str) and const is not doc and (
                        _is_helpers_name(const.strip()) or _HELPERS_IMPORT.search(const)):
                    return const.strip()
            for ins in _get_instructions(code):
                if ins.opname == "IMPORT_NAME" and _is_helpers_name(ins.argval):
                    return ins.argval
                if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME") and ins.argval in g:
                    stack.append(g[ins.argval])
        for cell in x.__closure__ or ():
            try:
                stack.append(cell.cell_contents)
            except ValueError:
                pass
        stack.extend(x.__defaults__ or ())
        stack.extend((x.__kwdefaults__ or {}).values())
        stack.extend(_list(vars(x).values())[:50])
        return None
    if isinstance(x, _partial):
        stack.append(x.func)
        stack.extend(x.args)
        stack.extend(x.keywords.values())
        return None
    if isinstance(x, _MethodType):
        stack.extend((x.__func__, x.__self__))
        return None
    if isinstance(x, (staticmethod, classmethod)):
        stack.append(x.__func__)
        return None
    if isinstance(x, (_list, _tuple, set, frozenset)):
        stack.extend(_list(x)[:200])
        return None
    if isinstance(x, _dict):
        stack.extend(_list(x.values())[:200])
        return None
    if isinstance(x, _type):
        modname = getattr(x, "__module__", None)
        if _is_helpers_name(modname):
            return _str(modname) + "." + _str(getattr(x, "__qualname__", "?"))
        if _is_library_module(modname):
            return None
        stack.extend(_list(vars(x).values())[:200])
        return None
    if _type(x) is _BUILTIN_FN:
        owner = getattr(x, "__self__", None)
        if owner is not None:
            stack.append(owner)
        return None
    # an instance: a callable one of a helpers class is reference code; data
    # objects of helpers (e.g. a table entry) are only searched for functions
    cls = _type(x)
    cls_module = getattr(cls, "__module__", None)
    if _is_helpers_name(cls_module):
        if callable(x):
            return _str(cls_module) + "." + _str(getattr(cls, "__qualname__", "?"))
    elif not _is_library_module(cls_module):
        stack.append(cls)
    for attr in ("pyfunc", "func", "__wrapped__"):  # np.vectorize, wrappers
        inner = getattr(x, attr, None) if hasattr(x, attr) else None
        if inner is not None:
            stack.append(inner)
    namespace = getattr(x, "__dict__", None)
    if isinstance(namespace, _dict):
        stack.extend(_list(namespace.values())[:200])
    return None


def check_own_work(obj, name):
    """Fail if `obj` is, wraps or calls code from a ``helpers`` module.

    Catches: the reference object itself, a ``functools.partial`` of it, a
    lambda or def that calls it (through globals, closure cells, default
    arguments, ``__wrapped__``, containers or helper functions it calls), a
    function built on a helpers module's globals or code object, an
    ``import helpers...`` inside the body, and a string that *is* (identity) a
    string of a helpers module (``helpers.brian_reference``). Identical text
    written by the student is not a re-export and passes.

    Parameters
    ----------
    obj : object
        The student's function or string.
    name : str
        The student's name for it, used in the message.
    """
    _canary()
    found = _find_helpers_use(obj)
    if found:
        _fail(name + " uses the course's reference code (" + _str(found)
              + "); write your own, re-exporting or calling helpers earns no points")


# ---------------------------------------------------------------------------
# Simple checks
# ---------------------------------------------------------------------------
def check_callable(obj, name):
    """Fail unless `obj` is callable ("<name> is not a function (it is a float)")."""
    _canary()
    if not callable(obj):
        _fail(name + " is not a function (it is " + _article(_type(obj).__name__)
              + "); define it with def")
    return obj


def _article(word):
    return ("an " if word[:1] in "aeiouAEIOU" else "a ") + word


def check_string(obj, name):
    """Fail unless `obj` is a non-empty ``str``; return it as a plain ``str``.

    Methods of a ``str`` subclass are never called (they would be student code
    running inside the grader).
    """
    if not isinstance(obj, _str):
        _fail(name + " is not a string (it is " + _article(_type(obj).__name__) + ")")
    text = _str.__str__(obj)
    if not _str.strip(text):
        _fail(name + " is an empty string")
    return text


def check_choice(obj, name, choices, expected=None, hidden=True):
    """Fail unless `obj` is one of `choices` (case and spaces ignored).

    Parameters
    ----------
    obj : str
        The student's answer.
    name : str
        Its name ("shunting_effect").
    choices : sequence of str
        The allowed answers.
    expected : str, optional
        The right answer; with ``hidden=True`` the message does not name it.

    Returns
    -------
    str
        The matching entry of `choices`.
    """
    text = check_string(obj, name)
    options = [_str(c) for c in choices]
    quoted = [repr(c) for c in options]
    quoted = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    key = text.strip().lower()
    match = [c for c in options if c.strip().lower() == key]
    if not match:
        _fail(name + " is " + repr(text) + "; choose one of " + quoted)
    if expected is not None and match[0].strip().lower() != _str(expected).strip().lower():
        if hidden:
            _fail(name + " is " + repr(match[0]) + ", which is not the right answer")
        _fail(name + " is " + repr(match[0]) + "; expected " + repr(_str(expected)))
    return match[0]


def check_shape(actual, expected_shape, what, input_shape=None):
    """Fail unless `actual` converts to a float array of `expected_shape`.

    With `input_shape` the message reads "exp_conductance returned shape (3,)
    for an input of shape (4,)" (`what` names the function); without it,
    "<what> has shape (3,); expected shape (4,)". Returns the float array.
    """
    _canary()
    expected_shape = _tuple(expected_shape)
    subject = what + (" returned" if input_shape is not None else " is")
    a = _to_array(actual, subject, returned=input_shape is not None)
    if a.shape != expected_shape:
        if input_shape is not None:
            given = "a scalar input" if _tuple(input_shape) == () else (
                "an input of " + _shape_text(_tuple(input_shape)))
            _fail(what + " returned " + _shape_text(a.shape) + " for " + given)
        _fail(what + " has " + _shape_text(a.shape) + "; expected " + _shape_text(expected_shape))
    return a


def check_finite(actual, what, x=None, x_name="t", x_unit="ms", inputs=None, function=None):
    """Fail if `actual` contains NaN or inf ("g contains NaN at t = 0 ms").

    Parameters
    ----------
    actual : array_like
        The values to check.
    what : str
        Name of the quantity ("g").
    x : array_like, optional
        The independent variable, same shape, used to say where.
    function : str, optional
        Function that produced `actual`; with `inputs` it prefixes the message.
    """
    _canary()
    with _Quiet():
        a = _to_array(actual, what + " is")
        _require_finite(a, what, _xarray(x, a.shape), x_name, x_unit,
                        _prefix(function, inputs))
    return a


def _prefix(function, inputs):
    if function is None and not inputs:
        return ""
    return _who(function or _current_name("the function"), inputs) + ": "


def _xarray(x, shape):
    if x is None:
        return None
    xa = _to_array(x, "the independent variable is", allow_quantity=False)
    if xa.shape != shape:
        raise CourseError("x has shape " + repr(xa.shape) + " but the values have " + repr(shape))
    return xa


def _require_finite(a, what, x, x_name, x_unit, prefix):
    nan = _isnan(a)
    if _any(nan):
        _fail(prefix + what + " contains NaN" + _at(x, _first(nan), x_name, x_unit, a.shape))
    inf = _not(_isfinite(a))
    if _any(inf):
        _fail(prefix + what + " is infinite" + _at(x, _first(inf), x_name, x_unit, a.shape))


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------
def _direction(a, e):
    if a != a or e != e:
        return "wrong"
    return "too large" if a > e else "too small"


def check_values(actual, expected, what, unit="", rtol=1e-6, atol=0.0, hidden=True,
                 inputs=None, rule=None, function=None, x=None, x_name="t", x_unit="ms"):
    """Compare student values with reference values, elementwise.

    Passes where ``|actual - expected| <= atol + rtol |expected|`` (NaN matches
    NaN, inf matches the same inf).

    Parameters
    ----------
    actual, expected : array_like or Brian2 quantity
        Student and reference values, same shape. Quantities are converted to
        `unit`; if the reference is a plain number the student's must be too.
    what : str
        What is compared ("u_inf", "steady_state_potential").
    unit : str
        Unit of the plain numbers ("mV"; "" for dimensionless).
    rtol, atol : float
        Relative and absolute (in `unit`) tolerance.
    hidden : bool
        True (default): the message gives the student's value, the inputs, and
        `rule` or the direction of the error, never the expected value.
        False (visible tests): the message states the expected value.
    inputs : dict, optional
        Inputs used, ``{"g_syn": 5.0, "g_m": 10.0}``; units from :data:`UNITS`
        or given as ``(value, "unit")``.
    rule : str, optional
        Physical rule for hidden messages, "(g_m u_rest + g_syn E_syn) / (g_m + g_syn)".
    function : str, optional
        Function that was called, for the message prefix.
    x : array_like, optional
        Independent variable (same shape) to say where the worst point is;
        `x_name`, `x_unit` name it.

    Returns
    -------
    numpy.ndarray
        The student's values as float64 (in `unit`).

    Examples
    --------
    "steady_state_potential with g_syn = 5 nS and g_m = 10 nS is -43.3 mV;
    expected -21.7 mV" (visible) or "...is -43.3 mV; it should be
    (g_m u_rest + g_syn E_syn)/(g_m + g_syn)" (hidden, with `rule`).
    """
    _canary()
    with _Quiet():
        label = _who(function, inputs) + ": " + what if function else _who(what, inputs)
        expected_is_q = _is_brian(expected)
        if expected_is_q and not _is_brian(actual) and unit:
            _fail(label + " is a plain number; expected a Brian2 quantity in " + unit)
        e = _to_array(expected, "the reference for " + what + " is", unit, allow_quantity=True)
        a = _to_array(actual, label + " is", unit, allow_quantity=expected_is_q)
        if a.shape != e.shape:
            _fail(label + " has " + _shape_text(a.shape) + "; expected " + _shape_text(e.shape))
        xa = _xarray(x, a.shape)
        ok, excess = _close(a, e, rtol, atol)
        if _all(ok):
            return a
        i = _int(excess.reshape(-1).argmax())
        ai, ei = a.reshape(-1)[i].item(), e.reshape(-1)[i].item()
        where = _at(xa, i, x_name, x_unit, a.shape)
        if ai != ai:
            _fail(label + " is NaN" + where)
        if hidden:
            tail = "it should be " + rule if rule else "that is " + _direction(ai, ei)
            _fail(label + " is " + _with_unit(fmt(ai), unit) + where + "; " + tail)
        sa, se = _fmt_pair(ai, ei)
        _fail(label + " is " + _with_unit(sa, unit) + where + "; expected " + _with_unit(se, unit))


# ---------------------------------------------------------------------------
# Waveforms
# ---------------------------------------------------------------------------
def _time_scale(args):
    taus = []
    for key, value in args.items():
        if isinstance(key, _str) and key.startswith("tau"):
            try:
                v = _float(value)
            except Exception:
                continue
            if v > 0 and v == v and v != _INF:
                taus.append(v)
    if not taus:
        return 10.0, 10.0
    return max(taus), min(taus)


def _default_grid(T, tmin):
    dt = min(T / 2000.0, tmin / 50.0)
    n_neg, n_pos = _int(round(T / dt)), _int(round(10.0 * T / dt))
    if n_neg + n_pos > 400000:  # cap the cost for extreme time-constant ratios
        dt = 11.0 * T / 400000.0
        n_neg, n_pos = _int(round(T / dt)), _int(round(10.0 * T / dt))
    return _mul(_arange(-n_neg, n_pos + 1).astype("float64"), dt)


def _reference(reference, args, what):
    try:
        return _to_array(reference(*args), "the reference for " + what + " returned")
    except GradingError as exc:
        raise CourseError(_str(exc)) from None
    except Exception as exc:
        raise CourseError("the reference for " + what + " raised " + _type(exc).__name__
                          + ": " + _safe_str(exc)) from exc


def check_waveform(fn, reference, args, t=None, name="g", unit="nS", hidden=True,
                   function=None, rtol=1e-6, atol=None, own_work=True):
    """Check a conductance waveform ``fn(t, *args.values())`` against a reference.

    Checks, in order (first failure wins):

    1. `fn` is callable and (``own_work=True``) not a helpers reference;
    2. a scalar t gives a scalar result (shape ()), for t on the decay and t < 0;
    3. an array t of shape (4,) gives shape (4,), and t itself is not modified;
    4. on a fine grid: finite, zero for t < 0, non-negative (if the reference
       is), peak value and peak time, then the whole curve;
    5. the scalar results agree with the reference.

    Parameters
    ----------
    fn : callable
        The student's function, called with positional arguments
        ``fn(t, *args.values())`` (so `args` must follow its signature order).
    reference : callable
        The reference (``helpers.waveforms.exp_conductance``), same signature.
    args : dict
        Parameters after t, in signature order, e.g. ``{"g_peak": 2.0, "tau": 3.0}``
        (nS, ms). Keys starting with "tau" set the time scale T (the largest).
    t : array_like, optional
        Time grid (ms, ascending). Default: from -T to 10 T with step
        min(T/2000, tau_min/50), t = 0 included exactly.
    name, unit : str
        Name and unit of the returned quantity ("g", "nS").
    hidden : bool
        True: messages state the student's values and the rule ("it should equal
        g_peak", "at t = tau") or the direction, never reference values.
    function : str, optional
        Name of the student's function (default: the enclosing ``checking``
        name, else ``fn.__name__``).
    rtol : float
        Relative tolerance of peak and curve (default 1e-6).
    atol : float, optional
        Absolute tolerance in `unit` (default 1e-9 x the reference peak,
        at least 1e-12).
    own_work : bool
        Run :func:`check_own_work` on `fn` first (default True).
    """
    _canary()
    with _Quiet():
        function = _function_name(fn, function)
        check_callable(fn, function)
        if own_work:
            check_own_work(fn, function)
        names, params = _tuple(args.keys()), _tuple(args.values())
        who = _who(function, args)
        T, tmin = _time_scale(args)
        if t is None:
            grid = _default_grid(T, tmin)
        else:
            grid = _to_array(t, "the time grid is").reshape(-1)
            if grid.size < 2:
                raise CourseError("check_waveform needs a time grid with at least 2 points")
        ref = _reference(reference, (grid,) + params, function)
        if ref.shape != grid.shape:
            raise CourseError("the reference returned shape " + repr(ref.shape)
                              + " for a grid of shape " + repr(grid.shape))
        peak_ref = _float(_max.reduce(_abs(ref), axis=None)) if ref.size else 0.0
        if atol is None:
            atol = max(1e-9 * peak_ref, 1e-12)

        # 2. scalar t
        scalar_ts = (T, -T / 2.0)
        scalar_out = []
        for ts in scalar_ts:
            out = _call_student(fn, (ts,) + params, function,
                                "a scalar t = " + _fmt_in(ts) + " ms")
            a = check_shape(out, (), function, input_shape=())
            scalar_out.append(a)

        # 3. small array, not modified in place
        t4 = _array([-T / 2.0, 0.0, T, 3.0 * T], dtype="float64")
        t4_given = t4.copy()
        out = _call_student(fn, (t4_given,) + params, function,
                            "t = [" + ", ".join(_fmt_in(v) for v in t4.tolist()) + "] ms")
        if not _all(_eq(t4_given, t4)):
            _fail(function + " changed the array t that was passed in; compute on a copy "
                  "(e.g. t = np.array(t, dtype=float)) instead of assigning into t")
        check_shape(out, t4.shape, function, input_shape=t4.shape)

        # 4. the grid
        grid_given = grid.copy()
        out = _call_student(fn, (grid_given,) + params, function,
                            "t from " + _fmt_in(grid[0].item()) + " to "
                            + _fmt_in(grid[-1].item()) + " ms")
        g = check_shape(out, grid.shape, function, input_shape=grid.shape)
        _require_finite(g, name, grid, "t", "ms", who + ": ")

        before = _lt(grid, 0.0)
        nonzero = _and(before, _gt(_abs(g), atol))
        if _any(nonzero):
            i = _first(nonzero)
            _fail(who + ": " + name + " is non-zero before the spike ("
                  + _with_unit(fmt(g[i].item()), unit) + " at t = " + fmt(grid[i].item()) + " ms)")

        if _float(_min.reduce(ref, axis=None)) >= 0.0:
            negative = _lt(g, -atol)
            if _any(negative):
                i = _first(negative)
                _fail(who + ": " + name + " is negative (" + _with_unit(fmt(g[i].item()), unit)
                      + " at t = " + fmt(grid[i].item()) + " ms); a conductance cannot be negative")

        if peak_ref > 0.0:
            _check_peak(g, ref, grid, args, names, who, name, unit, hidden, rtol, atol)

        ok, excess = _close(g, ref, rtol, atol)
        if not _all(ok):
            i = _int(excess.argmax())
            gi, ri, ti = g[i].item(), ref[i].item(), grid[i].item()
            if hidden:
                _fail(who + ": " + name + " is " + _with_unit(fmt(gi), unit) + " at t = "
                      + fmt(ti) + " ms; that is " + _direction(gi, ri))
            sa, se = _fmt_pair(gi, ri)
            _fail(who + ": " + name + " is " + _with_unit(sa, unit) + " at t = " + fmt(ti)
                  + " ms; expected " + _with_unit(se, unit))

        # 5. scalar values
        for ts, a in zip(scalar_ts, scalar_out):  # noqa: B905
            r = _reference(reference, (ts,) + params, function).reshape(())
            ok, _ = _close(a, r, rtol, atol)
            if not _all(ok):
                ai, ri = a.item(), r.item()
                if hidden:
                    _fail(who + ": for a scalar t = " + _fmt_in(ts) + " ms " + name + " is "
                          + _with_unit(fmt(ai), unit) + ", not the value the function gives "
                          "for the same t inside an array")
                sa, se = _fmt_pair(ai, ri)
                _fail(who + ": for a scalar t = " + _fmt_in(ts) + " ms " + name + " is "
                      + _with_unit(sa, unit) + "; expected " + _with_unit(se, unit))


def _check_peak(g, ref, grid, args, names, who, name, unit, hidden, rtol, atol):
    i_s, i_r = _int(g.argmax()), _int(ref.argmax())
    gs, gr = g[i_s].item(), ref[i_r].item()
    ts, tr = grid[i_s].item(), grid[i_r].item()
    lo, hi = max(i_r - 1, 0), min(i_r + 1, grid.size - 1)
    step = (grid[hi].item() - grid[lo].item()) / max(hi - lo, 1)
    time_tol = 2.0 * step + 1e-9 * max(-grid[0].item(), grid[-1].item(), 0.0)
    ok_time = (ts - tr if ts > tr else tr - ts) <= time_tol
    # a shifted peak is sampled at a different grid phase: allow for that
    value_rtol = rtol if ok_time else max(rtol, 1e-3)
    ok_value = _all(_close(_array([gs]), _array([gr]), value_rtol, atol)[0])
    if ok_value and ok_time:
        return
    head = who + ": "
    if not hidden:
        sa, se = _fmt_pair(gs, gr) if not ok_value else (fmt(gs), fmt(gr))
        ta, te = _fmt_pair(ts, tr) if not ok_time else (fmt(ts), fmt(tr))
        _fail(head + "peak of " + name + " is " + _with_unit(sa, unit) + " at t = " + ta
              + " ms; expected " + _with_unit(se, unit) + " at t = " + te + " ms")
    # Name the rule when the reference peak is an input (g_peak; t = tau): that
    # is derivable from what the student was told. Times are inputs whose name
    # starts with "t"; the sampled peak of a smooth maximum lies within 1e-4
    # (relative) of the true one on the default grid.
    value_rule = None
    for key in names:
        if key.startswith("t"):
            continue
        try:
            v = _float(args[key])
        except Exception:
            continue
        if v == gr or (gr != 0.0 and (v - gr if v > gr else gr - v) <= 1e-4 * (gr if gr > 0 else -gr)):
            value_rule = "equal " + key
            break
    time_rule = None
    if (tr if tr >= 0 else -tr) <= time_tol:
        time_rule = "be at the spike (t = 0)"
    else:
        for key in names:
            if not key.startswith("t"):
                continue
            try:
                v = _float(args[key])
            except Exception:
                continue
            if (v - tr if v > tr else tr - v) <= time_tol:
                time_rule = "be at t = " + key
                break
    value_part = time_part = None
    if not ok_value:
        value_part = ("should " + value_rule) if value_rule else ("is " + _direction(gs, gr))
    if not ok_time:
        time_part = ("should " + time_rule) if time_rule else (
            "comes too late" if ts > tr else "comes too early")
    if value_part and time_part:
        if value_rule and time_rule:  # "it should equal g_peak and be at t = tau"
            tail = "it " + value_part + " and " + time_rule
        else:
            tail = "it " + value_part + " and it " + time_part
    else:
        tail = "it " + (value_part or time_part)
    _fail(head + "the peak of " + name + " is " + _with_unit(fmt(gs), unit) + " at t = "
          + fmt(ts) + " ms; " + tail)


# ---------------------------------------------------------------------------
# Traces (Brian2)
# ---------------------------------------------------------------------------
def check_trace(t, actual, expected, what, unit, atol, hidden=True, t_unit="ms",
                inputs=None, rtol=0.0, function=None):
    """Compare a simulated trace with a reference trace on the same time grid.

    Parameters
    ----------
    t : array_like or Brian2 quantity
        Sample times; quantities are converted to `t_unit`.
    actual, expected : array_like or Brian2 quantity
        Traces of shape (n,) or (neurons, n), n = len(t); quantities are
        converted to `unit`.
    what, unit : str
        Name and unit of the traced variable ("u", "mV").
    atol : float
        Absolute tolerance in `unit`; `rtol` relative tolerance (default 0).
    hidden : bool
        True: the message gives the time and size of the largest difference
        only; False: also the student's and the expected value there.
    inputs : dict, optional
        Namespace values to print ("with g_max = 2 nS and Mg = 1.2 mM").
    function : str, optional
        What produced the trace (e.g. "synapse_model"), for the message.

    Examples
    --------
    hidden: "u with g_max = 2 nS departs from the correct trace by up to 0.520 mV
    (at t = 12.3 ms; tolerance 0.01 mV)"; visible: "u is -64.1 mV at t = 12.3 ms;
    expected -64.6 mV (difference 0.520 mV, tolerance 0.01 mV)".
    """
    _canary()
    with _Quiet():
        label = (_who(function, inputs) + ": " + what) if function else _who(what, inputs)
        ta = _to_array(t, "the time axis is", t_unit, allow_quantity=True).reshape(-1)
        e = _to_array(expected, "the reference " + what + " is", unit, allow_quantity=True)
        a = _to_array(actual, label + " is", unit, allow_quantity=True)
        if e.shape[-1:] != ta.shape:
            raise CourseError("the reference trace has shape " + repr(e.shape)
                              + " for " + _str(ta.size) + " sample times")
        if a.shape != e.shape:
            if a.ndim == e.ndim == 1:
                _fail(label + " has " + _str(a.size) + " samples; expected " + _str(e.size)
                      + " (same duration and dt)")
            _fail(label + " has " + _shape_text(a.shape) + "; expected " + _shape_text(e.shape))
        times = _add(_zeros(a.shape, "float64"), ta)  # the time of every sample
        where_nan = _isnan(a)
        if _any(where_nan):
            i = _first(where_nan)
            _fail(label + " becomes NaN at t = " + _with_unit(fmt(times.reshape(-1)[i].item()), t_unit)
                  + _neuron(i, a.shape))
        ok, excess = _close(a, e, rtol, atol)
        if _all(ok):
            return a
        i = _int(excess.reshape(-1).argmax())
        ai, ei = a.reshape(-1)[i].item(), e.reshape(-1)[i].item()
        ti = times.reshape(-1)[i].item()
        d = ai - ei if ai > ei else ei - ai
        where = "t = " + _with_unit(fmt(ti), t_unit) + _neuron(i, a.shape)
        tolerance = "tolerance " + _with_unit(_fmt_in(atol), unit)
        if hidden:
            _fail(label + " departs from the correct trace by up to " + _with_unit(fmt(d), unit)
                  + " (at " + where + "; " + tolerance + ")")
        sa, se = _fmt_pair(ai, ei)
        _fail(label + " is " + _with_unit(sa, unit) + " at " + where + "; expected "
              + _with_unit(se, unit) + " (difference " + _with_unit(fmt(d), unit) + ", "
              + tolerance + ")")


def _neuron(i, shape):
    if len(shape) < 2:
        return ""
    return " in neuron " + _str(i // shape[-1])


# ---------------------------------------------------------------------------
# IPython: one-line display of GradingError
# ---------------------------------------------------------------------------
def _ipython_handler(shell, etype, value, tb, tb_offset=None):
    if getattr(etype, "_helpers_grading_error", False):
        stb = [etype.__name__ + ": " + _safe_str(value)]
        shell._showtraceback(etype, value, stb)
        return stb
    previous = getattr(shell, "_helpers_grading_previous_tb", None)
    if previous is not None:  # a class another tool registered: its own handler
        return previous(etype, value, tb, tb_offset=tb_offset)
    stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    shell._showtraceback(etype, value, stb)
    return stb


def install_ipython_handler():
    """Make IPython show a GradingError as the single line "GradingError: <sentence>".

    Registers, via ``get_ipython().set_custom_exc``, every GradingError class
    of this module and of its :func:`fresh` copies. The kernel still reports
    the cell as failed (error output, execute reply status "error"). Exception
    classes another tool registered stay registered and keep going to that
    tool's handler. Called on import, on entering ``checking`` and before
    raising (so a notebook that removes the handler gets it back); does
    nothing and returns False outside IPython. IPython is never imported here.
    """
    ipython = _sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None) if ipython is not None else None
    if get is None:
        return False
    try:
        shell = get()
        if shell is None or not hasattr(shell, "set_custom_exc"):
            return False
        current = _tuple(getattr(shell, "custom_exceptions", ()) or ())
        ours = _tuple(c for c in current if c is not GradingError
                      and getattr(c, "_helpers_grading_error", False))
        foreign = _tuple(c for c in current if not getattr(c, "_helpers_grading_error", False))
        installed = getattr(shell, "_helpers_grading_custom_tb", None)
        if shell.CustomTB is not installed:  # not our handler: remember it for its classes
            shell._helpers_grading_previous_tb = shell.CustomTB if foreign else None
        shell.set_custom_exc((GradingError,) + ours + foreign, _ipython_handler)
        shell._helpers_grading_custom_tb = shell.CustomTB
    except Exception:
        return False
    return True


# ---------------------------------------------------------------------------
# A pristine copy of this module
# ---------------------------------------------------------------------------
def fresh():
    """Return a new, pristine copy of this module, executed from its file.

    Use it at the top of hidden tests when notebook code might have patched
    ``helpers.grading`` (its functions, its globals, or numpy)::

        from helpers.grading import fresh
        grading = fresh()
        grading.check_untampered()   # optional: fail if helpers.grading was patched

    The copy captures numpy's C functions and the builtins again and runs the
    canary before every check, so a patched numpy is detected rather than
    trusted. It is not registered in ``sys.modules``; its GradingError is a
    new class (catch ``AssertionError`` to cover every copy).
    """
    spec = _spec_from_file_location("helpers._grading_pristine", _THIS_FILE)
    module = _module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tampered_names(live, pristine_namespace):
    changed = []
    live_ns = getattr(live, "__dict__", {})
    own = pristine_namespace
    for key, ref in pristine_namespace.items():
        if key in ("__builtins__", "__name__", "__spec__", "__loader__", "__file__",
                   "__cached__", "__package__", "__doc__", "_NAMES"):
            continue
        if key not in live_ns:
            changed.append(key)
            continue
        value = live_ns[key]
        if isinstance(ref, _FunctionType) and ref.__globals__ is own:
            if not (isinstance(value, _FunctionType) and value.__code__ == ref.__code__
                    and value.__defaults__ == ref.__defaults__
                    and value.__kwdefaults__ == ref.__kwdefaults__
                    and value.__globals__ is live_ns):
                changed.append(key)
        elif isinstance(ref, _type) and ref.__module__ == own.get("__name__"):
            if not isinstance(value, _type) or value.__name__ != ref.__name__:
                changed.append(key)
                continue
            for attr, member in vars(ref).items():
                other = vars(value).get(attr)
                if isinstance(member, _FunctionType):
                    if not (isinstance(other, _FunctionType) and other.__code__ == member.__code__):
                        changed.append(key + "." + attr)
        elif isinstance(ref, (_float, _int, _str, _bool, _tuple, _list, _dict, _re.Pattern)) and not isinstance(
                ref, _type):
            try:
                same = value is ref or _bool(value == ref) or (ref != ref and value != value)
            except Exception:
                same = False
            if not same:
                changed.append(key)
        else:  # modules, numpy and builtin functions, imported classes and functions
            same = value is ref
            if not same:
                changed.append(key)
    builtins_live = live_ns.get("__builtins__")
    for name in _BUILTIN_NAMES:
        if not isinstance(builtins_live, _dict) or builtins_live.get(name) is not __builtins__.get(name):
            changed.append(name)
    return changed


def check_untampered(module_name="helpers.grading"):
    """Fail if the imported grading module was modified after import.

    Compares every function (code, defaults), class, captured numpy function,
    constant and builtin of ``sys.modules[module_name]`` with this copy; call
    it on a :func:`fresh` copy. Restart the kernel after editing grading.py,
    or the edit itself looks like tampering.
    """
    _canary()
    live = _sys.modules.get(module_name)
    if live is None:
        return
    changed = _tampered_names(live, globals())
    if changed:
        _fail("the notebook changed the grading code (" + module_name + "."
              + ", ".join(sorted(set(changed))[:5])
              + "); tampering with the checking code earns no points")


install_ipython_handler()
