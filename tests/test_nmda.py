"""helpers.references.nmda: the Jahr-Stevens magnesium block and the NMDA current."""

import math
import warnings

import numpy as np
import pytest

from helpers.references import nmda

U = np.linspace(-120.0, 60.0, 181)


def block_closed(u, mg):
    return 1.0 / (1.0 + mg / 3.57 * np.exp(-0.062 * u))


def test_constants():
    assert (nmda.MG, nmda.MG_HALF, nmda.MG_SLOPE, nmda.E_NMDA) == (1.2, 3.57, 0.062, 0.0)
    # the lecture's 16.3 mV is a typo for 1/0.062 = 16.13 mV
    assert round(nmda.MG_VOLTAGE_SCALE, 2) == 16.13
    assert abs(nmda.MG_VOLTAGE_SCALE - 16.3) > 0.1


@pytest.mark.parametrize("mg", [0.0, 0.5, 1.2, 2.0, 10.0])
def test_block_matches_closed_form(mg):
    np.testing.assert_allclose(nmda.mg_block(U, mg), block_closed(U, mg), rtol=1e-12, atol=0)


def test_default_mg_is_1_2_mM():
    assert nmda.mg_block(-65.0) == nmda.mg_block(-65.0, 1.2)


def test_value_at_the_jahr_stevens_constants():
    # [Mg] = 3.57 mM at 0 mV: exactly half the channels blocked
    assert nmda.mg_block(0.0, 3.57) == 0.5
    # at rest with 1.2 mM only about 5 % are open
    assert nmda.mg_block(-65.0, 1.2) == 1 / (1 + 1.2 / 3.57 * math.exp(0.062 * 65.0))
    assert round(float(nmda.mg_block(-65.0, 1.2)), 4) == 0.0502


def test_half_activation_voltage():
    # B = 1/2 where mg/3.57 exp(-0.062 u) = 1, i.e. u = ln(mg/3.57)/0.062 (-17.6 mV for 1.2 mM)
    for mg in [0.3, 1.2, 3.0]:
        u_half = math.log(mg / 3.57) / 0.062
        assert math.isclose(nmda.mg_block(u_half, mg), 0.5, rel_tol=1e-12)
    assert round(math.log(1.2 / 3.57) / 0.062, 1) == -17.6


def test_limits():
    np.testing.assert_array_equal(nmda.mg_block(U, 0.0), 1.0)  # no magnesium, no block
    assert 1 - nmda.mg_block(200.0, 1.2) < 2e-6  # large u unblocks
    assert nmda.mg_block(1e4, 1.2) == 1.0
    assert nmda.mg_block(-400.0, 1.2) < 1e-10  # strongly hyperpolarised: fully blocked
    assert nmda.mg_block(-1e6, 1.2) < 1e-300


def test_monotonic_in_u_and_mg():
    assert np.all(np.diff(nmda.mg_block(U, 1.2)) > 0)
    mgs = np.linspace(0, 5, 11)
    assert np.all(np.diff(nmda.mg_block(-40.0, mgs)) < 0)


def test_no_overflow_warning_for_very_negative_u():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = nmda.mg_block(np.array([-1e6, -2e4, -1e300]), 1.2)
    assert np.all((b >= 0) & (b < 1e-300))


def test_negative_mg_rejected():
    with pytest.raises(ValueError, match="mg"):
        nmda.mg_block(-65.0, -1.0)


def test_broadcasting_and_scalars():
    out = nmda.mg_block(-65.0, 1.2)
    assert np.shape(out) == () and isinstance(out, np.floating)
    assert nmda.mg_block(U[:, None], np.array([0.0, 1.2])).shape == (U.size, 2)
    assert nmda.nmda_current(U[:, None], np.array([1.0, 2.0]), 0.0).shape == (U.size, 2)
    assert np.shape(nmda.nmda_current(-65.0, 1.0)) == ()


def test_nmda_current():
    g = 3.0
    expected = g * block_closed(U, 1.2) * (0.0 - U)
    np.testing.assert_allclose(nmda.nmda_current(U, g), expected, rtol=1e-12, atol=1e-300)
    assert nmda.nmda_current(0.0, g) == 0.0  # at the reversal potential
    assert nmda.nmda_current(-65.0, g) > 0  # inward (depolarising) below it
    assert nmda.nmda_current(20.0, g) < 0
    # without magnesium it is the ohmic current
    np.testing.assert_allclose(nmda.nmda_current(U, g, E_nmda=10.0, mg=0.0), g * (10.0 - U), rtol=1e-14)


def test_nmda_iv_curve_has_negative_slope_region():
    # the hallmark of the Mg block: between about -80 and -30 mV inward current grows with depolarisation
    u = np.linspace(-80.0, -30.0, 51)
    current = nmda.nmda_current(u, 1.0)
    assert np.all(np.diff(current) > 0)
    assert np.all(np.diff(nmda.nmda_current(u, 1.0, mg=0.0)) < 0)  # ohmic: the opposite slope
