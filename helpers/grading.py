"""Comparison utilities for the visible and hidden tests of the synapses course.

Every check either returns quietly or raises :class:`GradingError` (an
``AssertionError``) whose message is ONE sentence in physics terms, for example::

    exp_conductance with g_peak = 1 nS and tau = 5 ms: peak of g is 0.370 nS at
    t = 5.00 ms; expected 1.00 nS at t = 0 ms

Plain-number units follow the course: ms, mV, nS, pF, pA, mM, Hz. Numbers in
messages have 3 significant digits (more when needed to tell two values apart);
the inputs a test used are printed exactly (up to 6 digits).

Where the tests run
-------------------
Hidden tests run in a separate, trusted grader process that never executes
student code: the student's functions are proxies there, which send plain data
to the sandboxed kernel and return plain numbers, arrays and strings (or raise
an exception whose class has the name of the student's exception, or a
``GradingError`` for a timeout or a value of the wrong type), and the sandbox
keeps the reference answers out of the student's reach. This module therefore
does not defend itself against the notebook: it uses plain numpy and plain
builtins and only turns outcomes into one-sentence physics messages. Visible
tests still run in the student's own kernel, where :func:`install_ipython_handler`
shows a ``GradingError`` as one line.

Hidden tests
------------
How the course's hidden tests call these checks (``checking``, ``hidden=True``,
the grader's proxies) is the instructor's documentation:
``docs/instructor/hidden-tests.md`` in the course repository.

API
---
``GradingError``, ``CourseError``, ``checking(name, quiet=True)``,
``call(fn, *args, name=None, **kw)``,
``check_callable(obj, name)``, ``check_string(obj, name)``,
``check_choice(obj, name, choices, expected=None, hidden=True)``,
``check_shape(actual, expected_shape, what, input_shape=None)``,
``check_finite(actual, what, x=None, ...)``,
``check_values(actual, expected, what, unit="", rtol=1e-6, atol=0.0, hidden=True, inputs=None, rule=None, ...)``,
``check_waveform(fn, reference, args, t=None, name="g", unit="nS", hidden=True, ...)``,
``check_trace(t, actual, expected, what, unit, atol, hidden=True, ...)``,
``install_ipython_handler()``, ``fmt(x)``,
and ``UNITS`` (the unit printed for a named input, e.g. ``tau`` -> ms).

In IPython and ipykernel, importing this module installs a custom exception
handler, so a ``GradingError`` prints only ``GradingError: <sentence>``: no
traceback line of a test reaches the student's feedback. The cell still
ends with an error output (the execute reply has status "error"), so nbgrader
scores it 0. Other exceptions keep their normal tracebacks.
"""

import math
import sys
import warnings

import numpy as np

__all__ = [
    "GradingError",
    "CourseError",
    "checking",
    "call",
    "check_callable",
    "check_shape",
    "check_finite",
    "check_values",
    "check_waveform",
    "check_trace",
    "check_string",
    "check_choice",
    "install_ipython_handler",
    "fmt",
    "UNITS",
]

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

    def __init__(self, *args, misconception=None):
        install_ipython_handler()
        AssertionError.__init__(self, *args)
        #: Stable identifier of the known wrong answer this failure detects
        #: ("alpha-jump-w-not-ew"), or None: the trusted grader then names it
        #: from the sentence (coursekit.answers.misconceptions) or calls it "other".
        #: It is never part of the sentence: the grader reports it in a separate
        #: output that the students' feedback does not show.
        self.misconception = misconception if isinstance(misconception, str) and misconception else None


class CourseError(RuntimeError):
    """The test itself is broken (a reference raised, inconsistent arguments).

    ``checking`` lets it through unchanged so the instructor sees the traceback.
    """

    _helpers_course_error = True


def _fail(sentence, misconception=None):
    raise GradingError(sentence, misconception=misconception)


class _Quiet:
    """Silence numpy floating-point warnings and Python warnings (nbgrader
    scores any stderr output as a failure)."""

    def __enter__(self):
        self._errstate = np.errstate(all="ignore")
        self._errstate.__enter__()
        self._cw = warnings.catch_warnings()
        self._cw.__enter__()
        warnings.simplefilter("ignore")
        return self

    def __exit__(self, *exc):
        try:
            self._cw.__exit__(*exc)
        finally:
            self._errstate.__exit__(*exc)
        return False


