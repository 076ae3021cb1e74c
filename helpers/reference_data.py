"""Reference curves stored as data, for figures and quick checks in the student's kernel.

The reference answers (:mod:`helpers.references`) are readable by the trusted
grader only. Where a figure shows a reference curve beside the student's, or a
quick check compares a Brian2 trace with a closed form, the curve comes from
``helpers/data/reference_curves.npz``: numbers computed at release time
(``make release``), not the code that made them. The names are listed in the
generator's docstring (``helpers/references/curves.py``, not readable here);
:func:`names` lists them too.

Units: ms, mV, nS, pA (plain numbers).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["DATA_PATH", "names", "curve", "value", "waveform"]

#: The data file, inside the package.
DATA_PATH = Path(__file__).resolve().parent / "data" / "reference_curves.npz"


@lru_cache(maxsize=1)
def _curves() -> dict[str, np.ndarray]:
    with np.load(DATA_PATH, allow_pickle=False) as data:
        out = {name: data[name] for name in data.files}
    for array in out.values():
        array.setflags(write=False)  # shared between callers: read-only
    return out


def names() -> list[str]:
    """The names of the stored curves, sorted."""
    return sorted(_curves())


def curve(name: str) -> np.ndarray:
    """The stored array ``name`` (read-only), e.g. ``curve("nb01.lecture.u")``."""
    try:
        return _curves()[name]
    except KeyError:
        raise KeyError(f"no reference curve {name!r}; the stored ones are {', '.join(names())}") from None


def value(name: str) -> float:
    """A stored number, e.g. ``value("value.dual_exp_peak_time_8_60")`` (ms)."""
    return float(curve(name))


def waveform(name: str, t, t_s: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """The stored waveform ``kernel.<name>`` at times ``t`` after a spike at ``t_s`` (ms).

    Linear interpolation on the stored 0.1 ms grid (exact on grid points), zero
    before the spike.

    Parameters
    ----------
    name : str
        ``"alpha_tau5"`` (alpha, tau = 5 ms) or ``"dual_exp_8_60"`` (rise 8 ms,
        decay 60 ms), both with peak 1.
    t : array_like
        Times (ms).
    t_s : float, optional
        Spike time (ms).
    scale : float, optional
        Peak of the returned waveform (the stored ones peak at 1).

    Returns
    -------
    numpy.ndarray
        ``scale * waveform(t - t_s)``, the shape of ``t``.
    """
    grid = curve("kernel.t")
    values = curve("kernel." + name)
    s = np.asarray(t, dtype=float) - t_s
    if np.any(s > grid[-1] + 1e-9):
        raise ValueError(f"the stored {name} waveform covers {grid[-1]:g} ms after the spike; "
                         f"asked for {float(np.max(s)):g} ms")
    return scale * np.where(s < 0, 0.0, np.interp(s, grid, values))
