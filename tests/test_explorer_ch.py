"""The Carandini-Heeger explorer (helpers/explorers/carandini_heeger.py), built headlessly.

The explorer draws the functions it is given (the student's in notebook 06);
given the references of helpers.references.lif_rate, slider changes must update
the existing artists with the reference rates, and the readout must state the
same CH and LIF rates.
"""

import re

import numpy as np
import pytest

pytest.importorskip("ipympl")
pytest.importorskip("ipywidgets")

import matplotlib.pyplot as plt  # noqa: E402

from helpers.constants import C_M, G_L, U_REST, U_RESET, U_TH  # noqa: E402
from helpers.explorers.carandini_heeger import (  # noqa: E402
    E_E,
    M_CH,
    ch_explorer,
    lif_conductance_rate,
    threshold_g_e,
)
from helpers.references import lif_rate as ref  # noqa: E402

DRIVE = E_E - U_REST  # 65 mV: E_e relative to rest, the CH convention


def _readout_rate(text, key):
    """The number in '<key> = <number> Hz' of the readout (HTML tags ignored)."""
    plain = re.sub(r"<[^>]+>", "", text)
    match = re.search(re.escape(key) + r" = (-?[0-9.]+) Hz", plain)
    assert match, f"readout has no '{key} = ... Hz': {plain!r}"
    return float(match.group(1))


def _lines(ex):
    return [line for ax in ex.fig.axes for line in ax.get_lines()]


@pytest.fixture(scope="module")
def explorer():
    figures_before = plt.get_fignums()
    ex = ch_explorer(ref.ch_rate, ref.lif_rate)
    # The live figure is not a pyplot figure: no stray inline copy.
    assert plt.get_fignums() == figures_before
    yield ex
    plt.close(ex.fig)


def test_conductance_input_rate_is_the_closed_form():
    # Independent closed form: u_inf and tau of a membrane with g_l, g_e (E_e) and g_i (u_rest).
    g_e = np.array([0.0, 2.0, 3.0, 3.5, 8.0, 20.0])
    g_i = 10.0
    g_tot = G_L + g_e + g_i
    u_inf = (G_L * U_REST + g_e * E_E + g_i * U_REST) / g_tot
    tau = C_M / g_tot
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(u_inf > U_TH,
                            1000.0 / (tau * np.log((u_inf - U_RESET) / (u_inf - U_TH))), 0.0)
    got = lif_conductance_rate(g_e, g_i, lif_rate_fn=ref.lif_rate)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert got[0] == got[1] == 0.0 and got[-1] > 100.0
    # Threshold conductance: (g_l + g_i)(u_th - u_rest)/(E_e - u_th) = 20 * 15 / 50 = 6 nS.
    assert threshold_g_e(g_i) == pytest.approx(6.0)
    assert (lif_conductance_rate(6.0 - 1e-9, g_i, lif_rate_fn=ref.lif_rate) == 0.0
            < lif_conductance_rate(6.0 + 1e-6, g_i, lif_rate_fn=ref.lif_rate))