# ---------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------
def fmt(x, sig=3):
    """Format a number with `sig` significant digits ("0.370", "5.00", "-65.0").

    Exact zero prints as "0"; NaN as "NaN"; |x| >= 1e5 or < 1e-3 in exponent
    notation ("1.23e-05").
    """
    x = float(x)
    if x != x:
        return "NaN"
    if x == math.inf:
        return "inf"
    if x == -math.inf:
        return "-inf"
    if x == 0.0:
        return "0"
    mantissa, exponent = format(x, "." + str(sig - 1) + "e").split("e")
    e = int(exponent)
    if -3 <= e < 5:
        decimals = sig - 1 - e
        return format(x, "." + str(decimals if decimals > 0 else 0) + "f")
    return mantissa + "e" + ("-" if e < 0 else "") + str(e if e >= 0 else -e).rjust(2, "0")


def _fmt_pair(a, b):
    """Format a and b with 3 significant digits, more if needed to differ."""
    for sig in (3, 4, 5, 6, 7, 8, 10, 12, 15, 17):
        sa, sb = fmt(a, sig), fmt(b, sig)
        if sa != sb:
            return sa, sb
    return sa, sb


def _fmt_in(x):
    """Format an input value exactly enough to reproduce it (6 digits)."""
    x = float(x)
    if x != x:
        return "NaN"
    if x == 0.0:
        return "0"
    return format(x, ".6g")


def _with_unit(text, unit):
    return text + (" " + unit if unit else "")


def _join_and(parts):
    parts = list(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _brian_unit(unit):
    b2 = sys.modules.get("brian2")
    if b2 is None:
        return None
    if not unit:
        return 1.0
    return getattr(b2, unit, None)


def _brian_dim_text(x):
    """'volt', 'siemens', ... for a Brian2 quantity (its SI unit's name)."""
    b2 = sys.modules.get("brian2")
    try:
        return repr(b2.get_unit(x.dim))
    except Exception:
        return _safe_str(getattr(x, "dim", "?"))


def _is_brian(x):
    """True for a Brian2 quantity that carries a physical dimension (a
    dimensionless quantity is a plain number)."""
    if not ((type(x).__module__ or "").startswith("brian2") and hasattr(x, "dim")):
        return False
    try:
        return not bool(x.is_dimensionless)
    except Exception:
        return True


def _fmt_input_value(name, value):
    unit = UNITS.get(name, "")
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str):
        value, unit = value
    if isinstance(value, str):
        return repr(value)
    if _is_brian(value):
        u = _brian_unit(unit)
        try:
            value = value / u
            if _is_brian(value):
                raise TypeError
        except Exception:
            return str(value)
    try:
        arr = np.array(value, dtype="float64")
    except Exception:
        return str(value)
    if arr.ndim == 0:
        return _with_unit(_fmt_in(arr.item()), unit)
    flat = arr.reshape(-1)
    if flat.size <= 4:
        return _with_unit("[" + ", ".join(_fmt_in(v) for v in flat.tolist()) + "]", unit)
    return _with_unit("from " + _fmt_in(flat[0].item()) + " to " + _fmt_in(flat[-1].item()),
                      unit) + " (" + str(flat.size) + " values)"


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
    return "a scalar" if shape == () else "shape " + repr(tuple(shape))


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
    return list(reversed(out))


def _safe_str(exc):
    try:
        text = str(exc)
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
    if isinstance(x, (str, bytes)):
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
        raw = np.array(x)
    except Exception as exc:
        _fail(subject + " something that is not a number or an array of numbers ("
              + type(x).__name__ + ": " + _safe_str(exc) + ")")
    kind = raw.dtype.kind
    if kind == "c":
        _fail(subject + " a complex value")
    if kind not in "biuf":
        try:
            raw = np.array(raw, dtype="float64")
        except Exception:
            _fail(subject + " a " + type(x).__name__ + " that does not hold plain numbers")
    return np.array(raw, dtype="float64", copy=True)


def _close(a, e, rtol, atol):
    """Elementwise a ~ e within atol + rtol |e| (NaN ~ NaN, inf ~ same inf).

    Returns flat (ok mask, excess) where excess is how far each element is
    beyond its tolerance (inf for non-finite mismatches, -inf where ok).
    """
    a, e = a.reshape(-1), e.reshape(-1)
    both = np.isfinite(a) & np.isfinite(e)
    diff = np.zeros(a.shape, "float64")
    np.subtract(a, e, out=diff, where=both)
    np.abs(diff, out=diff)
    tol = np.zeros(a.shape, "float64")
    np.multiply(float(rtol), np.abs(e), out=tol, where=both)
    np.add(tol, float(atol), out=tol)
    ok = ((both & (diff <= tol)) | (a == e)) | (np.isnan(a) & np.isnan(e))
    excess = diff - tol
    excess[~both] = math.inf
    excess[ok] = -math.inf
    return ok, excess


