"""Notebook 05 (shunting inhibition): wrong answers, and right ones written another way.

``WRONG`` rows are ``(item, label, source, words[, caught_by_visible])``: a wrong answer, the words one
of which its failure message must contain, and whether the visible checks catch it; ``RIGHT`` rows
are ``(item, label, source)``. The mutation tests (``tests/test_mutations_05.py``) run them, the
synthetic and planted classes (:mod:`coursekit.classes`) draw from them, and :data:`MISCONCEPTIONS`
names what the grader must report for each WRONG row. :data:`ERRATA` and :data:`REFERENCE_OF` are
the sample class's wrong and re-exported answers for this notebook. Plain data
(:mod:`coursekit.answers.tables` reads every such module).
"""

from __future__ import annotations

from coursekit.answers.writing import answer_writer

#: The notebook (``source/synapses/<NOTEBOOK>.ipynb``).
NOTEBOOK = "05_shunting"
SIGNATURES = {
    "membrane_steady_state": "def membrane_steady_state(g_e, g_i, E_e, E_i, g_m, u_rest):",
    "membrane_time_constant": "def membrane_time_constant(C_m, g_e, g_i, g_m):",
}
answer = answer_writer(SIGNATURES)


# ---------------------------------------------------------------------------- mutants
# (item, label, source, words one of which the failure message must contain)
WRONG = [
    # membrane_steady_state
    ("membrane_steady_state", "lecture's missing minus sign on the shunt term", answer("membrane_steady_state", """
        # tau_m du/dt = +R_m g_i u + R_m g_e (E_e - u) - u, measured from rest
        return u_rest + g_e * (E_e - u_rest) / (g_m + g_e - g_i)
        """), ["sign", "-g_i (u - E_i)"]),
    ("membrane_steady_state", "outward inhibitory current g_i (u - E_i)", answer("membrane_steady_state", """
        return (g_m * u_rest + g_e * E_e - g_i * E_i) / (g_m + g_e - g_i)
        """), ["sign", "-g_i (u - E_i)"]),
    ("membrane_steady_state", "inhibition only subtracts (g_i not in the denominator)", answer("membrane_steady_state", """
        return (g_m * u_rest + g_e * E_e + g_i * E_i) / (g_m + g_e)
        """), ["rest", "shunting"]),
    ("membrane_steady_state", "u_rest ignored (lecture's rest = 0)", answer("membrane_steady_state", """
        return (g_e * E_e + g_i * E_i) / (g_m + g_e + g_i)
        """), ["rest", "u_rest"]),
    ("membrane_steady_state", "E_i taken to be u_rest (shunting only)", answer("membrane_steady_state", """
        return (g_m * u_rest + g_e * E_e + g_i * u_rest) / (g_m + g_e + g_i)
        """), ["hyperpolarising", "E_i"]),
    ("membrane_steady_state", "current-based excitation", answer("membrane_steady_state", """
        return (g_m * u_rest + g_e * (E_e - u_rest) + g_i * E_i) / (g_m + g_i)
        """), ["E_e", "half way"]),
    ("membrane_steady_state", "leak hard-coded to 10 nS", answer("membrane_steady_state", """
        return (10.0 * u_rest + g_e * E_e + g_i * E_i) / (10.0 + g_e + g_i)
        """), ["u_inf"]),
    # membrane_time_constant
    ("membrane_time_constant", "inhibition leaves tau' unchanged", answer("membrane_time_constant", """
        return C_m / (g_m + g_e) + 0.0 * g_i
        """), ["inhibitory", "tau'"]),
    ("membrane_time_constant", "lecture's sign: shunt subtracts conductance", answer("membrane_time_constant", """
        return C_m / (g_m + g_e - g_i)
        """), ["inhibitory", "tau'"]),
    ("membrane_time_constant", "leak only (tau_m)", answer("membrane_time_constant", """
        return C_m / g_m + 0.0 * (g_e + g_i)
        """), ["halve", "tau'"]),
    ("membrane_time_constant", "C_m hard-coded to 200 pF", answer("membrane_time_constant", """
        return 200.0 / (g_m + g_e + g_i)
        """), ["tau'"]),
]

# Correct answers written differently.
RIGHT = [
    ("membrane_steady_state", "deflections from rest", answer("membrane_steady_state", """
        g_tot = g_m + np.asarray(g_e, dtype=float) + g_i
        return u_rest + (g_e * (E_e - u_rest) + g_i * (E_i - u_rest)) / g_tot
        """)),
    ("membrane_steady_state", "weights of a mean", answer("membrane_steady_state", """
        g_tot = np.add(np.add(g_m, g_e), g_i)
        return (g_m / g_tot) * u_rest + (g_e / g_tot) * E_e + (g_i / g_tot) * E_i
        """)),
    ("membrane_time_constant", "inverse of the rate", answer("membrane_time_constant", """
        return 1.0 / ((g_m + np.asarray(g_e, dtype=float) + g_i) / C_m)
        """)),
    ("membrane_time_constant", "tau_m / (1 + (g_e + g_i)/g_m)", answer("membrane_time_constant", """
        tau_m = C_m / g_m
        return tau_m / (1.0 + (np.asarray(g_e, dtype=float) + g_i) / g_m)
        """)),
]