@pytest.mark.parametrize("g_e, g_i", [(8.0, 10.0), (15.0, 30.0), (2.0, 0.0), (0.0, 12.0), (20.0, 5.0)])
def test_sliders_update_the_curves_markers_and_readout(explorer, g_e, g_i):
    lines_before = _lines(explorer)
    explorer.controls["g_e"].value = g_e
    explorer.controls["g_i"].value = g_i
    axis = explorer.g_e_axis
    art = explorer.artists
    ch_expected = ref.ch_rate(axis, g_i, DRIVE, G_L, M_CH)
    lif_expected = ref.lif_rate(axis * DRIVE, C_M, G_L + axis, U_REST, U_TH, U_RESET, 0.0, g_i=g_i)
    np.testing.assert_allclose(art["ch_line"].get_ydata(), ch_expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(art["lif_line"].get_ydata(), lif_expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(art["ch_line"].get_xdata(), axis)

    r_ch = float(ref.ch_rate(g_e, g_i, DRIVE, G_L, M_CH))
    r_lif = float(ref.lif_rate(g_e * DRIVE, C_M, G_L + g_e, U_REST, U_TH, U_RESET, 0.0, g_i=g_i))
    assert art["ch_dot"].get_xdata()[0] == g_e and art["lif_dot"].get_xdata()[0] == g_e
    assert art["ch_dot"].get_ydata()[0] == pytest.approx(r_ch, rel=1e-12, abs=1e-12)
    assert art["lif_dot"].get_ydata()[0] == pytest.approx(r_lif, rel=1e-12, abs=1e-12)

    text = explorer.readout.value
    assert _readout_rate(text, "CH rate") == pytest.approx(r_ch, abs=0.051)
    assert _readout_rate(text, "LIF rate") == pytest.approx(r_lif, abs=0.051)
    assert f"g_e = {g_e:.1f} nS, g_i = {g_i:.1f} nS" in text
    assert explorer.rates() == pytest.approx({"ch": r_ch, "lif": r_lif})
    # In place: the same Line2D objects, nothing added.
    assert _lines(explorer) == lines_before


def test_readout_contrasts_division_with_a_threshold_shift(explorer):
    explorer.controls["g_e"].value = 1.0
    explorer.controls["g_i"].value = 30.0
    plain = re.sub(r"<[^>]+>", "", explorer.readout.value)
    # For g_e << g_m + g_i the CH rate is divided by ((g_m + g_i)/(g_m + g_e))^2 ~ (41/11)^2.
    factor = float(re.search(r"x ([0-9.]+) of the unshunted rate", plain).group(1))
    assert factor == pytest.approx(((G_L + 1.0) / (G_L + 1.0 + 30.0)) ** 2, abs=0.005)
    # The LIF threshold moves from 3 nS to (10 + 30) * 15 / 50 = 12 nS.
    assert "threshold g_e moves from 3.0 to 12.0 nS" in plain
    assert _readout_rate(plain, "LIF rate") == 0.0 < _readout_rate(plain, "CH rate")


def test_shunt_divides_the_ch_curve_and_shifts_the_lif_curve(explorer):
    axis = explorer.g_e_axis
    explorer.controls["g_i"].value = 0.0
    ch0 = explorer.artists["ch_line"].get_ydata().copy()
    lif0 = explorer.artists["lif_line"].get_ydata().copy()
    explorer.controls["g_i"].value = 20.0
    ch20 = explorer.artists["ch_line"].get_ydata()
    lif20 = explorer.artists["lif_line"].get_ydata()
    small = (axis > 0) & (axis <= 0.5)
    # Division: at small g_e the ratio is (g_m / (g_m + g_i))^2 = 1/9, whatever g_e.
    np.testing.assert_allclose(ch20[small] / ch0[small], 1.0 / 9.0, rtol=0.1)
    # Subtraction: same slope far above threshold, curve moved to larger g_e.
    far = axis >= 16.0
    slope0 = np.polyfit(axis[far], lif0[far], 1)[0]
    slope20 = np.polyfit(axis[far], lif20[far], 1)[0]
    assert slope20 == pytest.approx(slope0, rel=0.15)
    assert np.all(lif20 <= lif0) and lif20[axis < threshold_g_e(20.0)].max() == 0.0


def test_students_functions_are_used_and_stubs_fail_loudly():
    def no_square(g_e, g_i, E_e, g_m, m=1.0):
        return m * np.maximum(np.asarray(g_e) * E_e / (np.asarray(g_e) + g_i + g_m), 0.0)

    ex = ch_explorer(ch_rate_fn=no_square, lif_rate_fn=ref.lif_rate, g_e=10.0, g_i=0.0)
    try:
        assert _readout_rate(ex.readout.value, "CH rate") == pytest.approx(0.1 * 32.5, abs=0.05)
    finally:
        plt.close(ex.fig)

    def stub(*args, **kwargs):
        raise NotImplementedError("implement lif_rate first")

    with pytest.raises(NotImplementedError, match="lif_rate"):
        ch_explorer(ref.ch_rate, lif_rate_fn=stub)


def test_building_the_explorer_keeps_pyplots_backend():
    # ipympl's first import switches pyplot to its widget backend; live_figure restores it
    # (tests/test_widgets.py checks that in a fresh interpreter).
    import matplotlib

    before = matplotlib.get_backend()
    ex = ch_explorer(ref.ch_rate, ref.lif_rate)
    try:
        assert matplotlib.get_backend() == before
    finally:
        plt.close(ex.fig)