def _all(mask):
    return bool(np.all(mask))


def _any(mask):
    return bool(np.any(mask))


def _first(mask):
    """Flat index of the first True element of `mask`."""
    return int(mask.reshape(-1).argmax())


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
    try:  # a proxy of the grader may have no meaningful __name__
        name = getattr(fn, "__name__", None)
    except Exception:
        name = None
    if isinstance(name, str) and name.isidentifier():
        return name
    return "the function"


def _is_ours(etype):
    """GradingError or CourseError, of this module or of any copy of it."""
    return bool(getattr(etype, "_helpers_grading_error", False)
                or getattr(etype, "_helpers_course_error", False))


def _exception_sentence(name, exc, context=None):
    """'<name> raised <Type>: <message>'. The type is named by its class name: in
    the grader process the class is one created with the name of the student's
    exception (``type("ValueError", (Exception,), {})``), not the builtin."""
    kind = type(exc).__name__
    message = _safe_str(exc)
    if isinstance(exc, NotImplementedError) or kind == "NotImplementedError":
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
        if _is_ours(etype):
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


# The file name this module's frames carry (the compiler's, not a rebuilt path).
_THIS_FILE = _raised_by_grader.__code__.co_filename


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
    if not isinstance(name, str) or not name:
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
    if isinstance(fn, str):
        name = name or fn
        namespace = sys._getframe(1).f_globals
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
        if _is_ours(type(exc)):  # e.g. a proxy's GradingError for a timeout
            raise
        if isinstance(exc, NameError) and getattr(exc, "name", None) == name:
            _fail(name + " is not defined; run the cell that defines it")  # a proxy's missing function
        _fail(_exception_sentence(name, exc, context))


# ---------------------------------------------------------------------------
# Simple checks
# ---------------------------------------------------------------------------
def check_callable(obj, name):
    """Fail unless `obj` is callable ("<name> is not a function (it is a float)")."""
    if not callable(obj):
        _fail(name + " is not a function (it is " + _article(type(obj).__name__)
              + "); define it with def")
    return obj


def _article(word):
    return ("an " if word[:1] in "aeiouAEIOU" else "a ") + word


def check_string(obj, name):
    """Fail unless `obj` is a non-empty ``str``; return it as a plain ``str``."""
    if not isinstance(obj, str):
        _fail(name + " is not a string (it is " + _article(type(obj).__name__) + ")")
    text = str.__str__(obj)
    if not str.strip(text):
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
    options = [str(c) for c in choices]
    quoted = [repr(c) for c in options]
    quoted = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    key = text.strip().lower()
    match = [c for c in options if c.strip().lower() == key]
    if not match:
        _fail(name + " is " + repr(text) + "; choose one of " + quoted)
    if expected is not None and match[0].strip().lower() != str(expected).strip().lower():
        if hidden:
            _fail(name + " is " + repr(match[0]) + ", which is not the right answer")
        _fail(name + " is " + repr(match[0]) + "; expected " + repr(str(expected)))
    return match[0]


