"""Slider-to-redraw latency of the live explorers of notebooks 05 and 06, against an ``interact`` baseline.

Both are measured in one run, in JupyterLab in headless Chromium (the browser
suite's machinery, ``tests/browser/labdriver.py``), in a temporary copy of the
course:

* **live**: the notebook's explorer (ipympl canvas whose artists are updated in
  place, sliders, readout), from a copy of the source notebook cut down to the
  cells the explorer needs (set-up, the answers, the explorer cell);
* **baseline**: the same figure drawn the usual ``ipywidgets.interact`` way, a
  function that builds a new matplotlib figure from the same ``helpers``
  functions on every slider change and shows it as an inline PNG (at the live
  figure's size and dpi), in a scratch notebook.

A *move* drags a slider handle with the mouse to a new position (10 pointer
moves 30 ms apart, as a hand does; every intermediate value reaches the kernel,
``continuous_update`` being on in both) and releases it; a *key* move presses
an arrow key once. The latency is the time from the release (or key press) to
the moment the figure shows the final state (last canvas draw after the
readout's final change, or the last inline image loaded), see
``labdriver._settle``. Moves of the live explorer and of the baseline are
interleaved so that both see the same machine load. One warm-up move of each is
not counted.

Goal (issue 6): median drag latency at most 250 ms, and at least 4 times faster
than the baseline.

Usage: ``.venv/bin/python benchmarks/bench_sliders.py`` (or ``make bench``);
needs Chromium (``apt-get install -y chromium``).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "browser"))

import labdriver as ld  # noqa: E402

MOVES = 12  # counted moves per explorer, method and kind (median of >= 10)
GOAL_MS = 250.0  # ms, median drag latency of the live explorer
GOAL_RATIO = 4.0  # baseline latency / live latency
#: Slider targets (fractions of the range) visited in turn; g_e and g_i alternate. None is a
#: starting value of the explorers (05: g_e 0.1, g_i 0.1; 06: g_e 0.4, g_i 0.33 of the range).
TARGETS = {"g_e (nS)": (0.2, 0.6, 0.3, 0.8), "g_i (nS)": (0.2, 0.5, 0.05, 0.7)}

NOTEBOOKS = {"05": "05_shunting.ipynb", "06": "06_carandini_heeger.ipynb"}

BASELINE_SETUP = r'''
%matplotlib inline
import numpy as np
import matplotlib.pyplot as plt
from ipywidgets import FloatSlider, interact

from helpers.references import lif_rate as rates
from helpers.references import membrane
from helpers.explorers import carandini_heeger as ch
from helpers.explorers import shunting

plt.rcParams["figure.dpi"] = 100  # the live figures' size in pixels (950 x 380, 900 x 360)
'''

BASELINE_05 = r'''
u_rest, g_m, C_m, E_e = membrane.U_REST, membrane.G_L, membrane.C_M, shunting.E_E
E_i, E_hy = u_rest, shunting.E_I_HYPERPOLARISING   # shunting inhibition, as the explorer starts
t = np.linspace(-shunting.T_BEFORE, shunting.T_MAX, 1101)
ge = np.linspace(0.0, shunting.G_E_MAX, 201)
fns = {"membrane_steady_state_fn": membrane.membrane_steady_state,
       "membrane_time_constant_fn": membrane.membrane_time_constant}


def figure_05(g_e, g_i):
    """Notebook 05's explorer figure, built anew for every slider value (the interact way)."""
    traces = shunting.shunting_traces(t, g_e, g_i, E_i, E_e, g_m, C_m, u_rest, **fns)
    n = shunting.shunting_numbers(g_e, g_i, E_i, E_e, g_m, C_m, u_rest, **fns)
    fig, (ax_t, ax_e) = plt.subplots(1, 2, figsize=(9.5, 3.8), layout="constrained")
    ax_t.plot(t, traces["excitation"], color="0.6", lw=1.5, label="excitation alone")
    ax_t.plot(t, traces["inhibition"], color="C4", lw=1.5, ls=":", label="inhibition alone")
    ax_t.plot(t, traces["both"], color="C0", lw=2.5, label="excitation + inhibition")
    ax_t.plot([0.0, t[-1]], [n["u_inf"], n["u_inf"]], color="C0", lw=1, ls="--", label=r"$u_\infty$")
    ax_t.axhline(u_rest, color="0.8", lw=0.8, zorder=0)
    top = u_rest + 1.05 * float(membrane.membrane_steady_state(shunting.G_E_MAX, 0.0, E_e, u_rest, g_m, u_rest) - u_rest)
    bottom = min(u_rest, E_hy) - 2.0
    ax_t.set(xlim=(t[0], t[-1]), ylim=(bottom, top), xlabel="time t (ms)",
             ylabel="membrane potential u (mV)", title="step of g_e and g_i at t = 0")
    ax_t.legend(loc="upper right", fontsize=8)
    ax_e.plot(ge, membrane.membrane_steady_state(ge, 0.0, E_e, u_rest, g_m, u_rest) - u_rest,
              color="0.6", lw=1.5, label=r"$g_i = 0$")
    ax_e.plot(ge, membrane.membrane_steady_state(ge, g_i, E_e, u_rest, g_m, u_rest) - u_rest,
              color="C0", lw=2.5, label="shunting")
    ax_e.plot(ge, membrane.membrane_steady_state(ge, g_i, E_e, E_hy, g_m, u_rest) - u_rest,
              color="C3", lw=1.0, alpha=0.45, label="hyperpolarising")
    ax_e.plot([g_e], [n["epsp"]], "o", color="k", ms=6, zorder=5)
    ax_e.axhline(0.0, color="0.8", lw=0.8, zorder=0)
    ax_e.set(xlim=(0, shunting.G_E_MAX), ylim=(bottom - u_rest, top - u_rest),
             xlabel=r"excitatory conductance $g_e$ (nS)",
             ylabel=r"EPSP amplitude $u_\infty - u_\mathrm{rest}$ (mV)",
             title="EPSP amplitude for the chosen g_i")
    ax_e.legend(loc="lower right", fontsize=8)
    plt.show()
    print(f"g_e = {g_e:.2f} nS, g_i = {g_i:.2f} nS")


