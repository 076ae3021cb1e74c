"""Run-time code never imports the reference answers (helpers.references).

The student's kernel runs in a sandbox that can read the Python environment and
the run-time part of ``helpers`` but not ``helpers/references/``. So every module
that a notebook imports or runs outside the hidden tests must work without it:

* in a subprocess where importing ``helpers.references`` (or any submodule) raises
  ImportError, every run-time module imports, every notebook's locked set-up cells
  run (IPython magics removed), and every explorer is built and moved once with
  functions and strings like the student's, so that no import hidden inside a
  function the notebooks call is missed;
* an AST scan finds no run-time module that names ``helpers.references``: no
  import (absolute or relative, at module level or inside a function), no
  ``helpers.references`` attribute chain and no string (other than a docstring)
  containing it, e.g. for ``importlib.import_module``.

Which modules are run-time is declared here; a new module of ``helpers`` must be
classified (:func:`test_every_helpers_module_is_classified`).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
HELPERS = ROOT / "helpers"
SOURCE = ROOT / "source" / "synapses"
BLOCKED = "helpers.references"

#: Modules the student's kernel imports or runs (their files must not name the references).
RUNTIME_TOP = ("helpers", "helpers.constants", "helpers.reference_data", "helpers.zoo",
               "helpers.brian_harness", "helpers.widgets", "helpers.grading")
#: Modules of helpers that run only on the trusted side: the answers. (The instructor's tooling is
#: the separate package coursekit.)
TRUSTED_TOP = ()
TRUSTED_PACKAGES = ("helpers.references",)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _all_modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(HELPERS.rglob("*.py"))}


def runtime_modules() -> dict[str, Path]:
    """Run-time modules by name: the declared ones and every module of helpers.explorers."""
    modules = _all_modules()
    names = [name for name in modules if name in RUNTIME_TOP
             or name == "helpers.explorers" or name.startswith("helpers.explorers.")]
    return {name: modules[name] for name in names}


def test_every_helpers_module_is_classified():
    runtime = set(runtime_modules())
    for name in _all_modules():
        trusted = name in TRUSTED_TOP or any(name == p or name.startswith(p + ".") for p in TRUSTED_PACKAGES)
        assert (name in runtime) != trusted, (
            f"{name}: declare it run-time (RUNTIME_TOP) or trusted-side (TRUSTED_TOP) in {__file__}")
    assert set(RUNTIME_TOP) <= runtime, sorted(set(RUNTIME_TOP) - runtime)
    assert {"helpers.explorers.zoo", "helpers.explorers.nmda", "helpers.explorers.saturation",
            "helpers.explorers.shunting", "helpers.explorers.carandini_heeger"} <= runtime


# ---------------------------------------------------------------------------- AST scan
def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the Constant nodes that are docstrings (module, class, function)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                out.add(id(body[0].value))
    return out


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else inner + "." + node.attr
    return None


def references_named(path: Path, module: str) -> list[str]:
    """Every place where the module at ``path`` (named ``module``) names helpers.references."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    docstrings = _docstrings(tree)
    found = []

    def blocked(name: str) -> bool:
        return name == BLOCKED or name.startswith(BLOCKED + ".")

    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [f"{where} import {alias.name}" for alias in node.names if blocked(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = [target] + [f"{target}.{alias.name}" for alias in node.names]
            if any(blocked(name) for name in names):
                found.append(f"{where} from {'.' * node.level}{node.module or ''} import "
                             + ", ".join(alias.name for alias in node.names))
        elif isinstance(node, ast.Attribute):
            name = _dotted(node)
            if name is not None and blocked(name):
                found.append(f"{where} {name}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if BLOCKED in node.value or "references" in node.value.split("."):
                found.append(f"{where} string {node.value[:60]!r}")
    return found


@pytest.mark.parametrize("module", sorted(runtime_modules()))
def test_runtime_module_does_not_name_the_references(module):
    assert references_named(runtime_modules()[module], module) == []


def test_the_scan_finds_every_way_of_naming_the_references(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(textwrap.dedent('''
        """helpers.references in a docstring is fine."""
        import helpers.references.waveforms
        from helpers.references import nmda
        from helpers import references
        from .references import lif_rate
        from . import references as r

        def lazy():
            """Imports inside functions count too."""
            from helpers.references.membrane import input_conductance
            import importlib
            return importlib.import_module("helpers.references.zoo"), helpers.references.curves
    '''))
    found = references_named(bad, "helpers.bad")
    lines = {int(item.split(":")[1].split()[0]) for item in found}
    assert lines == {3, 4, 5, 6, 7, 11, 13}, found  # every import, the string and the attribute chain
    assert sum(":13 " in item for item in found) >= 2, found
    assert references_named(HELPERS / "references" / "zoo.py", "helpers.references.zoo") != []


# ---------------------------------------------------------------------------- blocked subprocess
def locked_setup_cells(path: Path) -> list[str]:
    """Sources of the code cells with nbgrader locked=True and grade=False, magics removed."""
    nb = nbformat.read(path, as_version=4)
    cells = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("locked") and not meta.get("grade"):
            lines = [line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))]
            cells.append("\n".join(lines))
    return cells


def test_every_notebook_has_locked_setup_cells():
    notebooks = sorted(SOURCE.glob("*.ipynb"))
    assert notebooks, f"no notebooks in {SOURCE}"
    for path in notebooks:
        cells = locked_setup_cells(path)
        assert cells and "import" in cells[0], path.name


_BLOCKER = '''
import importlib.abc
import sys


class BlockReferences(importlib.abc.MetaPathFinder):
    """The sandbox in one class: helpers.references cannot be read."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "helpers.references" or fullname.startswith("helpers.references."):
            raise ImportError(f"{fullname} is not readable in the student's kernel")
        return None


sys.meta_path.insert(0, BlockReferences())
'''

_CHILD = _BLOCKER + '''
import importlib
import json
import sys
import traceback

import matplotlib
matplotlib.use("Agg")

modules, notebooks = json.loads(sys.argv[1])
problems = []
try:
    import helpers.references  # noqa: F401
    problems.append("the blocker did not block helpers.references")
except ImportError:
    pass

for name in modules:
    try:
        importlib.import_module(name)
    except Exception:
        problems.append(f"import {name}: " + traceback.format_exc(limit=3))

for path, cells in notebooks:
    namespace = {"__name__": "__main__"}
    for k, source in enumerate(cells):
        try:
            exec(compile(source, f"{path} locked cell {k}", "exec"), namespace)
        except Exception:
            problems.append(f"{path} locked cell {k}: " + traceback.format_exc(limit=3))
            break

# Every explorer, built with functions and strings of the student's kind and moved once:
# what the notebooks call after their set-up, including imports inside functions.
try:
    import numpy as np
    from brian2 import mM, ms, mV, nS, pF

    from helpers.explorers.carandini_heeger import ch_explorer
    from helpers.explorers.nmda import nmda_explorer
    from helpers.explorers.saturation import saturation_explorer
    from helpers.explorers.shunting import shunting_explorer
    from helpers.explorers.zoo import zoo_explorer

    def exp_c(t, g_peak, tau):
        t = np.asarray(t, dtype=float)
        return np.where(t >= 0, g_peak * np.exp(-np.maximum(t, 0) / tau), 0.0)

    def alpha_c(t, g_peak, tau):
        s = np.maximum(np.asarray(t, dtype=float), 0) / tau
        return np.where(np.asarray(t) >= 0, g_peak * s * np.exp(1 - s), 0.0)

    def dual_c(t, g_peak, tr, td):
        t = np.asarray(t, dtype=float)
        tp = tr * td / (td - tr) * np.log(td / tr)
        s = np.maximum(t, 0)
        n = np.exp(-tp / td) - np.exp(-tp / tr)
        return np.where(t >= 0, g_peak * (np.exp(-s / td) - np.exp(-s / tr)) / n, 0.0)

    def block(u, mg):
        return 1 / (1 + mg / 3.57 * np.exp(-0.062 * np.asarray(u, dtype=float)))

    def current(u, g, E):
        return np.asarray(g) * (E - np.asarray(u))

    ex = zoo_explorer({"exp": exp_c, "alpha": alpha_c, "dual_exp": dual_c}, block, current)
    for name in ("GABA_A", "GABA_B", "AMPA", "NMDA"):
        ex.controls["synapse"].value = name
    assert "Reference only" not in ex.readout.value, ex.readout.value

    ex = saturation_explorer(lambda g, gm: g + gm, lambda C, g, gm: C / (g + gm),
                             lambda g, E, gm, u0=0.0, I=0.0: (gm * u0 + g * E + I) / (gm + g))
    ex.controls["g_e"].value = 12.0
    steady = lambda ge, gi, Ee, Ei, gm, u0: (gm * u0 + ge * Ee + gi * Ei) / (gm + ge + gi)
    ex = shunting_explorer(steady, lambda C, ge, gi, gm: C / (gm + ge + gi))
    ex.controls["g_i"].value = 20.0

    def lif_rate(I, C, gl, u0, uth, ur, t_ref=0.0):
        u_inf = u0 + np.asarray(I, dtype=float) / gl
        fires = u_inf > uth
        safe = np.where(fires, u_inf, uth + 1.0)
        return np.where(fires, 1000.0 / (t_ref + C / gl * np.log((safe - ur) / (safe - uth))), 0.0)

    ex = ch_explorer(lambda ge, gi, E, gm, m=1.0: m * np.maximum(ge * E / (ge + gi + gm), 0) ** 2, lif_rate)
    ex.controls["g_i"].value = 5.0

    params = {"u_rest": -65 * mV, "g_l": 10 * nS, "C_m": 200 * pF, "E_nmda": 0 * mV,
              "tau_rise": 8 * ms, "tau_decay": 60 * ms, "g_max": 2 * nS, "Mg": 1.2 * mM}
    strings = ("du/dt = (g_l*(u_rest - u) + g_syn*G_mg*(E_nmda - u))/C_m : volt\\n"
               "G_mg = 1/(1 + Mg/(3.57*mM)*exp(-0.062*u/mV)) : 1\\ng_syn : siemens\\n",
               "dg/dt = (k*x - g)/tau_rise : siemens (clock-driven)\\n"
               "dx/dt = -x/tau_decay : siemens (clock-driven)\\n"
               "k = (tau_decay/tau_rise)**(tau_rise/(tau_decay - tau_rise)) : 1\\n"
               "g_syn_post = g : siemens (summed)\\n",
               "x += g_max")
    ex = nmda_explorer(params, strings)
    ex.controls["Mg"].value = 0.5
    assert "EPSP at rest" in ex.readout.value
except Exception:
    problems.append("explorers: " + traceback.format_exc(limit=4))

loaded = sorted(name for name in sys.modules if name == "helpers.references" or name.startswith("helpers.references."))
if loaded:
    problems.append(f"loaded despite the block: {loaded}")
print(json.dumps(problems))
'''


@pytest.mark.brian
def test_runtime_modules_notebook_setup_and_explorers_run_without_the_references():
    modules = sorted(runtime_modules())
    notebooks = [(path.name, locked_setup_cells(path)) for path in sorted(SOURCE.glob("*.ipynb"))]
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("NBGRADER_EXECUTION", None)
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([modules, notebooks])],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    problems = json.loads(proc.stdout.strip().splitlines()[-1])
    assert problems == [], "\n\n".join(problems)
