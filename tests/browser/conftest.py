"""Fixtures of the browser suite: one JupyterLab server and one headless Chromium per session.

Run the suite alone with ``pytest -m browser`` (every test here is marked
``browser``). It needs Debian's Chromium at ``/usr/bin/chromium``
(``apt-get update && apt-get install -y chromium``) and the Python package
``playwright`` from requirements.txt; ``playwright install`` is never used.
Without Chromium the suite fails with that instruction when ``CI`` is set
(``CI=true``) and is skipped, with the same reason, elsewhere.

The server runs in a temporary copy of the course (see
:func:`labdriver.make_course`), so the repository's notebooks are never
opened, run or saved. Server, kernels and browser are stopped by finalizers,
also when a test fails or the session is interrupted.

Screenshots go to ``artifacts/browser/`` (ignored by git); their paths are
listed at the end of the test output, with the measured slider latencies
(also saved in ``artifacts/browser/latency.json``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

import labdriver as ld

#: Notebooks whose executed source page stays open for the slider tests.
EXPLORER_NOTEBOOKS = ("source/synapses/04_saturation.ipynb", "source/synapses/05_shunting.ipynb",
                      "source/synapses/06_carandini_heeger.ipynb")


def in_ci() -> bool:
    """True when the environment says CI (``CI=true``, ``CI=1``, ...)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_terminal_summary(terminalreporter):
    if not (ld.RECORD.artifacts or ld.RECORD.latencies or ld.RECORD.blocked or ld.RECORD.timings):
        return
    write = terminalreporter.write_line
    terminalreporter.section("browser suite: artifacts and latencies")
    for name, seconds in ld.RECORD.timings.items():
        write(f"ran {name} in the browser: {seconds:.1f} s")
    for key, values in sorted(ld.RECORD.latencies.items()):
        ordered = sorted(values)
        median = ordered[len(ordered) // 2] if len(ordered) % 2 else \
            0.5 * (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2])
        write(f"slider release -> redrawn figure, {key}: median {median:.0f} ms over "
              f"{len(values)} moves (each: {', '.join(f'{v:.0f}' for v in values)} ms)")
    for description, path in ld.RECORD.artifacts:
        write(f"artifact: {description}: {path}")
    if ld.RECORD.blocked:
        write(f"requests blocked (not to 127.0.0.1): {sorted(set(ld.RECORD.blocked))}")
    if ld.RECORD.latencies:
        ld.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ld.ARTIFACTS / "latency.json").write_text(json.dumps(ld.RECORD.latencies, indent=2))
        write(f"artifact: latencies (ms): {ld.ARTIFACTS / 'latency.json'}")


@pytest.fixture(scope="session")
def browser_requirements():
    """Fail (CI) or skip (elsewhere) when Chromium or Playwright is missing."""
    reason = ld.missing_requirements()
    if reason is not None:
        if in_ci():
            pytest.fail(f"browser suite cannot run in CI: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def artifacts_dir(browser_requirements):
    """``artifacts/browser/``, emptied once per run (not by xdist workers)."""
    if not os.environ.get("PYTEST_XDIST_WORKER") and ld.ARTIFACTS.exists():
        shutil.rmtree(ld.ARTIFACTS)
    ld.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ld.ARTIFACTS


@pytest.fixture(scope="session")
def lab_server(browser_requirements, tmp_path_factory):
    """JupyterLab on 127.0.0.1 (fresh port and token) in a temporary copy of the course."""
    base = tmp_path_factory.mktemp("lab")
    root = ld.make_course(base)
    server = ld.LabServer(root, base / "state")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def chromium(browser_requirements):
    """Headless Chromium driven by Playwright; closed at the end of the session."""
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    try:
        browser = ld.launch_chromium(manager)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        manager.stop()


class Lab:
    """The session's server and browser, and notebooks run in it.

    ``run(path)`` opens a notebook and runs every cell one by one (see
    :meth:`labdriver.Notebook.run_cells`), saves it and returns a
    :class:`NotebookRun`. The executed pages of the explorer notebooks stay open
    for the slider tests; the others are closed by ``done(run)``.
    """

    def __init__(self, server: ld.LabServer, browser, artifacts: Path):
        self.server = server
        self.artifacts = artifacts
        self.context = ld.new_context(browser, blocked=ld.RECORD.blocked)
        self._runs: dict[str, NotebookRun] = {}

    def open(self, path: str) -> ld.Notebook:
        return ld.Notebook(self.server, self.context, path)

    def run(self, path: str) -> "NotebookRun":
        if path in self._runs:
            return self._runs[path]
        start = time.monotonic()
        notebook = self.open(path)
        notebook.run_cells()
        saved = notebook.save()
        seconds = time.monotonic() - start
        ld.RECORD.timings[path] = seconds
        run = NotebookRun(notebook, saved, seconds)
        self._runs[path] = run
        return run

    def done(self, run: "NotebookRun") -> None:
        """Close a run's page and kernel unless the slider tests need it."""
        if run.notebook.path not in EXPLORER_NOTEBOOKS:
            self._runs.pop(run.notebook.path, None)
            run.notebook.close()

    def close(self) -> None:
        for run in list(self._runs.values()):
            try:
                run.notebook.close()
            except Exception:
                pass
        self._runs.clear()
        self.context.close()


class NotebookRun:
    """A notebook executed cell by cell in the browser, and its saved outputs."""

    def __init__(self, notebook: ld.Notebook, saved, seconds: float):
        self.notebook = notebook
        self.saved = saved
        self.seconds = seconds

    @property
    def stem(self) -> str:
        return Path(self.notebook.path).stem


@pytest.fixture(scope="session")
def lab(lab_server, chromium, artifacts_dir):
    """The :class:`Lab` of the session."""
    session = Lab(lab_server, chromium, artifacts_dir)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def no_outside_requests():
    """Fail a test during which the page tried to reach anything but 127.0.0.1."""
    before = len(ld.RECORD.blocked)
    yield
    leaked = ld.RECORD.blocked[before:]
    assert not leaked, f"JupyterLab tried to reach the network (requests aborted): {leaked}"
