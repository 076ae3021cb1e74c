"""Notebook 06 e): the Poisson conductance input obeys Campbell's theorem.

For shot noise with total event rate nu, jump w and exponential decay tau,
Campbell's theorem gives <g> = nu w tau and var g = nu w^2 tau / 2. The test runs
the notebook's own ``poisson_population`` (taken from the source notebook's
cell) with many independent inputs and checks the time-and-neuron averages
against these values within their sampling error (four standard errors,
estimated from the spread across independent neurons), at event rates where a
one-spike-per-step source (Brian2's ``PoissonGroup``) would be far off. A
negative control shows that the same check rejects that old input.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "source" / "synapses" / "06_carandini_heeger.ipynb"

pytestmark = [pytest.mark.brian]

b2 = pytest.importorskip("brian2")
from brian2 import Hz, ms, mV, nS, pA, pF, second  # noqa: E402

DT = 0.02 * ms          # discretisation bias of the recorded g: about dt/(2 tau) = 0.5 % (mean), 1 % (variance)
DURATION = 1.0 * second
N = 24                  # independent inputs


def campbell(mean_g, w, tau):
    """(mean, variance) of the conductance (nS, nS^2) for mean_g (nS), jump w (nS), decay tau (ms)."""
    nu = mean_g / (w * tau)            # events per ms
    return nu * w * tau, nu * w ** 2 * tau / 2.0


def agrees(traces, mean_g, w, tau, skip):
    """True if the traces' mean and variance agree with Campbell within 4 standard errors (+1 % bias)."""
    g = np.asarray(traces)[:, skip:]
    want_mean, want_var = campbell(mean_g, w, tau)
    means, variances = g.mean(axis=1), g.var(axis=1)
    se_mean = means.std(ddof=1) / np.sqrt(len(means))
    se_var = variances.std(ddof=1) / np.sqrt(len(variances))
    ok_mean = abs(means.mean() - want_mean) <= 4 * se_mean + 0.01 * want_mean
    ok_var = abs(variances.mean() - want_var) <= 4 * se_var + 0.02 * want_var
    return ok_mean, ok_var, (means.mean(), want_mean, variances.mean(), want_var)


@pytest.fixture(scope="module")
def notebook_code():
    """The notebook's part e) code, run in a namespace with the set-up values and dt_sim."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "def poisson_population" in c.source)
    code = cell.source.split("\n# Campbell's theorem", 1)[0]    # definitions only, not the figure
    b2.prefs.codegen.target = "numpy"
    ns = {"np": np, "b2": b2, "ms": ms, "mV": mV, "nS": nS, "pA": pA, "pF": pF, "Hz": Hz, "second": second,
          "C_m": 200.0, "g_l": 10.0, "u_rest": -65.0, "u_th": -50.0, "u_reset": -65.0, "dt_sim": DT,
          "lif_rate": None}
    exec(compile(code, str(NOTEBOOK) + ":e)", "exec"), ns)
    return ns


@pytest.mark.parametrize("mean_g_e, w_e", [(16.0, 1.0), (16.0, 4.0), (18.0, 0.5)])
def test_conductance_mean_and_variance_follow_campbell(notebook_code, mean_g_e, w_e):
    """Excitation (tau_e = 2 ms) and inhibition (tau_i = 5 ms), up to 18 events per 0.1 ms step."""
    mean_g_i, w_i = 30.0, 2.0
    _, g_e, g_i = notebook_code["poisson_population"](
        np.full(N, mean_g_e) * nS, mean_g_i * nS, w_e=w_e * nS, w_i=w_i * nS, duration=DURATION, dt=DT,
        share_input=False, record_g=True)
    assert g_e.shape[0] == N and g_i.shape[0] == N
    skip = int(round(25.0 / 0.02))     # 25 ms: five tau_i from the start at the mean
    for traces, mean_g, w, tau in ((g_e, mean_g_e, w_e, 2.0), (g_i, mean_g_i, w_i, 5.0)):
        ok_mean, ok_var, numbers = agrees(traces, mean_g, w, tau, skip)
        assert ok_mean and ok_var, (
            "simulated mean %.3f nS (Campbell %.3f), variance %.3f nS^2 (Campbell %.3f)" % numbers)


def test_shared_input_gives_identical_conductances(notebook_code):
    """With share_input, neurons with the same pair of means receive the same input (only I differs)."""
    rates, g_e, _ = notebook_code["poisson_population"](
        np.full(3, 10.0) * nS, 10.0 * nS, I=np.array([0.0, 200.0, 400.0]) * pA, duration=0.1 * second, dt=DT,
        record_g=True)
    assert g_e.shape[0] == 1 and rates.shape == (3,)


def test_check_rejects_one_spike_per_step_sources():
    """Negative control: one PoissonGroup source per input at rate nu fires at most once per step."""
    b2.prefs.codegen.target = "numpy"
    b2.seed(7)
    mean_g, w, tau, dt = 16.0, 1.0, 2.0, 0.1      # nu dt = 0.8 spikes per step
    nu = mean_g / (w * tau) * 1000.0 * Hz
    src = b2.PoissonGroup(N, rates=nu, dt=dt * ms)
    tgt = b2.NeuronGroup(N, "dg/dt = -g/tau_s : siemens", method="exact", namespace={"tau_s": tau * ms}, dt=dt * ms)
    tgt.g = mean_g * nS
    syn = b2.Synapses(src, tgt, on_pre="g_post += w_s", namespace={"w_s": w * nS}, dt=dt * ms)
    syn.connect(j="i")
    mon = b2.StateMonitor(tgt, "g", record=True, dt=dt * ms)
    b2.Network(src, tgt, syn, mon).run(0.5 * second, namespace={})
    ok_mean, ok_var, numbers = agrees(np.asarray(mon.g / nS), mean_g, w, tau, skip=100)
    assert not (ok_mean and ok_var), "the check failed to notice the capped input: %s" % (numbers,)
