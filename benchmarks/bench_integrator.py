"""Run time of helpers.zoo.simulate_zoo against scipy's solve_ivp at the same accuracy.

Both solve the lecture simulation (helpers.zoo.LECTURE_SPIKES, 1000 ms, passive
membrane, output every 0.1 ms) and are timed in the same run. Accuracy is the
largest deviation from a high-precision solution (DOP853, rtol = atol = 1e-12,
max_step 0.5 ms, restarted at every presynaptic spike); the target is 0.01 mV.

solve_ivp uses its default method, RK45, with rtol = 1e-5 and atol = 1e-6 mV,
restarted at every presynaptic spike so that no conductance jump lies inside a
step: the loosest tolerances of that kind (powers of ten) that reach 0.01 mV
(rtol = 1e-4 gives about 0.04 mV). If a scipy version ever misses the target
with them, run() tightens rtol tenfold until it is met and reports what it used.

Usage: ``.venv/bin/python benchmarks/bench_integrator.py`` (or ``make bench``).
"""

from __future__ import annotations

import time

import numpy as np

from helpers.references.zoo import simulate_zoo, simulate_zoo_ivp  # helpers.zoo with the reference functions
from helpers.zoo import LECTURE_SPIKES

ACCURACY = 0.01  # mV, accuracy both solvers must reach
IVP_METHOD = "RK45"  # solve_ivp's default explicit Runge-Kutta 4(5)
IVP_RTOL = 1e-5
IVP_ATOL = 1e-6  # mV
REPEATS = 5  # the best of REPEATS runs is reported for each solver


def _best_time(fn, repeats=REPEATS):
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def run() -> dict:
    """Time simulate_zoo and solve_ivp on the lecture simulation; return the figures.

    Returns
    -------
    dict
        ``zoo_over_ivp_ratio`` (simulate_zoo run time / solve_ivp run time),
        both run times (s), the solve_ivp method and tolerances, and both
        errors (mV) against the high-precision reference.
    """
    reference = simulate_zoo_ivp(LECTURE_SPIKES, method="DOP853", rtol=1e-12, atol=1e-12, max_step=0.5).u

    rtol = IVP_RTOL
    while True:
        ivp_error = float(np.max(np.abs(simulate_zoo_ivp(method=IVP_METHOD, rtol=rtol, atol=IVP_ATOL).u - reference)))
        if ivp_error <= ACCURACY or rtol < 1e-12:
            break
        rtol /= 10

    # interleave the two solvers so that both see the same machine load
    zoo_times, ivp_times = [], []
    for _ in range(REPEATS):
        t, zoo_result = _best_time(simulate_zoo, 1)
        zoo_times.append(t)
        t, _ = _best_time(lambda: simulate_zoo_ivp(method=IVP_METHOD, rtol=rtol, atol=IVP_ATOL), 1)
        ivp_times.append(t)
    zoo_time, ivp_time = min(zoo_times), min(ivp_times)
    zoo_error = float(np.max(np.abs(zoo_result.u - reference)))
    return {
        "zoo_over_ivp_ratio": zoo_time / ivp_time,
        "zoo_time_s": zoo_time,
        "ivp_time_s": ivp_time,
        "ivp_method": IVP_METHOD,
        "ivp_rtol": rtol,
        "ivp_atol_mV": IVP_ATOL,
        "zoo_error_mV": zoo_error,
        "ivp_error_mV": ivp_error,
        "accuracy_target_mV": ACCURACY,
        "zoo_dt_ms": 0.1,
    }


def main() -> int:
    figures = run()
    print("Lecture simulation (1000 ms, 4 synapses, output every 0.1 ms), best of", REPEATS, "runs each:")
    print(f"  simulate_zoo (exponential midpoint, dt = 0.1 ms): {1e3 * figures['zoo_time_s']:.1f} ms, "
          f"max error {figures['zoo_error_mV']:.2g} mV")
    print(f"  solve_ivp ({figures['ivp_method']}, rtol = {figures['ivp_rtol']:g}, atol = {figures['ivp_atol_mV']:g} mV): "
          f"{1e3 * figures['ivp_time_s']:.1f} ms, max error {figures['ivp_error_mV']:.2g} mV")
    print(f"  accuracy target: {figures['accuracy_target_mV']:g} mV")
    print(f"simulate_zoo / solve_ivp run-time ratio: {figures['zoo_over_ivp_ratio']:.3f}")
    ok = figures["zoo_error_mV"] <= ACCURACY and figures["ivp_error_mV"] <= ACCURACY
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
