"""Notebook 04 (synaptic saturation): wrong answers, and right ones written another way.

``WRONG`` rows are ``(item, label, source, words[, caught_by_visible])``: a wrong answer, the words one
of which its failure message must contain, and whether the visible checks catch it; ``RIGHT`` rows
are ``(item, label, source)``. The mutation tests (``tests/test_mutations_04.py``) run them, the
synthetic and planted classes (:mod:`coursekit.classes`) draw from them, and :data:`MISCONCEPTIONS`
names what the grader must report for each WRONG row. :data:`ERRATA` and :data:`REFERENCE_OF` are
the sample class's wrong and re-exported answers for this notebook. Plain data
(:mod:`coursekit.answers.tables` reads every such module).
"""

from __future__ import annotations

from coursekit.answers.writing import answer_writer

#: The notebook (``source/synapses/<NOTEBOOK>.ipynb``).
NOTEBOOK = "04_saturation"
SIGNATURES = {
    "input_conductance": "def input_conductance(g_syn, g_m):",
    "effective_time_constant": "def effective_time_constant(C_m, g_syn, g_m):",
    "steady_state_potential": "def steady_state_potential(g_syn, E_syn, g_m, u_rest=0.0, I_e=0.0):",
}
answer = answer_writer(SIGNATURES)


# ---------------------------------------------------------------------------- mutants
# (item, label, source, words one of which the failure message must contain)
WRONG = [
    # input_conductance
    ("input_conductance", "leak forgotten", answer("input_conductance", """
        return g_syn
        """), ["leak"]),
    ("input_conductance", "input resistance instead of conductance", answer("input_conductance", """
        return 1.0 / (g_syn + g_m)
        """), ["input conductance", "g_in"]),
    ("input_conductance", "conductances in series", answer("input_conductance", """
        return g_syn * g_m / (g_syn + g_m)
        """), ["leak", "parallel"]),
    ("input_conductance", "leak hard-coded to 10 nS", answer("input_conductance", """
        return g_syn + 10.0
        """), ["g_in", "parallel"]),
    # effective_time_constant
    ("effective_time_constant", "synapse ignored (current-based thinking)", answer("effective_time_constant", """
        return C_m / g_m + 0.0 * g_syn
        """), ["tau'", "halves"]),
    ("effective_time_constant", "only the synaptic conductance", answer("effective_time_constant", """
        return C_m / g_syn
        """), ["tau'", "halves"]),
    ("effective_time_constant", "C_m times conductance", answer("effective_time_constant", """
        return C_m * (g_syn + g_m)
        """), ["tau'"]),
    ("effective_time_constant", "seconds instead of ms", answer("effective_time_constant", """
        return C_m / (g_syn + g_m) / 1000.0
        """), ["tau'"]),
    ("effective_time_constant", "C_m hard-coded to 200 pF", answer("effective_time_constant", """
        return 200.0 / (g_syn + g_m)
        """), ["C_m"]),
    # steady_state_potential
    ("steady_state_potential", "current-based synapse: no saturation", answer("steady_state_potential", """
        return u_rest + (g_syn * (E_syn - u_rest) + I_e) / g_m
        """), ["saturat", "reversal potential"]),
    ("steady_state_potential", "I_e over g_m instead of the input conductance", answer("steady_state_potential", """
        return (g_m * u_rest + g_syn * E_syn) / (g_m + g_syn) + I_e / g_m
        """), ["input conductance", "I_e"]),
    ("steady_state_potential", "u_rest ignored (lecture's rest = 0)", answer("steady_state_potential", """
        return (g_syn * E_syn + I_e) / (g_m + g_syn)
        """), ["u_rest", "rest"]),
    ("steady_state_potential", "I_e forgotten", answer("steady_state_potential", """
        return (g_m * u_rest + g_syn * E_syn) / (g_m + g_syn)
        """), ["I_e"]),
    ("steady_state_potential", "driving force with the wrong sign", answer("steady_state_potential", """
        return (g_m * u_rest - g_syn * E_syn + I_e) / (g_m + g_syn)
        """), ["u_inf"]),
]

# Correct answers written differently.
RIGHT = [
    ("input_conductance", "np.add", answer("input_conductance", """
        return np.add(g_syn, g_m)
        """)),
    ("input_conductance", "sum of broadcast arrays", answer("input_conductance", """
        return np.sum(np.broadcast_arrays(np.asarray(g_syn, float), np.asarray(g_m, float)), axis=0)
        """)),
    ("effective_time_constant", "tau_m / (1 + g_syn/g_m)", answer("effective_time_constant", """
        tau_m = C_m / g_m
        return tau_m / (1.0 + np.asarray(g_syn, dtype=float) / g_m)
        """)),
    ("effective_time_constant", "inverse of the rate", answer("effective_time_constant", """
        return 1.0 / ((np.asarray(g_syn, dtype=float) + g_m) / C_m)
        """)),
    ("steady_state_potential", "deflection from rest", answer("steady_state_potential", """
        return u_rest + (g_syn * (np.asarray(E_syn, dtype=float) - u_rest) + I_e) / (g_syn + g_m)
        """)),
    ("steady_state_potential", "weights of a mean", answer("steady_state_potential", """
        g_in = np.asarray(g_m, dtype=float) + g_syn
        return (g_m / g_in) * u_rest + (g_syn / g_in) * E_syn + I_e / g_in
        """)),
]