# ---------------------------------------------------------------------------- the full range of valid input
# Rows that only the probes of every kind of scalar and of an array in every argument catch (False: the
# visible checks pass them), and right answers computed in float32 (judged within physical tolerances).
WRONG += [
    ("membrane_time_constant", "ndmin=1 unless Python floats: a 1-element array for ints", answer("membrane_time_constant", """
        if all(isinstance(x, float) for x in (C_m, g_e, g_i, g_m)):
            return C_m / (g_m + g_e + g_i)
        C_m = np.array(C_m, dtype=float, ndmin=1)
        return C_m / (g_m + np.array(g_e, dtype=float, ndmin=1) + g_i)
        """), ["for a scalar input"], False),
    ("membrane_steady_state", "an array E_i taken as a number (its first element)", answer("membrane_steady_state", """
        E_i = np.ravel(E_i)[0]
        return (g_m * u_rest + g_e * E_e + g_i * E_i) / (g_m + g_e + g_i)
        """), ["for an input of shape", "g_m u_rest + g_e E_e + g_i E_i"], False),
    ("membrane_time_constant", "an array C_m taken as a number (its first element)", answer("membrane_time_constant", """
        return np.ravel(C_m)[0] / (g_m + g_e + g_i)
        """), ["for an input of shape", "C_m / (g_m + g_e + g_i)"], False),
]

RIGHT += [
    ("membrane_steady_state", "float32", answer("membrane_steady_state", """
        g_e, g_i, E_e, E_i, g_m, u_rest = (np.asarray(x, dtype=np.float32) for x in (g_e, g_i, E_e, E_i, g_m, u_rest))
        return (g_m * u_rest + g_e * E_e + g_i * E_i) / (g_m + g_e + g_i)
        """)),
    ("membrane_time_constant", "float32", answer("membrane_time_constant", """
        C_m, g_e, g_i, g_m = (np.asarray(x, dtype=np.float32) for x in (C_m, g_e, g_i, g_m))
        return C_m / (g_m + g_e + g_i)
        """)),
    ("membrane_steady_state", "np.average with broadcast weights", answer("membrane_steady_state", """
        E = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (u_rest, E_e, E_i, g_m, g_e, g_i)))
        return np.average(np.stack(E[:3]), axis=0, weights=np.stack(E[3:]))[()]
        """)),
]


# ---------------------------------------------------------------------------- the sample class
#: grade id -> code that replaces the ``### BEGIN/END SOLUTION`` region of that answer cell
#: (indented like the marker): the lecture's mistake or the typical one the notebook warns about
#: (the sample class's ``errata`` students, :mod:`coursekit.classes.sample`).
ERRATA: dict[str, str] = {
    "membrane_steady_state": """
        return (g_m * u_rest + g_e * E_e + g_i * E_i) / (g_m + g_e - g_i)  # lecture: shunt sign missing
        """,
    "membrane_time_constant": """
        return C_m / (g_m + g_e) + 0.0 * g_i  # inhibition forgotten
        """,
}

#: grade id -> (module of ``helpers/references``, names it defines): an answer cell that only
#: re-exports the reference (the sample class's ``reexport`` edit; the sandbox must make it fail).
REFERENCE_OF: dict[str, tuple[str, str]] = {
    "membrane_steady_state": ("membrane", "membrane_steady_state"),
    "membrane_time_constant": ("membrane", "membrane_time_constant"),
}


#: (item, label) of a WRONG row -> the misconception the grader must report it with
#: (:mod:`coursekit.answers.misconceptions`; rows whose mistake has no name of its own: ``other``).
MISCONCEPTIONS: dict[tuple[str, str], str] = {
    ('membrane_steady_state', "lecture's missing minus sign on the shunt term"): 'shunt-sign',
    ('membrane_steady_state', 'outward inhibitory current g_i (u - E_i)'): 'shunt-sign',
    ('membrane_steady_state', 'inhibition only subtracts (g_i not in the denominator)'): 'shunt-moves-rest',
    ('membrane_steady_state', "u_rest ignored (lecture's rest = 0)"): 'shunt-moves-rest',
    ('membrane_steady_state', 'E_i taken to be u_rest (shunting only)'): 'ei-taken-as-rest',
    ('membrane_steady_state', 'current-based excitation'): 'current-not-conductance',
    ('membrane_steady_state', 'leak hard-coded to 10 nS'): 'steady-state-weighting',
    ('membrane_time_constant', "inhibition leaves tau' unchanged"): 'inhibition-not-conductance',
    ('membrane_time_constant', "lecture's sign: shunt subtracts conductance"): 'inhibition-not-conductance',
    ('membrane_time_constant', 'leak only (tau_m)'): 'tau-ignores-synapse',
    ('membrane_time_constant', 'C_m hard-coded to 200 pF'): 'tau-formula',
    ('membrane_time_constant', 'ndmin=1 unless Python floats: a 1-element array for ints'): 'shape-of-result',
    ('membrane_steady_state', 'an array E_i taken as a number (its first element)'): 'shape-of-result',
    ('membrane_time_constant', 'an array C_m taken as a number (its first element)'): 'shape-of-result',
}
