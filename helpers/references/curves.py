"""Reference curves for the notebooks' figures and quick checks, computed at release time.

The student's kernel cannot read :mod:`helpers.references`, so a figure that
shows a reference curve next to the student's, or a quick (visible) check that
compares a Brian2 trace with a closed form, takes the curve from data:
``helpers/data/reference_curves.npz``, written here and read at run time by
:mod:`helpers.reference_data`. ``make release`` regenerates the file (before
``nbgrader generate_assignment``); tests/test_curves.py proves that the
committed file is exactly what :func:`compute` gives today.

The file is a plain ``.npz`` (uncompressed, fixed time stamps and order), so
the same arrays always give the same bytes. Names (see :func:`compute`):

``kernel.t``, ``kernel.alpha_tau5``, ``kernel.dual_exp_8_60`` (float64)
    Waveforms of unit peak as functions of the time since one spike (ms), on
    0, 0.1, ..., 300 ms: alpha with tau = 5 ms, dual exponential with rise 8 ms
    and decay 60 ms. :func:`helpers.reference_data.waveform` shifts them.
``value.dual_exp_peak_time_8_60`` (float64, 0-d)
    The dual-exponential peak time (ms) for rise 8 ms and decay 60 ms.
``nb01.*`` (float32)
    Notebook 01: the waveforms figure, the magnesium block figure, the lecture
    simulation with the reference functions (``nb01.lecture.t``, ``.u``,
    ``.I.<synapse>``) and one spike of each synapse at the explorer's default
    settings (``nb01.explorer.<synapse>.g``, ``.I``, ``.u``; times
    ``0, 0.1, ...`` ms, the spike at :data:`helpers.explorers.zoo.SPIKE_TIME`).
``nb03.*`` (float32)
    Notebook 03: the magnesium block for the figure of section a).

Units: ms, mV, nS, pA (plain numbers).

``python -m coursekit release`` (``make release``) writes the file;
``python -m coursekit release --check`` exits 1 if the committed file is stale.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from helpers.constants import C_M, G_L, MG, U_RESET, U_TH
from helpers.explorers.zoo import SPIKE_TIME, explorer_duration
from helpers.zoo import LECTURE_SPIKES, ZOO

from . import nmda, waveforms
from .zoo import simulate_zoo

__all__ = ["DATA_PATH", "compute", "to_bytes", "write"]

#: The committed data file (read at run time by helpers.reference_data).
DATA_PATH = Path(__file__).resolve().parents[1] / "data" / "reference_curves.npz"

#: Time step (ms) of every time grid in the file.
DT = 0.1
_KERNEL_END = 300.0  # ms
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed time stamp: the same arrays give the same bytes


def _f32(x):
    return np.asarray(x, dtype=np.float32)


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def compute() -> dict[str, np.ndarray]:
    """Every reference curve of the file, by name (plain numbers: ms, mV, nS, pA)."""
    out: dict[str, np.ndarray] = {}

    # Kernels (float64: the quick checks compare with atol 1e-6)
    s = np.arange(int(round(_KERNEL_END / DT)) + 1) * DT
    out["kernel.t"] = _f64(s)
    out["kernel.alpha_tau5"] = _f64(waveforms.alpha_conductance(s, 1.0, 5.0))
    out["kernel.dual_exp_8_60"] = _f64(waveforms.dual_exp_conductance(s, 1.0, 8.0, 60.0))
    out["value.dual_exp_peak_time_8_60"] = _f64(waveforms.dual_exp_peak_time(8.0, 60.0))

    # Notebook 01: the waveforms figure (fast synapses, then NMDA and GABA_B)
    t = np.linspace(-2.0, 15.0, 681)
    out["nb01.waveforms.fast.t"] = _f32(t)
    out["nb01.waveforms.fast.exp_tau2"] = _f32(waveforms.exp_conductance(t, 1.0, 2.0))
    out["nb01.waveforms.fast.alpha_tau1"] = _f32(waveforms.alpha_conductance(t, 1.0, 1.0))
    for name, t_end in (("NMDA", 300.0), ("GABA_B", 1000.0)):
        syn = ZOO[name]
        t = np.linspace(-0.05 * t_end, t_end, 2101)
        out[f"nb01.waveforms.{name}.t"] = _f32(t)
        out[f"nb01.waveforms.{name}.g"] = _f32(waveforms.dual_exp_conductance(t, 1.0, syn.tau_rise,
                                                                              syn.tau_decay))
    # Notebook 01: the magnesium block figure
    u = np.linspace(-100.0, 40.0, 281)
    out["nb01.block.u"] = _f32(u)
    for label, mg in (("0", 0.0), ("MG", MG), ("2", 2.0)):
        out[f"nb01.block.B.{label}"] = _f32(nmda.mg_block(u, mg))
    # Notebook 01: the lecture simulation (spiking neuron) with the reference functions
    lecture = simulate_zoo(spike_times=LECTURE_SPIKES, duration=1000.0, u_th=U_TH, u_reset=U_RESET)
    out["nb01.lecture.t"] = _f32(lecture.t)
    out["nb01.lecture.u"] = _f32(lecture.u)
    for name in LECTURE_SPIKES:
        out[f"nb01.lecture.I.{name}"] = _f32(lecture.I[name])
    # Notebook 01: the explorer's reference at each synapse's default settings
    for name, syn in ZOO.items():
        duration = explorer_duration(syn.tau_decay, C_M / G_L)
        res = simulate_zoo(spike_times={name: [SPIKE_TIME]}, duration=duration, synapses={name: syn})
        out[f"nb01.explorer.{name}.g"] = _f32(res.g[name])
        out[f"nb01.explorer.{name}.I"] = _f32(res.I[name])
        out[f"nb01.explorer.{name}.u"] = _f32(res.u)

    # Notebook 03: the magnesium block and the NMDA current of section a)
    u = np.linspace(-100.0, 40.0, 1401)
    out["nb03.block.u"] = _f32(u)
    for label, mg in (("0", 0.0), ("0.5", 0.5), ("1.2", 1.2), ("2", 2.0)):
        out[f"nb03.block.B.{label}"] = _f32(nmda.mg_block(u, mg))
    return out


def to_bytes(curves: dict[str, np.ndarray]) -> bytes:
    """The ``.npz`` file of ``curves``: uncompressed, sorted names, fixed time stamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(curves):
            info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            array = io.BytesIO()
            np.lib.format.write_array(array, np.asarray(curves[name], order="C"), allow_pickle=False)
            archive.writestr(info, array.getvalue())
    return buffer.getvalue()


def write(path: Path = DATA_PATH) -> Path:
    """Compute the curves and write them to ``path`` (only if the bytes changed)."""
    data = to_bytes(compute())
    path = Path(path)
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path