interact(figure_05,
         g_e=FloatSlider(value=5.0, min=0.0, max=shunting.G_E_MAX, step=0.5, description="g_e (nS)"),
         g_i=FloatSlider(value=10.0, min=0.0, max=shunting.G_I_MAX, step=0.5, description="g_i (nS)"));
'''

BASELINE_06 = r'''
u_rest, g_l, C_m = membrane.U_REST, membrane.G_L, membrane.C_M
drive = ch.E_E - u_rest
axis = np.linspace(0.0, ch.G_E_MAX, 401)


def ch_curve(g_e, g_i):
    return rates.ch_rate(g_e, g_i, drive, g_l, ch.M_CH)


def lif_curve(g_e, g_i):
    return rates.lif_rate(g_e * drive, C_m, g_l + g_e + g_i, u_rest, membrane.U_TH, membrane.U_RESET)


def figure_06(g_e, g_i):
    """Notebook 06's explorer figure, built anew for every slider value (the interact way)."""
    fig, (ax_ch, ax_lif) = plt.subplots(1, 2, figsize=(9.0, 3.6), sharex=True, layout="constrained")
    for ax, fn, title, color in ((ax_ch, ch_curve, "Carandini-Heeger: shunting divides", "C0"),
                                 (ax_lif, lif_curve, "LIF neuron: shunting subtracts", "C3")):
        for shunt in ch.G_I_FAMILY:
            if shunt != 0.0:
                ax.plot(axis, fn(axis, shunt), color="0.82", lw=1.0, zorder=1)
        ax.plot(axis, fn(axis, 0.0), "k--", lw=1.2, label="$g_i$ = 0", zorder=2)
        ax.plot(axis, fn(axis, g_i), color=color, lw=2.2, zorder=3, label="slider $g_i$")
        ax.plot([g_e], [float(fn(g_e, g_i))], "o", color=color, zorder=4)
        ax.set_xlabel("excitatory conductance $g_e$ (nS)")
        ax.set_ylabel("rate (Hz)")
        ax.set_title(title, fontsize=10)
        ax.set_xlim(0.0, ch.G_E_MAX)
        top = float(np.max(fn(axis, 0.0)))
        ax.set_ylim(0.0, 1.05 * top if top > 0 else 1.0)
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    plt.show()
    print(f"g_e = {g_e:.2f} nS, g_i = {g_i:.2f} nS")


interact(figure_06,
         g_e=FloatSlider(value=8.0, min=0.0, max=ch.G_E_MAX, step=0.5, description="g_e (nS)"),
         g_i=FloatSlider(value=10.0, min=0.0, max=ch.G_I_MAX, step=1.0, description="g_i (nS)"));
