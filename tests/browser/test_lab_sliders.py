"""The g_e and g_i sliders of notebooks 05 and 06 (and the g_e slider of 04) in JupyterLab (issue 6, items 3 and 5).

The executed source notebooks (the student's view once the answers are in)
are driven with the keyboard (arrow keys on the focused slider handle) and
with the mouse (drag and release). After each move the test waits until the
figure is at rest and checks that

* the readout (the ``course-readout`` widget) states the slider values and the
  numbers the references predict for them: notebook 04 against
  :func:`helpers.explorers.saturation.saturation_numbers` and
  :mod:`helpers.references.membrane`; notebook 05 against
  :func:`helpers.explorers.shunting.shunting_numbers` and
  :mod:`helpers.references.membrane`; notebook 06 against :mod:`helpers.references.lif_rate`
  (Carandini-Heeger rate, LIF rate of conductance input, threshold shift);
* the live canvas shows, pixel for pixel, the explorer's figure for the new
  slider values (rendered here with Agg from the same explorer code) and no
  longer the figure for the old ones.

The time from the key press or mouse release to the last redraw is recorded
(printed at the end of the run and saved in ``artifacts/browser/latency.json``);
screenshots of the slider states go to ``artifacts/browser/``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import labdriver as ld
from helpers.references import lif_rate as rates
from helpers.references import membrane
from helpers.explorers import carandini_heeger as ch
from helpers.explorers import saturation, shunting

pytestmark = [
    pytest.mark.browser,
    # ipympl 0.10's toolbar, built when the reference figures are drawn here
    pytest.mark.filterwarnings("ignore:Passing unrecognized arguments to super:DeprecationWarning"),
]

NOTEBOOKS = {"04": "source/synapses/04_saturation.ipynb", "05": "source/synapses/05_shunting.ipynb",
             "06": "source/synapses/06_carandini_heeger.ipynb"}
#: The conductance sliders of each explorer (labelled "<name> (nS)").
SLIDERS = {"04": ("g_e",), "05": ("g_e", "g_i"), "06": ("g_e", "g_i")}
#: Largest tolerated median latency in this test (ms): a hung or rebuilt figure, not the 250 ms goal
#: (that is benchmarks/bench_sliders.py's job, on a quiet machine).
LATENCY_CEILING_MS = 2000.0
#: Pixels that may differ (by more than 8 of 255 levels) between two images that show the
#: same figure; the canvas and the reference render have been identical, and moving a marker
#: alone changes several hundred pixels.
SAME_IMAGE = 20
# 04 calls its synaptic conductance g_syn (the explorer's control key stays g_e)
SLIDER_LABELS = {("04", "g_e"): "g_syn"}


# ---------------------------------------------------------------------------
# Readouts and references
# ---------------------------------------------------------------------------
_CH_READOUT = re.compile(
    r"g_e = (?P<g_e>-?[\d.]+) nS, g_i = (?P<g_i>-?[\d.]+) nS: CH rate = (?P<ch>-?[\d.]+) Hz "
    r"\(x (?P<factor>-?[\d.]+|-) of the unshunted rate\), LIF rate = (?P<lif>-?[\d.]+) Hz "
    r"\(its threshold g_e moves from (?P<th0>-?[\d.]+) to (?P<th>-?[\d.]+) nS\)")


def read_ch_readout(text: str) -> dict:
    """Numbers of the notebook 06 readout (the module's parser if it has one)."""
    parser = getattr(ch, "read_readout", None)
    if parser is not None:
        return parser(text)
    plain = " ".join(re.sub(r"<[^>]+>", "", text).split())
    match = _CH_READOUT.search(plain)
    if match is None:
        raise AssertionError(f"the 06 readout does not have the documented format: {plain!r}")
    return {k: (float("nan") if v == "-" else float(v)) for k, v in match.groupdict().items()}


#: The reference functions, passed to the explorers as the notebooks pass the student's.
SAT_FNS = {"input_conductance_fn": membrane.input_conductance,
           "effective_time_constant_fn": membrane.effective_time_constant,
           "steady_state_potential_fn": membrane.steady_state_potential}
SHUNT_FNS = {"membrane_steady_state_fn": membrane.membrane_steady_state,
             "membrane_time_constant_fn": membrane.membrane_time_constant}


def check_04(text: str, g_e: float) -> list[str]:
    """Problems of a notebook 04 readout for the slider value g_e (nS)."""
    got = saturation.read_readout(text)
    want = saturation.saturation_numbers(g_e, E_syn=saturation.E_SYN, g_m=membrane.G_L, C_m=membrane.C_M,
                                         u_rest=membrane.U_REST, **SAT_FNS)
    # The same numbers straight from helpers.references.membrane.
    u_inf = float(membrane.steady_state_potential(g_e, saturation.E_SYN, membrane.G_L, membrane.U_REST))
    assert abs(want["u_inf"] - u_inf) < 1e-9
    return [f"readout {key} = {got[key]:.2f}; the reference gives {value:.4f} for g_e = {g_e} nS"
            for key, value in want.items() if abs(got[key] - value) > 0.0051]


def check_05(text: str, g_e: float, g_i: float, E_i: float) -> list[str]:
    """Problems of a notebook 05 readout for slider values g_e, g_i (nS) and E_i (mV)."""
    got = shunting.read_readout(text)
    want = shunting.shunting_numbers(g_e, g_i, E_i, E_e=shunting.E_E, g_m=membrane.G_L,
                                     C_m=membrane.C_M, u_rest=membrane.U_REST, **SHUNT_FNS)
    # The same numbers straight from helpers.references.membrane.
    u_inf = float(membrane.membrane_steady_state(g_e, g_i, shunting.E_E, E_i, membrane.G_L, membrane.U_REST))
    tau = float(membrane.membrane_time_constant(membrane.C_M, g_e, g_i, membrane.G_L))
    assert abs(want["u_inf"] - u_inf) < 1e-9 and abs(want["tau_eff"] - tau) < 1e-9
    problems = []
    for key, value in want.items():
        if abs(got[key] - value) > 0.0051:
            problems.append(f"readout {key} = {got[key]:.2f}; the reference gives {value:.4f} "
                            f"for g_e = {g_e} nS, g_i = {g_i} nS, E_i = {E_i} mV")
    return problems


def expected_06(g_e: float, g_i: float) -> dict:
    """Carandini-Heeger and LIF rates (Hz) and threshold conductances (nS) from helpers.references.lif_rate."""
    drive = ch.E_E - membrane.U_REST  # mV above rest
    r_ch = float(rates.ch_rate(g_e, g_i, drive, membrane.G_L, ch.M_CH))
    r_ch0 = float(rates.ch_rate(g_e, 0.0, drive, membrane.G_L, ch.M_CH))
    r_lif = float(rates.lif_rate(g_e * drive, membrane.C_M, membrane.G_L + g_e + g_i,
                                 membrane.U_REST, membrane.U_TH, membrane.U_RESET))
    per_nS = (membrane.U_TH - membrane.U_REST) / (ch.E_E - membrane.U_TH)
    return {"g_e": g_e, "g_i": g_i, "ch": r_ch, "lif": r_lif,
            "factor": r_ch / r_ch0 if r_ch0 > 0 else float("nan"),
            "th0": membrane.G_L * per_nS, "th": (membrane.G_L + g_i) * per_nS}


def check_06(text: str, g_e: float, g_i: float) -> list[str]:
    got = read_ch_readout(text)
    want = expected_06(g_e, g_i)
    problems = []
    for key, value in want.items():
        tol = 0.0051 if key == "factor" else 0.051
        if np.isnan(value) and np.isnan(got[key]):
            continue
        if not abs(got[key] - value) <= tol:
            problems.append(f"readout {key} = {got[key]}; helpers.references.lif_rate gives {value:.4f} "
                            f"for g_e = {g_e} nS, g_i = {g_i} nS")
    return problems


_REFERENCE_EXPLORERS: dict = {}


def reference_image(nb: str, values: dict):
    """The explorer's figure for slider ``values``, drawn by Agg here as the kernel draws it.

    One explorer per notebook is built with the notebook's parameters and its
    controls are set to ``values`` (the explorer's own update code runs).
    """
    ex = _REFERENCE_EXPLORERS.get(nb)
    if ex is None:
        if nb == "04":
            ex = saturation.saturation_explorer(*SAT_FNS.values(), g_e=5.0, E_syn=saturation.E_SYN,
                                                g_m=membrane.G_L, C_m=membrane.C_M, u_rest=membrane.U_REST)
        elif nb == "05":
            ex = shunting.shunting_explorer(*SHUNT_FNS.values(), E_e=shunting.E_E, g_m=membrane.G_L,
                                            C_m=membrane.C_M,
                                            u_rest=membrane.U_REST,
                                            E_i_hyperpolarising=shunting.E_I_HYPERPOLARISING)
        else:
            ex = ch.ch_explorer(rates.ch_rate, rates.lif_rate)
        _REFERENCE_EXPLORERS[nb] = ex
    for name, value in values.items():
        ex.controls[name].value = value
    return ld.render_rgba(ex.fig)


# ---------------------------------------------------------------------------
# Driving one explorer
# ---------------------------------------------------------------------------
class Drive:
    """One explorer of an executed notebook, with its checks."""

    def __init__(self, lab, nb: str):
        self.nb = nb
        self.run = lab.run(NOTEBOOKS[nb])
        page = self.run.notebook.page
        readouts = page.locator(".course-readout")
        assert readouts.count() == 1, f"{nb}: expected one explorer readout, found {readouts.count()}"
        self.explorer = ld.LiveExplorer(readouts.first.locator("xpath=.."))
        self.explorer.root.scroll_into_view_if_needed()
        self.explorer.wait_drawn()
        self.sliders = {name: self.explorer.slider(f"{SLIDER_LABELS.get((nb, name), name)} (nS)")
                        for name in SLIDERS[nb]}
        self.g_e = self.sliders["g_e"]
        self.latencies: list[float] = []
        self.artifacts = lab.artifacts

    def e_i(self) -> float | None:
        if self.nb != "05":
            return None
        return shunting.read_readout(self.explorer.text())["E_i"]

    def values(self) -> dict:
        values = {name: slider.value for name, slider in self.sliders.items()}
        if self.nb == "05":
            values["E_i"] = self.e_i()
        return values

    def _shows(self, text: str, sliders: dict) -> bool:
        reader = {"04": saturation.read_readout, "05": shunting.read_readout}.get(self.nb, read_ch_readout)
        try:
            got = reader(text)
        except (ValueError, AssertionError):
            return False
        return all(abs(got[name] - value) < 1e-6 for name, value in sliders.items())

    def after_move(self, move: str, before_image, kind: str) -> list[str]:
        """Wait for the figure to settle on the sliders' values; check readout and canvas.

        ``kind`` ("keyboard" or "mouse") names the latency series the move belongs to.
        """
        sliders = {name: slider.value for name, slider in self.sliders.items()}
        latency = self.explorer.settle(lambda text: self._shows(text, sliders))
        self.latencies.append(latency)
        ld.RECORD.latency(f"{self.nb} {kind}", latency)
        values = self.values()
        text = self.explorer.text()
        if self.nb == "04":
            problems = check_04(text, sliders["g_e"])
        elif self.nb == "05":
            problems = check_05(text, sliders["g_e"], sliders["g_i"], values["E_i"])
        else:
            problems = check_06(text, sliders["g_e"], sliders["g_i"])
        expected = reference_image(self.nb, values)
        for _ in range(10):  # an image decoded late may land just after the settle: give it 2 s
            shown = self.explorer.canvas_rgba()
            diff = ld.image_difference(shown, expected)
            if diff <= SAME_IMAGE:
                break
            self.explorer.page.wait_for_timeout(200)
        if diff > SAME_IMAGE:
            problems.append(f"after {move} to {values} the canvas differs from the explorer's figure for "
                            f"those values ({diff} pixels differ)")
        if before_image is not None and ld.image_difference(shown, before_image) <= SAME_IMAGE:
            problems.append(f"after {move} to {values} the canvas still shows the previous figure")
        return [f"{move}: {p}" for p in problems]

    def screenshot(self, name: str) -> None:
        path = self.artifacts / f"{self.run.stem}_sliders_{name}.png"
        self.explorer.root.scroll_into_view_if_needed()
        self.explorer.root.screenshot(path=str(path))
        ld.RECORD.artifact(f"{self.nb} explorer, {name}", path)


def _assert_ok(drive: Drive, problems: list[str]) -> None:
    median = float(np.median(drive.latencies)) if drive.latencies else float("nan")
    print(f"{drive.nb}: slider release -> redrawn figure {', '.join(f'{v:.0f}' for v in drive.latencies)} ms "
          f"(median {median:.0f} ms)")
    assert not problems, f"{drive.nb} explorer:\n  " + "\n  ".join(problems)
    assert median <= LATENCY_CEILING_MS, \
        f"{drive.nb}: the figure takes {median:.0f} ms (median) to follow the slider"


@pytest.mark.parametrize("nb", sorted(NOTEBOOKS))
def test_keyboard_arrows_move_the_sliders_and_redraw_the_reference_figure(lab, nb, no_outside_requests):
    drive = Drive(lab, nb)
    problems = []
    for name, slider in drive.sliders.items():
        for key, times in (("ArrowRight", 3), ("ArrowLeft", 1)):
            before = drive.values()
            image = drive.explorer.canvas_rgba()
            slider.press(key, times, pause=0.1)
            if slider.value == before[name]:
                problems.append(f"{key} x{times} on {name} did not move the slider ({before[name]})")
                continue
            problems += drive.after_move(f"{key} x{times} on {name}", image, "keyboard")
    drive.screenshot("keyboard")
    _assert_ok(drive, problems)


#: Mouse targets (fractions of the slider range): low, high and the top end.
DRAGS = (("g_e", 0.15), ("g_i", 0.6), ("g_e", 0.7), ("g_i", 0.0), ("g_i", 1.0))


@pytest.mark.parametrize("nb", sorted(NOTEBOOKS))
def test_mouse_drags_move_the_sliders_and_redraw_the_reference_figure(lab, nb, no_outside_requests):
    drive = Drive(lab, nb)
    problems = []
    for name, fraction in DRAGS:
        if name not in drive.sliders:
            continue
        slider = drive.sliders[name]
        lo, hi = slider.bounds
        target = lo + fraction * (hi - lo)
        before = drive.values()
        image = drive.explorer.canvas_rgba()
        slider.drag_to(target)
        if abs(slider.value - target) > 0.06 * (hi - lo):
            problems.append(f"dragging {name} to {target:g} left it at {slider.value:g}")
        if slider.value == before[name]:
            continue
        problems += drive.after_move(f"drag {name} to {slider.value:g}", image, "mouse")
    drive.screenshot("mouse")
    if nb == "05":  # the other inhibition: E_i below rest
        select = drive.explorer.root.locator("select").first
        image = drive.explorer.canvas_rgba()
        label = [o for o in select.locator("option").all_inner_texts() if "hyperpolarising" in o][0]
        g_e, g_i = drive.sliders["g_e"].value, drive.sliders["g_i"].value
        drive.explorer.page.evaluate("() => { window.__lastInput = {type: 'select', t: performance.now()}; }")
        select.select_option(label=label.replace("\xa0", " "))
        drive.explorer.settle(lambda text: shunting.read_readout(text)["E_i"] == shunting.E_I_HYPERPOLARISING)
        problems += [f"hyperpolarising: {p}" for p in
                     check_05(drive.explorer.text(), g_e, g_i, shunting.E_I_HYPERPOLARISING)]
        expected = reference_image("05", drive.values())
        for _ in range(10):  # a full redraw decoded late may land just after the settle: give it 2 s
            diff = ld.image_difference(drive.explorer.canvas_rgba(), expected)
            if diff <= SAME_IMAGE:
                break
            drive.explorer.page.wait_for_timeout(200)
        if diff > SAME_IMAGE or ld.image_difference(drive.explorer.canvas_rgba(), image) <= SAME_IMAGE:
            problems.append(f"choosing hyperpolarising inhibition did not redraw the reference figure ({diff} pixels differ)")
        drive.screenshot("hyperpolarising")
    _assert_ok(drive, problems)
