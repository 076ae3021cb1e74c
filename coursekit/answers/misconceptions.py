"""Misconception identifiers: named by the checks, carried in the autograded notebook, read by the report.

A hidden test that fails raises :class:`helpers.grading.GradingError` with one
sentence for the student. Where the failure is a *known* wrong answer, it has a
stable identifier as well (``alpha-jump-w-not-ew``, ``lecture-peak-time``,
``rate-khz``); a generic mismatch is ``other``. The identifier comes from, in
this order,

1. the check itself: ``GradingError(sentence, misconception="rate-khz")``
   (the check functions of ``helpers.grading`` pass one where they recognise a
   wrong answer: a factor 1000, a flipped sign, g non-zero before the spike,
   the lecture's alpha peaking at g/e, ...);
2. :data:`CATALOGUE`: sentences of the hidden tests in the notebooks that name
   a known wrong answer without an identifier of their own (item and a regular
   expression on the sentence);
3. ``other``.

The channel
-----------
The trusted grader (:mod:`coursekit.grading.grader`) turns the identifier into one
extra output of the failing test cell, before its error::

    {"output_type": "display_data", "metadata": {},
     "data": {"application/vnd.synapses.misconception+json": {"id": "rate-khz", "from": "check"}}}

nbgrader scores a test cell by its error output only, so the marker changes no
grade. It has no displayable MIME type, so the students' feedback HTML
(``nbgrader generate_feedback``) shows nothing of it: they see only
``GradingError: <sentence>``. The autograded notebooks (instructor only) keep
it, and :func:`cell_misconception` reads it back for the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

__all__ = [
    "MIME_TYPE",
    "OTHER",
    "RUNTIME",
    "Misconception",
    "CATALOGUE",
    "TITLES",
    "identify",
    "from_sentence",
    "marker_output",
    "cell_misconception",
    "is_marker",
]

#: MIME type of the marker output (nothing renders it).
MIME_TYPE = "application/vnd.synapses.misconception+json"
#: Identifier of a failure that names no known misconception.
OTHER = "other"
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Misconception:
    """One catalogue entry: a sentence of a hidden test that names a known wrong answer.

    Attributes
    ----------
    id : str
        Stable identifier (lower case, words joined by ``-``).
    title : str
        What the students believe, for the instructor's report.
    pattern : str
        Regular expression searched in the sentence (case-sensitive).
    items : tuple of str
        Items (the sentence's leading function or answer name) it applies to;
        empty for any item.
    kind : str
        ``"physics"`` (a misconception) or ``"code"`` (a programming slip:
        shapes, overflow, a hard-coded value).
    """

    id: str
    title: str
    pattern: str
    items: tuple[str, ...] = ()
    kind: str = "physics"

    def matches(self, sentence: str) -> bool:
        if self.items and not any(sentence.startswith(item) for item in self.items):
            return False
        return re.search(self.pattern, sentence) is not None


def _m(id_: str, title: str, pattern: str, *items: str, kind: str = "physics") -> Misconception:
    return Misconception(id_, title, pattern, tuple(items), kind)


#: Sentences of the notebooks' tests that name a known wrong answer (first match wins). Quick
#: (visible) checks fail first, so both their sentences and the hidden tests' are here.
CATALOGUE: tuple[Misconception, ...] = (
    # -- the student's code ran out of time or killed the kernel (the grader's proxies say so) ---------
    _m("student-code-timeout", "the student's function did not return in time (an endless loop?)",
       r"did not return within", kind="code"),
    _m("kernel-died", "the student's kernel died or was restarted during a call",
       r"the kernel died during this call|the grader restarted the kernel|not run: the kernel failed too often|"
       r"could not be asked for", kind="code"),
    # -- code slips (before the physics: their sentences may quote formulas) -------------------------
    _m("exp-overflow", "an exponential overflows far from the spike: 0 x inf or inf/inf gives NaN",
       r"0 x inf is NaN|overflows to inf", kind="code"),
    _m("shape-of-result", "returns the wrong shape for a scalar or an array input",
       r"returned (shape \(|a scalar for)|has shape \([^)]*\); expected shape", kind="code"),
    _m("brian-units-missing", "a plain number where a Brian2 quantity is needed",
       r"is a plain number; expected a Brian2 quantity", kind="code"),
    _m("units-inconsistent", "the equation's units do not match (C_m missing?)", r"has inconsistent units", kind="code"),
    _m("missing-clock-driven", "differential equation of a synapse without (clock-driven)", r"\(clock-driven\)",
       kind="code"),
    _m("missing-summed", "synaptic variable without (summed): it never reaches the neuron", r"\(summed\) flag",
       kind="code"),
    _m("brian-reserved-name", "a name Brian2 reserves (N, t, dt, i, ...) used as a variable",
       r"has a special meaning", kind="code"),
    _m("k-hard-coded", "the factor k written in as a number for 8 ms and 60 ms, not computed from the time constants",
       r"compute k from tau_rise and tau_decay", "synapse_model", kind="code"),
    _m("shared-input", "one input current for all neurons: I must be per neuron", r"must declare I per neuron",
       kind="code"),
    _m("not-a-choice", "not one of the offered answers", r"; choose one of", kind="code"),
    # -- 01 the synapse zoo ---------------------------------------------------------------------------
    _m("exp-decay-exponent", "the exponent is not -t/tau (the lecture's exp(+t/tau), or t*tau)",
       r"is the exponent -t/tau\?|peak of g is .*; it should equal g_peak and be at the spike", "exp_conductance"),
    _m("zero-at-spike", "g is 0 at the spike itself (t > 0 instead of t >= 0)",
       r"at the spike \(t = 0\) g should be g_peak|at the spike \(t = 0\) is 0"),
    _m("nonzero-before-spike", "conductance non-zero before the spike",
       r"before the spike \(t < 0\) the conductance must be 0|non-zero before the spike"),
    _m("alpha-peak-g-over-e", "the alpha function does not peak at g_peak (the lecture's g (t/tau) exp(-t/tau) "
       "peaks at g/e)", r"without the factor e it peaks at g_peak/e|^alpha_conductance .*it should equal g_peak"),
    _m("dual-exp-normalisation", "the dual exponential does not peak at g_peak (the lecture's prefactor or "
       "peak time, or no normalisation)", r"should peak at g_peak = .* at t\* =|^dual_exp_conductance .*"
       r"it should equal g_peak"),
    _m("mg-ignored", "[Mg] ignored or hard-coded: the block does not follow the concentration",
       r"half of the channels are blocked|Mg = 0 mM is (?!1\.00?\b)"),
    _m("mg-block-formula", "Mg block not 1/(1 + [Mg]/3.57 mM exp(-0.062 u/mV)) (the lecture's 16.3 mV, the "
       "sign, 3.57/[Mg], no block)", r"channels conduct: B =|\(Jahr and Stevens\)|B must grow with u|^G_mg at u|"
       r"G_mg at u = u_rest is .*it should be 1/\(1 \+ Mg"),
    _m("current-at-rest", "current evaluated at u_rest, not at u (the lecture's exercise 1)",
       r"at the reversal potential the current is 0"),
    _m("current-sign", "current with the wrong sign: g (E_syn - u) is positive (inward) below E_syn",
       r"positive because it flows inward|positive \(inward\) where u < E_syn", "synaptic_current"),
    # -- 02 and 03: ODE synapses, NMDA ----------------------------------------------------------------
    _m("mg-block-twice", "the Mg block applied in the synapse as well as in the neuron (g_syn_post = g G_mg_post)",
       r"the synapse applies the block as well", "synapse_model"),
    _m("mg-block-at-rest", "the Mg block evaluated at u_rest (as the lecture's plot), not at the simulated u",
       r"not at u_rest", "neuron_eqs"),
    _m("alpha-jump-w-not-ew", "alpha ODE with x += w: g peaks at w/e, the jump must be e*w", r"= w/e"),
    _m("dual-exp-missing-k", "dual-exponential ODE pair without the factor k: it peaks at w/k (g_max/k)",
       r"= w/k|= g_max/k"),
    _m("lecture-peak-time", "the lecture's peak time tau_rise ln(tau_decay/tau_rise), missing the factor "
       "tau_decay/(tau_decay - tau_rise)", r"misses the factor tau_decay/\(tau_decay - tau_rise\)"),
    _m("peak-time-formula", "peak time not tau_r tau_d/(tau_d - tau_r) ln(tau_d/tau_r)",
       r"^dual_exp_peak_time .*(it should be tau_rise tau_decay|expected [-\d.]+ ms$)"),
    _m("alpha-ode", "alpha ODE pair not dg/dt = (x - g)/tau, dx/dt = -x/tau", r"^alpha_model with [^:]*: g is .*expected"),
    _m("alpha-peak-time", "alpha synapse not peaking at t_s + tau (tau hard-coded?)", r"it should be t_s \+ tau$"),
    _m("spike-jumps-g", "the spike jumps g instead of x (no rise), or the time constants are mixed up",
       r"time of the peak of g_syn is"),
    _m("peak-not-w", "the synapse's peak is not w (g_max): normalisation wrong or a value hard-coded",
       r"peak of g(_syn)? is [^;]*; it should be (w|g_max)\b|^(dual_exp_model|synapse_model) with [^:]*: g(_syn)? is "
       r".*expected"),
    _m("nmda-membrane-equation", "NMDA membrane equation not C_m du/dt = g_l (u_rest - u) + g_syn B(u) (E_nmda - u) "
       "(values hard-coded, B at rest or on the leak, driving force sign)", r"peak EPSP u - u_rest is|"
       r"^neuron_eqs with .*: u departs from the correct trace"),
    # -- 04 saturation, 05 shunting -------------------------------------------------------------------
    _m("current-not-conductance", "synapse treated as a current, not a conductance: u does not saturate at E_syn",
       r"cannot push u past its reversal potential|never past it, so u_inf must saturate|half way from u_rest to E_e"),
    _m("conductances-not-parallel", "input conductance not g_syn + g_m (leak forgotten, in series, a resistance)",
       r"the input conductance is the leak g_m|it should be g_syn \+ g_m"),
    _m("tau-ignores-synapse", "the open synapse does not shorten tau' = C_m/(total conductance)",
       r"the open synapse halves the time constant|should halve tau'"),
    _m("inhibition-not-conductance", "inhibition left out of tau' or subtracted: every open conductance shortens it",
       r"adds to the total conductance just like g_e"
       r"|^membrane_time_constant failed a check: with an inhibitory conductance g_i"),
    _m("tau-formula", "tau' not C_m over the total conductance (C_m hard-coded?)",
       r"tau' is proportional to C_m|it should be C_m / \(g_m"),
    _m("rest-taken-as-zero", "u_rest ignored: the lecture's rest = 0", r"the membrane stays at u_rest"),
    _m("current-injection", "I_e forgotten or not divided by the input conductance", r"a current I_e = .* should raise"),
    _m("shunt-sign", "the lecture's missing minus sign: the shunt term is -g_i (u - E_i)",
       r"check the sign of the term -g_i \(u - E_i\)|the shunt term is -g_i \(u - E_i\), with a minus sign"),
    _m("shunt-moves-rest", "shunting inhibition alone moves u away from rest (g_i not in the denominator, or rest 0)",
       r"should leave u_inf at rest"),
    _m("ei-taken-as-rest", "E_i taken to be u_rest: hyperpolarising inhibition has no effect",
       r"hyperpolarising inhibition alone"),
    _m("steady-state-weighting", "u_inf not the conductance-weighted mean of the reversal potentials",
       r"it should be \(g_m u_rest \+ g_(syn|e) E_(syn|e)|half way from rest to E_syn"),
    # -- 06 Carandini-Heeger --------------------------------------------------------------------------
    _m("rate-khz", "rate in kHz (1/ms) instead of Hz", r"the rate in kHz"),
    _m("refractory-ignored", "refractory period left out of the interval", r"with t_ref = [\d.]+ ms the interval is"),
    _m("fires-below-rheobase", "rate not 0 below the rheobase (NaN, or the formula kept)",
       r"below the rheobase .*the rate must be 0|the rate must be exactly 0 there|^lif_rate with .*: the rate is NaN"),
    _m("lif-rate-formula", "LIF rate not 1/(t_ref + tau_m ln((u_inf - u_reset)/(u_inf - u_th))) (log upside down, "
       "tau_m = g_l/C_m, u_rest for u_reset)", r"^lif_rate .*(expected 72\.13 Hz|it should be 1000 / \(t_ref)"),
    _m("not-rectified", "a negative rate: not rectified", r"must return 0 there|rectify before squaring|"
       r"^lif_rate_linear with .*: the large-current line is -"),
    _m("lif-asymptote", "large-input line not (u_inf - u_th)/(tau_m (u_th - u_reset))",
       r"^lif_rate_linear .*(expected 50 Hz|it should be 1000 \(u_inf - u_th\))"),
    _m("shunting-divisive", "shunting called divisive for the LIF f-I curve: it is subtractive (shifts it)",
       r"^shunting_effect is 'divisive'"),
    _m("simulation-diverges", "the simulation diverges (a conductance term with the wrong sign?)",
       r"gives NaN values of u"),
    _m("lif-model-equation", "LIF equation not C_m du/dt = g_l (u_rest - u) + g_i (E_i - u) + I (E_i hard-coded, "
       "the shunt as a current)", r"^lif_model with .*the simulated rate is"),
    _m("shunt-subtracted", "shunting inhibition subtracted: g_i belongs in the denominator",
       r"the shunt sits in the denominator"),
    _m("ch-rate-formula", "Carandini-Heeger rate not m [g_e E_e/(g_e + g_i + g_m)]_+^2",
       r"^ch_rate .*(expected \(650/20\)\^2|it should be m \[g_e E_e)"),
    # -- 06 c): the numbers behind the verdict on shunting ---------------------------------------------
    _m("rheobase-not-shift", "gave the rheobase with the shunt, not how far the shunt moves it",
       r"^rheobase_shift is .*the whole rheobase with the shunt"),
    _m("shunt-injects-no-current", "a shunt (E_i = u_rest) moves nothing because it injects no current at rest",
       r"^rheobase_shift is 0 pA, but the shunt adds g_i to the leak"),
    _m("current-na", "current in nA: nS x mV is pA", r"^rheobase_shift is .*that is the shift in nA"),
    _m("driving-force-from-zero", "driving force measured from 0 mV instead of from rest",
       r"^rheobase_shift is .*the rheobase is the current at which u_inf reaches u_th"),
    _m("shunt-divides-slope", "the shunt divides the large-input slope of the LIF f-I curve (it leaves it unchanged)",
       r"^slope_ratio is .*, a smaller slope with the shunt"),
    _m("slope-changed-by-shunt", "the shunt steepens the large-input slope of the LIF f-I curve (it leaves it unchanged)",
       r"^slope_ratio is .*, a larger slope with the shunt"),
)

#: Titles of the identifiers the checks of helpers.grading pass themselves.
_CHECK_TITLES = {
    "shape-of-result": ("returns the wrong shape for a scalar or an array input", "code"),
    "modifies-input": ("changes the array passed in", "code"),
    "bool-not-number": ("a bool (True/False, e.g. np.isclose) where a number was asked for", "code"),
    "not-a-number": ("a string, a Brian2 quantity or several values where one number was asked for", "code"),
    "nonzero-before-spike": ("conductance non-zero before the spike", "physics"),
    "negative-conductance": ("negative conductance", "physics"),
    "rate-khz": ("rate in kHz (1/ms) instead of Hz", "physics"),
    "current-na": ("current in nA: nS x mV is pA", "physics"),
    "time-seconds": ("time in s instead of ms (pF/nS is ms)", "physics"),
    "unit-factor-1000": ("off by a factor 1000 (units)", "physics"),
    "sign-flipped": ("sign flipped", "physics"),
    "alpha-peak-g-over-e": ("the lecture's alpha g (t/tau) exp(-t/tau) peaks at g/e, not g", "physics"),
}
#: Failures that are not about the physics (not answered, an exception).
_GENERIC = {
    "not-answered": ("not answered (the stub's NotImplementedError)", "code"),
    "not-defined": ("answer not defined (cell not run or deleted)", "code"),
    "raised-exception": ("the student's code raised an exception", "code"),
    OTHER: ("a wrong value with no named misconception", "other"),
}


def _titles() -> dict[str, tuple[str, str]]:
    out = dict(_CHECK_TITLES)
    for m in CATALOGUE:
        out.setdefault(m.id, (m.title, m.kind))
    out.update({k: v for k, v in _GENERIC.items() if k not in out})
    return out


TITLES: dict[str, tuple[str, str]] = {}
#: Identifiers of failures where the student's code ran out of time or killed the kernel.
RUNTIME = frozenset({"student-code-timeout", "kernel-died"})


def title(identifier: str) -> str:
    """What the identifier means ("" if unknown)."""
    return TITLES.get(identifier, ("", ""))[0]


def kind(identifier: str) -> str:
    """``physics``, ``code`` or ``other``."""
    return TITLES.get(identifier, ("", "physics"))[1]


# ------------------------------------------------------------------------------ naming a failure
def from_sentence(sentence: str) -> str:
    """The identifier that :data:`CATALOGUE` (or the generic rules) give a sentence; ``other`` if none."""
    sentence = " ".join(str(sentence).split())
    for m in CATALOGUE:
        if m.matches(sentence):
            return m.id
    if re.search(r"raised NotImplementedError", sentence):
        return "not-answered"
    if re.search(r"\bis not defined; run the cell", sentence):
        return "not-defined"
    if re.search(r"^\w+ raised \w+", sentence):
        return "raised-exception"
    return OTHER


def identify(exc: BaseException) -> tuple[str, str]:
    """(identifier, where it came from: ``check``, ``catalogue`` or ``none``) of a failed test's exception."""
    named = getattr(exc, "misconception", None)
    if isinstance(named, str) and _ID.match(named):
        return named, "check"
    sentence = " ".join(str(exc).split())
    if type(exc).__name__ == "NameError":
        return "not-defined", "catalogue"
    found = from_sentence(sentence)
    return found, ("catalogue" if found != OTHER else "none")


def marker_output(identifier: str, origin: str = "check") -> dict:
    """The display_data output that carries ``identifier`` (see the module docstring)."""
    identifier = identifier if isinstance(identifier, str) and _ID.match(identifier) else OTHER
    return {"output_type": "display_data", "metadata": {},
            "data": {MIME_TYPE: {"id": identifier, "from": str(origin)}}}


def is_marker(output: Mapping) -> bool:
    """True for a marker output."""
    return output.get("output_type") == "display_data" and MIME_TYPE in (output.get("data") or {})


def cell_misconception(cell: Mapping) -> str | None:
    """The identifier of a failed autograded test cell.

    The grader's marker if there is one; else (a notebook graded before the
    markers existed) the sentence of its last ``GradingError`` named by
    :func:`from_sentence`; None if the cell has no error.
    """
    outputs = list(cell.get("outputs") or [])
    for out in outputs:
        if is_marker(out):
            value = out["data"][MIME_TYPE]
            ident = value.get("id") if isinstance(value, Mapping) else None
            if isinstance(ident, str) and _ID.match(ident):
                return ident
    errors = [o for o in outputs if o.get("output_type") == "error"]
    if not errors:
        return None
    err = errors[-1]
    if str(err.get("ename", "")).endswith("GradingError"):
        return from_sentence(str(err.get("evalue", "")))
    return None


def strip_markers(outputs: Iterable[Any]) -> list:
    """``outputs`` without marker outputs."""
    return [o for o in outputs if not is_marker(o)]


TITLES.update(_titles())