# ---------------------------------------------------------------------------- the full range of valid input
# Rows that only the probes of every kind of scalar and of an array in every argument catch (False: the
# visible checks pass them), and right answers computed in float32 (judged within physical tolerances).
WRONG += [
    ("input_conductance", "ndmin=1 unless Python floats: a 1-element array for ints", answer("input_conductance", """
        if isinstance(g_syn, float) and isinstance(g_m, float):
            return g_syn + g_m
        return np.array(g_syn, dtype=float, ndmin=1) + np.array(g_m, dtype=float, ndmin=1)
        """), ["for a scalar input"], False),
    ("effective_time_constant", "an array g_m taken as a number (its first element)", answer("effective_time_constant", """
        g_m = np.ravel(g_m)[0]
        return C_m / (g_syn + g_m)
        """), ["for an input of shape", "C_m / (g_m + g_syn)"], False),
    ("steady_state_potential", "an array u_rest taken as a number (its first element)", answer("steady_state_potential", """
        u_rest = np.ravel(u_rest)[0]
        return (g_m * u_rest + g_syn * E_syn + I_e) / (g_m + g_syn)
        """), ["for an input of shape", "g_m u_rest + g_syn E_syn + I_e"], False),
]

RIGHT += [
    ("input_conductance", "float32", answer("input_conductance", """
        return np.asarray(g_syn, dtype=np.float32) + np.asarray(g_m, dtype=np.float32)
        """)),
    ("effective_time_constant", "float32", answer("effective_time_constant", """
        f = np.float32
        return np.asarray(C_m, dtype=f) / (np.asarray(g_m, dtype=f) + np.asarray(g_syn, dtype=f))
        """)),
    ("steady_state_potential", "float32", answer("steady_state_potential", """
        g_syn, E_syn, g_m, u_rest, I_e = (np.asarray(x, dtype=np.float32) for x in (g_syn, E_syn, g_m, u_rest, I_e))
        return (g_m * u_rest + g_syn * E_syn + I_e) / (g_m + g_syn)
        """)),
    ("steady_state_potential", "np.broadcast_arrays and a relaxation towards E_syn", answer("steady_state_potential", """
        g_syn, E_syn, g_m, u_rest, I_e = np.broadcast_arrays(*(np.asarray(x, dtype=float)
                                                               for x in (g_syn, E_syn, g_m, u_rest, I_e)))
        u_free = u_rest + I_e / g_m                      # without the synapse
        w = g_syn / (g_syn + g_m)                        # how far the synapse pulls towards E_syn
        return (u_free + w * (E_syn - u_free))[()]
        """)),
]


# ---------------------------------------------------------------------------- the sample class
#: grade id -> code that replaces the ``### BEGIN/END SOLUTION`` region of that answer cell
#: (indented like the marker): the lecture's mistake or the typical one the notebook warns about
#: (the sample class's ``errata`` students, :mod:`coursekit.classes.sample`).
ERRATA: dict[str, str] = {
    "input_conductance": """
        return 1.0 / (1.0 / g_syn + 1.0 / g_m)  # in series instead of in parallel
        """,
    "effective_time_constant": """
        return C_m / g_m + 0.0 * g_syn  # the synapse forgotten: current-based thinking
        """,
    "steady_state_potential": """
        return u_rest + (g_syn * (E_syn - u_rest) + I_e) / g_m  # current-based: no saturation
        """,
}

#: grade id -> (module of ``helpers/references``, names it defines): an answer cell that only
#: re-exports the reference (the sample class's ``reexport`` edit; the sandbox must make it fail).
REFERENCE_OF: dict[str, tuple[str, str]] = {
    "input_conductance": ("membrane", "input_conductance"),
    "effective_time_constant": ("membrane", "effective_time_constant"),
    "steady_state_potential": ("membrane", "steady_state_potential"),
}


#: (item, label) of a WRONG row -> the misconception the grader must report it with
#: (:mod:`coursekit.answers.misconceptions`; rows whose mistake has no name of its own: ``other``).
MISCONCEPTIONS: dict[tuple[str, str], str] = {
    ('input_conductance', 'leak forgotten'): 'conductances-not-parallel',
    ('input_conductance', 'input resistance instead of conductance'): 'conductances-not-parallel',
    ('input_conductance', 'conductances in series'): 'conductances-not-parallel',
    ('input_conductance', 'leak hard-coded to 10 nS'): 'conductances-not-parallel',
    ('effective_time_constant', 'synapse ignored (current-based thinking)'): 'tau-ignores-synapse',
    ('effective_time_constant', 'only the synaptic conductance'): 'tau-ignores-synapse',
    ('effective_time_constant', 'C_m times conductance'): 'tau-ignores-synapse',
    ('effective_time_constant', 'seconds instead of ms'): 'time-seconds',
    ('effective_time_constant', 'C_m hard-coded to 200 pF'): 'tau-formula',
    ('steady_state_potential', 'current-based synapse: no saturation'): 'current-not-conductance',
    ('steady_state_potential', 'I_e over g_m instead of the input conductance'): 'steady-state-weighting',
    ('steady_state_potential', "u_rest ignored (lecture's rest = 0)"): 'rest-taken-as-zero',
    ('steady_state_potential', 'I_e forgotten'): 'current-injection',
    ('steady_state_potential', 'driving force with the wrong sign'): 'steady-state-weighting',
    ('input_conductance', 'ndmin=1 unless Python floats: a 1-element array for ints'): 'shape-of-result',
    ('effective_time_constant', 'an array g_m taken as a number (its first element)'): 'shape-of-result',
    ('steady_state_potential', 'an array u_rest taken as a number (its first element)'): 'shape-of-result',
}