'''


def _notebook(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source.strip()) for source in cells]
    return nb


def explorer_notebook(source: Path) -> nbformat.NotebookNode:
    """The source notebook cut down to the set-up, the answer cells and the explorer cell."""
    nb = nbformat.read(source, as_version=4)
    keep = []
    for cell in nb.cells:
        meta = ld.nbgrader_meta(cell)
        if cell.cell_type != "code":
            continue
        if meta.get("grade_id") == "setup" or (meta.get("solution") and not meta.get("grade")):
            keep.append(cell)
        elif "_explorer(" in cell.source and "display(" in cell.source:
            keep.append(cell)
            break
    nb.cells = keep
    return nb


def _readout_shows(nb: str, text: str, g_e: float, g_i: float) -> bool:
    flat = " ".join(text.split())
    want = (f"g_e = {g_e:.2f} nS; g_i = {g_i:.2f} nS" if nb == "05"
            else f"g_e = {g_e:.1f} nS, g_i = {g_i:.1f} nS")
    return want in flat


def _baseline_shows(text: str, g_e: float, g_i: float) -> bool:
    return f"g_e = {g_e:.2f} nS, g_i = {g_i:.2f} nS" in " ".join(text.split())


def _move(view, label: str, target: float, kind: str, done, key: str = "ArrowRight") -> float | None:
    """Move one slider, wait for the figure; latency (ms), or None if the slider did not move."""
    slider = view.slider(label)
    before = slider.value
    if kind == "drag":
        lo, hi = slider.bounds
        slider.drag_to(lo + target * (hi - lo))
    else:
        slider.press(key)
    g_e, g_i = view.slider("g_e (nS)").value, view.slider("g_i (nS)").value
    if slider.value == before:
        return None
    return view.settle(lambda text: done(text, g_e, g_i), quiet_ms=400.0, timeout=120.0)


def render_costs(repeats: int = 5) -> dict:
    """Kernel-side cost (ms, median of ``repeats``) of one slider step, measured in this process.

    ``{nb}_live_step_ms``: set a slider of the explorer whose canvas is shown (a
    stand-in for the browser view takes the frames): update, blit and PNG frame,
    what the kernel does per step; ``{nb}_live_full_draw_ms``: the same step
    drawn in full (one ``canvas.draw()``), as before blitting (and still on a
    first draw or a resize);
    ``{nb}_baseline_render_ms``: build the baseline's figure and encode it as
    PNG (what ``interact`` does per step).
    """
    import contextlib
    import io

    import matplotlib
    import matplotlib.pyplot as plt

    from helpers.explorers import carandini_heeger as ch
    from helpers.explorers import shunting
    from helpers.references import lif_rate as rates
    from helpers.references import membrane

    previous_backend = matplotlib.get_backend()
    previous_show = plt.show
    costs = {}
    try:
        plt.switch_backend("agg")
        plt.show = lambda *a, **k: (plt.gcf().savefig(io.BytesIO(), format="png"), plt.close("all"))
        for nb, body in (("05", BASELINE_05), ("06", BASELINE_06)):
            explorer = (shunting.shunting_explorer(membrane.membrane_steady_state, membrane.membrane_time_constant)
                        if nb == "05" else ch.ch_explorer(rates.ch_rate, rates.lif_rate))
            canvas = explorer.fig.canvas
            canvas.send = lambda *args, **kwargs: None  # the view: takes frames, answers nothing
            canvas.syncing_data_url = False  # as after ipympl's 'initialized' message
            canvas.draw()
            times = []
            for k in range(repeats):
                start = time.perf_counter()
                explorer.controls["g_i"].value = 5.5 + k
                times.append(1000 * (time.perf_counter() - start))
            costs[f"{nb}_live_step_ms"] = _median(times)
            times = []
            for k in range(repeats):
                explorer.controls["g_i"].value = 5.0 + k
                start = time.perf_counter()
                canvas.draw()
                times.append(1000 * (time.perf_counter() - start))
            costs[f"{nb}_live_full_draw_ms"] = _median(times)
            namespace: dict = {}
            exec(BASELINE_SETUP.replace("%matplotlib inline", ""), namespace)
            exec(body.split("\ninteract(")[0], namespace)
            figure = namespace[f"figure_{nb}"]
            times = []
            with contextlib.redirect_stdout(io.StringIO()):
                for k in range(repeats):
                    start = time.perf_counter()
                    figure(8.0, 5.0 + k)
                    times.append(1000 * (time.perf_counter() - start))
            costs[f"{nb}_baseline_render_ms"] = _median(times)
    finally:
        plt.show = previous_show
        plt.switch_backend(previous_backend)
    return costs


def _median(values) -> float:
    return float(statistics.median(values)) if values else float("nan")


def run(moves: int = MOVES) -> dict:
    """Measure slider-to-redraw latencies (ms) of the live explorers and the interact baselines.

    Returns
    -------
    dict
        Per notebook ``nb`` ("05", "06") and kind ("drag", "key"):
        ``{nb}_{kind}_live_median_ms``, ``{nb}_{kind}_baseline_median_ms`` and
        ``{nb}_{kind}_speedup_ratio`` (baseline / live); ``goal_met`` (every
        drag median <= 250 ms and every drag speed-up >= 4), the number of
        counted moves, the machine's CPU count and load, every latency, and
        the kernel-side cost of one step (:func:`render_costs`). Only
        ``skipped`` (the reason) when Chromium or Playwright is missing.
    """
    reason = ld.missing_requirements()
    if reason is not None:  # make bench runs the other benchmarks all the same
        return {"skipped": reason}
    from playwright.sync_api import sync_playwright

    results: dict = {"moves": moves, "cpus": os.cpu_count(),
                     "load_1min_before": round(os.getloadavg()[0], 2)}
    samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sliders-") as tmp:
        root = ld.make_course(Path(tmp), notebooks=("source",))
        bench = root / "bench"
        bench.mkdir()
        for nb, name in NOTEBOOKS.items():
            nbformat.write(explorer_notebook(root / "source" / "synapses" / name), bench / f"live_{nb}.ipynb")
            body = BASELINE_05 if nb == "05" else BASELINE_06
            nbformat.write(_notebook([BASELINE_SETUP, body]), bench / f"baseline_{nb}.ipynb")
        server = ld.LabServer(root, Path(tmp) / "state")
        manager = sync_playwright().start()
        browser = None
        try:
            server.start()
            browser = ld.launch_chromium(manager)
            context = ld.new_context(browser)
            views = {}
            for nb in NOTEBOOKS:
                live = ld.Notebook(server, context, f"bench/live_{nb}.ipynb")
                live.run_cells()
                explorer = ld.LiveExplorer(live.page.locator(".course-readout").first.locator("xpath=.."))
                explorer.root.scroll_into_view_if_needed()
                explorer.wait_drawn()
                base = ld.Notebook(server, context, f"bench/baseline_{nb}.ipynb")
                base.run_cells()
                interact = ld.InteractBaseline(base.page.locator(".widget-interact").first)
                interact.root.scroll_into_view_if_needed()
                views[nb] = (explorer, interact)

            for nb, (explorer, interact) in views.items():
                live_done = lambda text, g_e, g_i, nb=nb: _readout_shows(nb, text, g_e, g_i)  # noqa: E731
                for kind in ("drag", "key"):
                    labels = list(TARGETS)
                    for k in range(moves + 1):  # move 0 warms up
                        label = labels[k % 2]
                        target = TARGETS[label][(k // 2) % len(TARGETS[label])]
                        key = "ArrowRight" if (k // 2) % 2 == 0 else "ArrowLeft"
                        live_ms = _move(explorer, label, target, kind, live_done, key)
                        base_ms = _move(interact, label, target, kind, _baseline_shows, key)
                        if live_ms is None or base_ms is None:
                            raise RuntimeError(f"{nb} {kind} move {k} of {label} did not move the slider")
                        if k:
                            samples.setdefault(f"{nb}_{kind}_live", []).append(round(live_ms, 1))
                            samples.setdefault(f"{nb}_{kind}_baseline", []).append(round(base_ms, 1))
                        print(f"  {nb} {kind} {label} -> live {live_ms:.0f} ms, baseline {base_ms:.0f} ms"
                              + ("" if k else " (warm-up)"), flush=True)
        finally:
            if browser is not None:
                browser.close()
            manager.stop()
            server.stop()

    goal = True
    for nb in NOTEBOOKS:
        for kind in ("drag", "key"):
            live = _median(samples.get(f"{nb}_{kind}_live", []))
            base = _median(samples.get(f"{nb}_{kind}_baseline", []))
            results[f"{nb}_{kind}_live_median_ms"] = live
            results[f"{nb}_{kind}_baseline_median_ms"] = base
            results[f"{nb}_{kind}_speedup_ratio"] = base / live if live > 0 else float("inf")
            if kind == "drag":
                goal = goal and live <= GOAL_MS and base / max(live, 1e-9) >= GOAL_RATIO
    results.update(render_costs())
    results["goal"] = f"drag median <= {GOAL_MS:g} ms and >= {GOAL_RATIO:g}x faster than the baseline"
    results["goal_met"] = goal
    results["load_1min_after"] = round(os.getloadavg()[0], 2)
    results["samples_ms"] = samples
    return results


def main() -> int:
    start = time.perf_counter()
    figures = run()
    if "skipped" in figures:
        print(f"skipped: {figures['skipped']}")
        return 1
    for key, value in figures.items():
        if key == "samples_ms":
            continue
        print(f"{key}: {value:.3g}" if isinstance(value, float) else f"{key}: {value}")
    for nb in NOTEBOOKS:
        for kind in ("drag", "key"):
            print(f"{nb} {kind}: live {figures[f'{nb}_{kind}_live_median_ms']:.0f} ms, interact baseline "
                  f"{figures[f'{nb}_{kind}_baseline_median_ms']:.0f} ms: "
                  f"{figures[f'{nb}_{kind}_speedup_ratio']:.1f}x faster")
    print(f"(took {time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
