"""Brian2 code generation for graded simulations: numpy against cold Cython.

Every student's string is new code, so under the Cython target each graded
call would compile its code objects from scratch. This benchmark runs one
graded simulation of :mod:`helpers.brian_harness` per target, each in a fresh
Python process (Brian2 keeps compiled modules in memory) and, for Cython, with a
fresh, empty cache directory (``CYTHON_CACHE_DIR``). The time measured is the
harness call (code generation, compilation, simulation), not the import.

Simulations (the graded ones; ``run()`` does one, ``--all`` all three):

* ``synapse``: notebook 02, dual-exponential synapse, 300 ms at dt = 0.1 ms;
* ``nmda``: notebook 03, NMDA synapse on a neuron, 300 ms at dt = 0.1 ms;
* ``lif``: notebook 06, 100 currents x 7 shunting conductances, 1 s at dt = 0.1 ms.

Each child also repeats the call in the same process (``*_warm``: Cython's
modules are then cached in memory), for comparison only.

Usage: ``python benchmarks/bench_codegen.py [--all] [synapse|nmda|lif ...]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIMULATIONS = ("synapse", "nmda", "lif")
DEFAULT = "nmda"


def _simulate(name):
    """Run one graded simulation through the harness (reference strings)."""
    from brian2 import ms, second

    from helpers import brian_harness as harness
    from helpers.references import brian_reference as ref

    if name == "synapse":
        harness.run_synapse(ref.DUAL_EXP_MODEL, ref.DUAL_EXP_ON_PRE, ref.synapse_namespace(),
                            [10.0] * ms, 300 * ms)
    elif name == "nmda":
        harness.run_nmda_neuron(ref.NMDA_NEURON_EQS, ref.NMDA_SYNAPSE_MODEL, ref.NMDA_SYNAPSE_ON_PRE,
                                ref.nmda_namespace(), [10.0] * ms, 300 * ms)
    elif name == "lif":
        harness.run_lif_population(ref.LIF_MODEL, ref.lif_namespace(), ref.LIF_CURRENTS[:, None],
                                   ref.LIF_SHUNTS[None, :], 1 * second)
    else:
        raise ValueError(f"unknown simulation {name!r}; choose from {SIMULATIONS}")


def _child(name, target):
    """In a fresh process: time the first (cold) and a second (warm) harness call."""
    start = time.perf_counter()
    from helpers import brian_harness as harness

    harness.CODEGEN_TARGET = target
    import_s = time.perf_counter() - start
    start = time.perf_counter()
    _simulate(name)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    _simulate(name)
    warm = time.perf_counter() - start
    print(json.dumps({"import_s": import_s, "cold_s": cold, "warm_s": warm}))


def _measure(name, target):
    with tempfile.TemporaryDirectory(prefix="bench_codegen_") as cache:
        env = dict(os.environ, CYTHON_CACHE_DIR=cache, PYTHONDONTWRITEBYTECODE="1")
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, target],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"{name}/{target} failed:\n{out.stderr[-2000:]}")
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        if target == "cython":
            figures["compiled_modules"] = sum(1 for _ in Path(cache).rglob("*.so"))
        return figures


def run(simulations=(DEFAULT,)) -> dict:
    """Measure numpy and cold Cython for each simulation in one run.

    Parameters
    ----------
    simulations : sequence of str
        Names from :data:`SIMULATIONS`; default the notebook-03 NMDA run.

    Returns
    -------
    dict
        ``<sim>_numpy_s``, ``<sim>_cython_cold_s`` (seconds, first call in a
        fresh process), ``<sim>_cython_cold_ratio`` (Cython / numpy),
        ``<sim>_numpy_warm_s``, ``<sim>_cython_warm_s`` (second call in the
        same process) and ``<sim>_cython_modules`` (modules compiled).
    """
    results = {}
    for name in simulations:
        numpy_figs = _measure(name, "numpy")
        cython_figs = _measure(name, "cython")
        results[f"{name}_numpy_s"] = numpy_figs["cold_s"]
        results[f"{name}_cython_cold_s"] = cython_figs["cold_s"]
        results[f"{name}_cython_cold_ratio"] = cython_figs["cold_s"] / numpy_figs["cold_s"]
        results[f"{name}_numpy_warm_s"] = numpy_figs["warm_s"]
        results[f"{name}_cython_warm_s"] = cython_figs["warm_s"]
        results[f"{name}_cython_modules"] = cython_figs["compiled_modules"]
    return results


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        _child(argv[1], argv[2])
        return 0
    names = SIMULATIONS if "--all" in argv else tuple(a for a in argv if not a.startswith("-"))
    for key, value in run(names or (DEFAULT,)).items():
        print(f"{key}: {value:.3g}" if isinstance(value, float) else f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