def check_shape(actual, expected_shape, what, input_shape=None):
    """Fail unless `actual` converts to a float array of `expected_shape`.

    With `input_shape` the message reads "exp_conductance returned shape (3,)
    for an input of shape (4,)" (`what` names the function); without it,
    "<what> has shape (3,); expected shape (4,)". Returns the float array.
    """
    expected_shape = tuple(expected_shape)
    subject = what + (" returned" if input_shape is not None else " is")
    a = _to_array(actual, subject, returned=input_shape is not None)
    if a.shape != expected_shape:
        if input_shape is not None:
            given = "a scalar input" if tuple(input_shape) == () else (
                "an input of " + _shape_text(tuple(input_shape)))
            _fail(what + " returned " + _shape_text(a.shape) + " for " + given, misconception="shape-of-result")
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
    nan = np.isnan(a)
    if _any(nan):
        _fail(prefix + what + " contains NaN" + _at(x, _first(nan), x_name, x_unit, a.shape))
    inf = ~np.isfinite(a)
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
    with _Quiet():
        label = _who(function, inputs) + ": " + what if function else _who(what, inputs)
        expected_is_q = _is_brian(expected)
        if expected_is_q and not _is_brian(actual) and unit:
            _fail(label + " is a plain number; expected a Brian2 quantity in " + unit)
        e = _to_array(expected, "the reference for " + what + " is", unit, allow_quantity=True)
        a = _to_array(actual, label + " is", unit, allow_quantity=expected_is_q)
        if a.shape != e.shape:
            _fail(label + " has " + _shape_text(a.shape) + "; expected " + _shape_text(e.shape),
                  misconception="shape-of-result")
        xa = _xarray(x, a.shape)
        ok, excess = _close(a, e, rtol, atol)
        if _all(ok):
            return a
        i = int(excess.reshape(-1).argmax())
        ai, ei = a.reshape(-1)[i].item(), e.reshape(-1)[i].item()
        where = _at(xa, i, x_name, x_unit, a.shape)
        if ai != ai:
            _fail(label + " is NaN" + where)
        known = _known_factor(a, e, unit)
        if hidden:
            tail = "it should be " + rule if rule else "that is " + _direction(ai, ei)
            _fail(label + " is " + _with_unit(fmt(ai), unit) + where + "; " + tail, misconception=known)
        sa, se = _fmt_pair(ai, ei)
        _fail(label + " is " + _with_unit(sa, unit) + where + "; expected " + _with_unit(se, unit),
              misconception=known)


#: Misconceptions recognised by a constant ratio student/reference (check_values):
#: (ratio, unit or None for any unit, identifier).
_KNOWN_FACTORS = (
    (1e-3, "Hz", "rate-khz"),            # 1/(interval in ms): a rate in kHz
    (1e-3, "pA", "current-na"),          # nS x mV read as nA
    (1e-3, "ms", "time-seconds"),        # pF/nS read as seconds
    (1e-3, None, "unit-factor-1000"),
    (1e3, None, "unit-factor-1000"),
    (-1.0, None, "sign-flipped"),
)


def _known_factor(a, e, unit):
    """The identifier of a known wrong factor if every value is the reference times it, else None."""
    try:
        a, e = np.broadcast_arrays(np.asarray(a, "float64"), np.asarray(e, "float64"))
        use = np.isfinite(a) & np.isfinite(e) & (np.abs(e) > 0)
        if not _any(use):
            return None
        ratio = a[use] / e[use]
        for factor, factor_unit, name in _KNOWN_FACTORS:
            if factor_unit not in (None, unit):
                continue
            if _all(np.abs(ratio - factor) <= 1e-6 * abs(factor)):
                return name
    except Exception:
        return None
    return None


# ---------------------------------------------------------------------------
# Waveforms
# ---------------------------------------------------------------------------
def _time_scale(args):
    taus = []
    for key, value in args.items():
        if isinstance(key, str) and key.startswith("tau"):
            try:
                v = float(value)
            except Exception:
                continue
            if v > 0 and v == v and v != math.inf:
                taus.append(v)
    if not taus:
        return 10.0, 10.0
    return max(taus), min(taus)


def _default_grid(T, tmin):
    dt = min(T / 2000.0, tmin / 50.0)
    n_neg, n_pos = int(round(T / dt)), int(round(10.0 * T / dt))
    if n_neg + n_pos > 400000:  # cap the cost for extreme time-constant ratios
        dt = 11.0 * T / 400000.0
        n_neg, n_pos = int(round(T / dt)), int(round(10.0 * T / dt))
    return np.arange(-n_neg, n_pos + 1).astype("float64") * dt


def _reference(reference, args, what):
    try:
        return _to_array(reference(*args), "the reference for " + what + " returned")
    except GradingError as exc:
        raise CourseError(str(exc)) from None
    except Exception as exc:
        raise CourseError("the reference for " + what + " raised " + type(exc).__name__
                          + ": " + _safe_str(exc)) from exc


def check_waveform(fn, reference, args, t=None, name="g", unit="nS", hidden=True,
                   function=None, rtol=1e-6, atol=None):
    """Check a conductance waveform ``fn(t, *args.values())`` against a reference.

    Checks, in order (first failure wins):

    1. `fn` is callable (any callable: a function or a grader proxy);
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
        The reference function, same
        signature.
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
    """
    with _Quiet():
        function = _function_name(fn, function)
        check_callable(fn, function)
        names, params = tuple(args.keys()), tuple(args.values())
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
        peak_ref = float(np.max(np.abs(ref))) if ref.size else 0.0
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
        t4 = np.array([-T / 2.0, 0.0, T, 3.0 * T], dtype="float64")
        t4_given = t4.copy()
        out = _call_student(fn, (t4_given,) + params, function,
                            "t = [" + ", ".join(_fmt_in(v) for v in t4.tolist()) + "] ms")
        if not _all(t4_given == t4):
            _fail(function + " changed the array t that was passed in; compute on a copy "
                  "(e.g. t = np.array(t, dtype=float)) instead of assigning into t", misconception="modifies-input")
        check_shape(out, t4.shape, function, input_shape=t4.shape)

        # 4. the grid
        grid_given = grid.copy()
        out = _call_student(fn, (grid_given,) + params, function,
                            "t from " + _fmt_in(grid[0].item()) + " to "
                            + _fmt_in(grid[-1].item()) + " ms")
        g = check_shape(out, grid.shape, function, input_shape=grid.shape)
        _require_finite(g, name, grid, "t", "ms", who + ": ")

        before = grid < 0.0
        nonzero = before & (np.abs(g) > atol)
        if _any(nonzero):
            i = _first(nonzero)
            _fail(who + ": " + name + " is non-zero before the spike ("
                  + _with_unit(fmt(g[i].item()), unit) + " at t = " + fmt(grid[i].item()) + " ms)",
                  misconception="nonzero-before-spike")

        if float(np.min(ref)) >= 0.0:
            negative = g < -atol
            if _any(negative):
                i = _first(negative)
                _fail(who + ": " + name + " is negative (" + _with_unit(fmt(g[i].item()), unit)
                      + " at t = " + fmt(grid[i].item()) + " ms); a conductance cannot be negative",
                      misconception="negative-conductance")

        if peak_ref > 0.0:
            _check_peak(g, ref, grid, args, names, who, name, unit, hidden, rtol, atol)

        ok, excess = _close(g, ref, rtol, atol)
        if not _all(ok):
            i = int(excess.argmax())
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
    i_s, i_r = int(g.argmax()), int(ref.argmax())
    gs, gr = g[i_s].item(), ref[i_r].item()
    ts, tr = grid[i_s].item(), grid[i_r].item()
    lo, hi = max(i_r - 1, 0), min(i_r + 1, grid.size - 1)
    step = (grid[hi].item() - grid[lo].item()) / max(hi - lo, 1)
    time_tol = 2.0 * step + 1e-9 * max(-grid[0].item(), grid[-1].item(), 0.0)
    ok_time = (ts - tr if ts > tr else tr - ts) <= time_tol
    # a shifted peak is sampled at a different grid phase: allow for that
    value_rtol = rtol if ok_time else max(rtol, 1e-3)
    ok_value = _all(_close(np.array([gs]), np.array([gr]), value_rtol, atol)[0])
    if ok_value and ok_time:
        return
    head = who + ": "
    # the lecture's alpha function g (t/tau) exp(-t/tau) peaks at g/e, at the right time
    known = "alpha-peak-g-over-e" if ok_time and gr > 0 and abs(gs * math.e / gr - 1.0) <= 1e-3 else None
    if not hidden:
        sa, se = _fmt_pair(gs, gr) if not ok_value else (fmt(gs), fmt(gr))
        ta, te = _fmt_pair(ts, tr) if not ok_time else (fmt(ts), fmt(tr))
        _fail(head + "peak of " + name + " is " + _with_unit(sa, unit) + " at t = " + ta
              + " ms; expected " + _with_unit(se, unit) + " at t = " + te + " ms", misconception=known)
    # Name the rule when the reference peak is an input (g_peak; t = tau): that
    # is derivable from what the student was told. Times are inputs whose name
    # starts with "t"; the sampled peak of a smooth maximum lies within 1e-4
    # (relative) of the true one on the default grid.
    value_rule = None
    for key in names:
        if key.startswith("t"):
            continue
        try:
            v = float(args[key])
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
                v = float(args[key])
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
          + fmt(ts) + " ms; " + tail, misconception=known)


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
    with _Quiet():
        label = (_who(function, inputs) + ": " + what) if function else _who(what, inputs)
        ta = _to_array(t, "the time axis is", t_unit, allow_quantity=True).reshape(-1)
        e = _to_array(expected, "the reference " + what + " is", unit, allow_quantity=True)
        a = _to_array(actual, label + " is", unit, allow_quantity=True)
        if e.shape[-1:] != ta.shape:
            raise CourseError("the reference trace has shape " + repr(e.shape)
                              + " for " + str(ta.size) + " sample times")
        if a.shape != e.shape:
            if a.ndim == e.ndim == 1:
                _fail(label + " has " + str(a.size) + " samples; expected " + str(e.size)
                      + " (same duration and dt)")
            _fail(label + " has " + _shape_text(a.shape) + "; expected " + _shape_text(e.shape))
        times = np.zeros(a.shape, "float64") + ta  # the time of every sample
        where_nan = np.isnan(a)
        if _any(where_nan):
            i = _first(where_nan)
            _fail(label + " becomes NaN at t = " + _with_unit(fmt(times.reshape(-1)[i].item()), t_unit)
                  + _neuron(i, a.shape))
        ok, excess = _close(a, e, rtol, atol)
        if _all(ok):
            return a
        i = int(excess.reshape(-1).argmax())
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
    return " in neuron " + str(i // shape[-1])


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
    of this module and of any reloaded copy of it. The kernel still reports
    the cell as failed (error output, execute reply status "error"). Exception
    classes another tool registered stay registered and keep going to that
    tool's handler. Called on import, on entering ``checking`` and before
    raising (so a notebook that removes the handler gets it back); does
    nothing and returns False outside IPython. IPython is never imported here.
    """
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None) if ipython is not None else None
    if get is None:
        return False
    try:
        shell = get()
        if shell is None or not hasattr(shell, "set_custom_exc"):
            return False
        current = tuple(getattr(shell, "custom_exceptions", ()) or ())
        ours = tuple(c for c in current if c is not GradingError
                     and getattr(c, "_helpers_grading_error", False))
        foreign = tuple(c for c in current if not getattr(c, "_helpers_grading_error", False))
        installed = getattr(shell, "_helpers_grading_custom_tb", None)
        if shell.CustomTB is not installed:  # not our handler: remember it for its classes
            shell._helpers_grading_previous_tb = shell.CustomTB if foreign else None
        shell.set_custom_exc((GradingError,) + ours + foreign, _ipython_handler)
        shell._helpers_grading_custom_tb = shell.CustomTB
    except Exception:
        return False
    return True


install_ipython_handler()


# ---------------------------------------------------------------------------
# Numbers the student computes (notebook 06: rheobase_shift, slope_ratio)
# ---------------------------------------------------------------------------
def _is_bool(obj) -> bool:
    """True for a bool in any form: ``bool``, ``np.bool_``, a bool array (0-d or not), a list of bools."""
    if isinstance(obj, (bool, np.bool_)):
        return True
    if isinstance(obj, np.ndarray):
        return obj.dtype.kind == "b"
    if isinstance(obj, (list, tuple)) and obj:
        try:
            return np.asarray(obj).dtype.kind == "b"
        except (TypeError, ValueError):
            return False
    return False


def check_number(obj, name, unit=""):
    """Fail unless `obj` is one finite real number; return it as a ``float``.

    Accepts ``int``, ``float``, numpy scalars and one-element arrays (what a
    computation with numpy gives); refuses bools in every form (``bool``,
    ``np.bool_``, bool arrays: misconception ``bool-not-number``), strings, Brian2
    quantities, several values and NaN or infinity, each with one sentence
    ("rheobase_shift is a string; give a number in pA").
    """
    where = " in " + unit if unit else ""
    wrong = "not-a-number"  # the identifier of every refusal below but NaN/infinity (coursekit.answers.misconceptions)
    if _is_bool(obj):  # every form: bool, np.bool_, a 0-d or n-d bool array, a list of bools
        flat = np.asarray(obj).reshape(-1)
        what = repr(bool(flat[0])) + " (a bool)" if flat.size == 1 else "an array of bools"
        _fail(name + " is " + what + ", the answer to a yes/no question (np.isclose, ==, <); give a number"
              + where, misconception="bool-not-number")
    if _is_brian(obj):
        _fail(name + " is a Brian2 quantity; give a plain number" + where, misconception=wrong)
    if isinstance(obj, (str, bytes)):
        _fail(name + " is a string; give a number" + where, misconception=wrong)
    try:
        a = np.asarray(obj, dtype=float)
    except (TypeError, ValueError):
        _fail(name + " is " + _article(type(obj).__name__) + "; give a number" + where, misconception=wrong)
    if a.size != 1:
        _fail(name + " has " + _shape_text(a.shape) + "; give one number" + where, misconception=wrong)
    value = float(a.reshape(-1)[0])
    if value != value or value in (float("inf"), float("-inf")):
        _fail(name + " is " + repr(value) + "; give a finite number" + where)
    return value


__all__.append("check_number")
