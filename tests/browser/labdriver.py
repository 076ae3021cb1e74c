"""Drive JupyterLab in headless Chromium: the machinery of the browser tests and the slider benchmark.

A :class:`LabServer` runs ``jupyter lab`` from the project's venv on loopback,
on a free port with a random token, in a throw-away copy of the course
(:func:`make_course`: ``source/``, ``release/`` and ``nbgrader_config.py``;
never the repository's own notebooks). Its Jupyter config, data, runtime,
workspace and IPython directories are private, so nothing from ``~/.jupyter``
leaks in, and :meth:`LabServer.stop` always ends the server's process group and
every kernel it started (found by an environment marker, since kernels run in
sessions of their own).

:func:`launch_chromium` starts Debian's ``/usr/bin/chromium`` through Playwright
(never ``playwright install``); :func:`new_context` makes a browser context in
which every request that is not to 127.0.0.1 is aborted (and recorded), and a
small script records when canvases are drawn, images load, readouts change and
the user presses a key or releases the mouse (for latency measurements).

:class:`Notebook` opens one notebook in its own JupyterLab workspace and runs
its cells the way a student clicking through does: Shift+Enter on each cell,
waiting for it to finish, so that an error does not stop the cells after it
(Run > Run All Cells stops at the first error; JupyterLab 4.6 has no setting
to continue, only the per-cell ``raises-exception`` tag, which the course
notebooks must not need). It then saves the notebook (Ctrl+S) and reads the
outputs back from the saved file.

Playwright's sync API handles page events (requests, the routing that keeps
the page on loopback) only while the test waits in a Playwright call, so every
wait here is ``page.wait_for_timeout``, never ``time.sleep``.

Units: times in seconds unless a name ends in ``_ms``.
"""

from __future__ import annotations

import ast
import atexit
import base64
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import quote, urlsplit

import nbformat

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
ARTIFACTS = REPO / "artifacts" / "browser"
#: The instructor's Jupyter server configuration (``make lab``, the hub): deploy/lab/jupyter_server_config.py.
SERVER_CONFIG = REPO / "deploy" / "lab"

#: Debian's Chromium (``apt-get install -y chromium``); override with SYNAPSES_CHROMIUM.
CHROMIUM = os.environ.get("SYNAPSES_CHROMIUM", "/usr/bin/chromium")
INSTALL_CHROMIUM = "apt-get update && apt-get install -y chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: Pixels: wide enough for the explorers (950 px canvas) beside the file browser.
VIEWPORT = {"width": 1400, "height": 1000}

#: Environment variable that marks the server and the kernels it starts.
RUN_MARKER = "SYNAPSES_BROWSER_RUN"

#: JupyterLab user settings for the tests: no news or update checks (no request
#: leaves the machine, no pop-up covers the notebook) and every cell attached to
#: the DOM (windowing "none"), so that a cell is found by its index.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}

#: Injected into every page before JupyterLab loads (see module docstring).
HOOK_JS = r"""
(() => {
  const now = () => performance.now();
  const drawImage = CanvasRenderingContext2D.prototype.drawImage;
  CanvasRenderingContext2D.prototype.drawImage = function (...args) {
    const result = drawImage.apply(this, args);
    const canvas = this.canvas;
    if (canvas && canvas.isConnected) {
      canvas.__draws = (canvas.__draws || 0) + 1;
      canvas.__lastDraw = now();
    }
    return result;
  };
  document.addEventListener("load", (event) => {
    const el = event.target;
    if (el && el.tagName === "IMG") { el.__loadedAt = now(); }
  }, true);
  window.__lastInput = null;
  for (const type of ["pointerup", "keydown"]) {
    window.addEventListener(type, () => { window.__lastInput = {type, t: now()}; }, true);
  }
  // When did the text of a readout or of an interact output last change?
  new MutationObserver((records) => {
    for (const record of records) {
      const node = record.target;
      const el = node && (node.nodeType === 1 ? node : node.parentElement);
      const host = el && el.closest && el.closest(".course-readout, .widget-output");
      if (host) { host.__changedAt = now(); }
    }
  }).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""


class Record:
    """What a run produced, for the end-of-run summary: artifacts, latencies, blocked requests, timings."""

    def __init__(self):
        self.artifacts: list[tuple[str, Path]] = []
        self.latencies: dict[str, list[float]] = {}
        self.blocked: list[str] = []
        self.timings: dict[str, float] = {}

    def artifact(self, description: str, path: Path | None) -> None:
        """Remember an artifact (and print its path, shown with ``pytest -s``)."""
        if path is not None:
            self.artifacts.append((description, Path(path)))
            print(f"artifact: {description}: {path}")

    def latency(self, key: str, milliseconds: float) -> None:
        self.latencies.setdefault(key, []).append(round(float(milliseconds), 1))


#: The run's record (one per process).
RECORD = Record()


class LabError(RuntimeError):
    """JupyterLab or the browser did not do what a student would see it do."""


# ---------------------------------------------------------------------------
# Chromium and Playwright
# ---------------------------------------------------------------------------
def chromium_path() -> str | None:
    """Path of the Chromium executable, or None if it is not installed."""
    path = Path(CHROMIUM)
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def missing_requirements() -> str | None:
    """Why the browser suite cannot run here (one sentence), or None if it can."""
    if chromium_path() is None:
        return (f"Chromium is not installed at {CHROMIUM}; install it with "
                f"`{INSTALL_CHROMIUM}` (never `playwright install`)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright (pinned in requirements.txt) is not installed"
    return None


def launch_chromium(playwright):
    """Start headless Chromium (Debian's executable) through Playwright."""
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS,
                                      headless=True)


def new_context(browser, blocked: list[str] | None = None):
    """A browser context that only talks to 127.0.0.1 (requests and web sockets), with the timing hooks.

    Parameters
    ----------
    browser : playwright Browser
    blocked : list of str, optional
        Receives the URL of every aborted request.
    """
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.add_init_script(HOOK_JS)

    def route(route):
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            if blocked is not None:
                blocked.append(url)
            route.abort()

    context.route("**/*", route)

    def refuse_socket(ws):  # web sockets are not requests: refuse those that leave loopback too
        if blocked is not None:
            blocked.append(ws.url)
        ws.close()

    # Only non-loopback sockets are routed: the kernels' sockets stay direct (no proxy delay).
    context.route_web_socket(lambda url: urlsplit(url).hostname != "127.0.0.1", refuse_socket)
    return context


# ---------------------------------------------------------------------------
# The course copy and the server
# ---------------------------------------------------------------------------
def make_course(dest: Path, notebooks: Iterable[str] = ("source", "release")) -> Path:
    """Copy the course (notebooks and nbgrader config) into ``dest/course``.

    The ``helpers`` package is not copied: the kernels import the installed
    (editable) package, as a student's environment does.

    Returns
    -------
    pathlib.Path
        The course root (the server's root directory and working directory).
    """
    root = Path(dest) / "course"
    root.mkdir(parents=True, exist_ok=True)
    for name in notebooks:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    return root


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def marked_processes(marker: str) -> list[int]:
    """Ids of live processes whose environment has ``RUN_MARKER=<marker>`` (Linux /proc)."""
    needle = f"{RUN_MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return sorted(found)


class LabServer:
    """``jupyter lab`` on 127.0.0.1 with a fresh port and token, in ``root``.

    Parameters
    ----------
    root : pathlib.Path
        Course root: the server's root directory and working directory (the
        nbgrader Validate handler reads ``nbgrader_config.py`` from there).
    state : pathlib.Path
        Directory for the server's private Jupyter/IPython directories and log.
    """

    def __init__(self, root: Path, state: Path):
        self.root = Path(root)
        self.state = Path(state)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.marker = uuid.uuid4().hex
        self.log_path = self.state / "jupyter-lab.log"
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def url(self, path: str) -> str:
        """URL of ``path`` (relative to the server root, query allowed) with the token."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"

    def _env(self) -> dict:
        dirs = {name: self.state / name for name in
                ("config", "data", "runtime", "settings", "workspaces", "ipython")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        for plugin, values in LAB_SETTINGS.items():
            target = dirs["settings"] / f"{plugin}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        env = dict(os.environ)
        for name in ("NBGRADER_EXECUTION", "JPY_SESSION_NAME"):
            env.pop(name, None)
        env.update({
            RUN_MARKER: self.marker,
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            # the course's server configuration, as `make lab` uses it (Content-Security-Policy, sanitize_html)
            "JUPYTER_CONFIG_PATH": str(SERVER_CONFIG),
            "JUPYTER_DATA_DIR": str(dirs["data"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
            "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
            "IPYTHONDIR": str(dirs["ipython"]),
            "JUPYTER_PLATFORM_DIRS": "1",
        })
        return env

    def start(self, timeout: float = 120.0) -> "LabServer":
        """Start the server and wait until ``/api/status`` answers."""
        jupyter = VENV_BIN / "jupyter"
        if not jupyter.exists():
            jupyter = Path(sys.executable).parent / "jupyter"
        cmd = [str(jupyter), "lab", "--allow-root", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", "--LabApp.news_url=None"]
        self.state.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(cmd, cwd=self.root, env=self._env(), stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        log.close()
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LabError(f"jupyter lab exited with status {self.process.returncode}:\n"
                               + self.log_tail())
            try:
                self.api("GET", "api/status")
                return self
            except (OSError, LabError):
                time.sleep(0.3)
        self.stop()
        raise LabError(f"jupyter lab did not answer /api/status within {timeout:.0f} s:\n"
                       + self.log_tail())

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def api(self, method: str, path: str, body=None, timeout: float = 30.0):
        """Call the REST API; returns the decoded JSON (or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as err:
            raise LabError(f"{method} /{path}: HTTP {err.code}") from err
        return json.loads(raw) if raw else None

    def session_for(self, path: str) -> dict | None:
        """The kernel session of the notebook at ``path`` (relative to the root), if any."""
        for session in self.api("GET", "api/sessions") or []:
            if session.get("path") == path:
                return session
        return None

    def shutdown_kernel_of(self, path: str) -> None:
        """Shut down the kernel of the notebook at ``path`` (no error if there is none)."""
        session = self.session_for(path)
        if session:
            try:
                self.api("DELETE", f"api/sessions/{session['id']}")
            except (OSError, LabError):
                pass

    def stop(self) -> None:
        """Stop the kernels and the server; kill whatever is left of them. Idempotent."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            try:  # polite first: the server shuts its kernels down
                for kernel in self.api("GET", "api/kernels", timeout=5) or []:
                    self.api("DELETE", f"api/kernels/{kernel['id']}", timeout=10)
            except (OSError, LabError):
                pass
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for pid in marked_processes(self.marker):  # kernels run in sessions of their own
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


# ---------------------------------------------------------------------------
# One notebook in the browser
# ---------------------------------------------------------------------------
_CELLS = ".jp-NotebookPanel .jp-Notebook .jp-Cell"

_PROMPT_DONE_JS = r"""
([i, last]) => {
  const cell = document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell')[i];
  const prompt = cell && cell.querySelector('.jp-InputPrompt');
  const m = prompt && /^\[(\d+)\]:$/.exec(prompt.textContent.trim());
  return m && +m[1] > last ? +m[1] : 0;
}
"""

_ACTIVE_INDEX_JS = r"""
() => Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell'))
        .findIndex((c) => c.classList.contains('jp-mod-active'))
"""

_FIGURES_JS = r"""
(cell) => {
  const imgs = Array.from(cell.querySelectorAll('.jp-OutputArea-output img'));
  const canvases = Array.from(cell.querySelectorAll('.jupyter-matplotlib-canvas-div canvas:first-child'));
  return {
    images: imgs.length,
    loaded: imgs.filter((i) => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0).length,
    canvases: canvases.length,
    drawn: canvases.filter((c) => (c.__draws || 0) > 0 && c.width > 0 && c.height > 0).length,
  };
}
"""


class Notebook:
    """A notebook opened in JupyterLab in its own workspace and browser page.

    Parameters
    ----------
    server : LabServer
    context : playwright BrowserContext
        Made by :func:`new_context`.
    path : str
        Notebook path relative to the server root, e.g. ``"source/synapses/05_shunting.ipynb"``.
    """

    def __init__(self, server: LabServer, context, path: str, timeout: float = 120.0):
        self.server = server
        self.path = path
        self.file = server.root / path
        self.model = nbformat.read(self.file, as_version=4)
        self.page = context.new_page()
        self.console_errors: list[str] = []
        self.page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        self.cell_seconds: dict[int, float] = {}
        workspace = f"test-{uuid.uuid4().hex[:12]}"
        self.page.goto(server.url(f"lab/workspaces/{workspace}/tree/{quote(path)}?reset"))
        n = len(self.model.cells)
        try:
            self.page.wait_for_function(
                f"() => document.querySelectorAll('{_CELLS}').length === {n}", timeout=timeout * 1000)
        except Exception as err:
            raise LabError(f"{path}: JupyterLab did not show its {n} cells within {timeout:.0f} s") from err
        self.wait_kernel_idle(timeout)

    # -- kernel ---------------------------------------------------------------
    def wait_kernel_idle(self, timeout: float = 120.0) -> None:
        """Wait until the notebook's kernel runs and is idle (REST API)."""
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            session = self.server.session_for(self.path)
            state = session and session["kernel"].get("execution_state")
            if state == "idle":
                return
            self.page.wait_for_timeout(250)
        raise LabError(f"{self.path}: kernel not idle after {timeout:.0f} s (state {state!r})")

    def close(self) -> None:
        """Close the page and shut the notebook's kernel down."""
        try:
            self.page.close()
        finally:
            self.server.shutdown_kernel_of(self.path)

    # -- cells ----------------------------------------------------------------
    def cells(self):
        return self.page.locator(_CELLS)

    def cell(self, index: int):
        return self.cells().nth(index)

    def active_index(self) -> int:
        return self.page.evaluate(_ACTIVE_INDEX_JS)

    def select(self, index: int) -> None:
        """Make cell ``index`` the active cell, in command mode."""
        cell = self.cell(index)
        cell.scroll_into_view_if_needed()
        prompt = cell.locator(".jp-InputPrompt")
        prompt.click() if prompt.count() else cell.click(position={"x": 5, "y": 5})
        self.page.keyboard.press("Escape")
        if self.active_index() != index:
            raise LabError(f"{self.path}: clicking cell {index} made cell {self.active_index()} active")

    def run_cells(self, indices: Iterable[int] | None = None, timeout: float = 300.0,
                  after_cell: Callable[[int], None] | None = None) -> None:
        """Run cells one by one with Shift+Enter, waiting for each code cell to finish.

        ``indices`` must be consecutive (default: every cell). An error in a
        cell does not stop the next ones: each is run on its own, as a student
        clicking through does. The last cell of the notebook is run with
        Ctrl+Enter so that no empty cell is appended.
        """
        n = len(self.model.cells)
        indices = list(range(n) if indices is None else indices)
        if not indices:
            return
        if indices != list(range(indices[0], indices[0] + len(indices))):
            raise ValueError("run_cells needs consecutive cell indices")
        self.select(indices[0])
        last = self._max_prompt()
        for i in indices:
            active = self.active_index()
            if active != i:
                raise LabError(f"{self.path}: expected cell {i} to be active before running it, "
                               f"but cell {active} is")
            is_code = self.model.cells[i].cell_type == "code"
            start = time.monotonic()
            self.page.keyboard.press("Control+Enter" if i == n - 1 else "Shift+Enter")
            if is_code:
                try:
                    handle = self.page.wait_for_function(_PROMPT_DONE_JS, arg=[i, last],
                                                         timeout=timeout * 1000, polling=50)
                except Exception as err:
                    raise LabError(f"{self.path}: cell {i} did not finish within {timeout:.0f} s") from err
                last = handle.json_value()
                self.cell_seconds[i] = time.monotonic() - start
                if after_cell is not None:
                    after_cell(i)
            if i == n - 1:
                self.page.keyboard.press("Escape")

    def _max_prompt(self) -> int:
        return self.page.evaluate(r"""() => Math.max(0, ...Array.from(
            document.querySelectorAll('.jp-NotebookPanel .jp-InputPrompt'))
            .map((p) => +((/^\[(\d+)\]:$/.exec(p.textContent.trim()) || [0, 0])[1])))""")

    def save(self, timeout: float = 30.0):
        """Save with Ctrl+S; return the saved notebook (nbformat) read from disk."""
        before = self.file.stat().st_mtime_ns
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Control+s")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dirty = self.page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count()
            if self.file.stat().st_mtime_ns != before and not dirty:
                self.page.wait_for_timeout(200)
                return nbformat.read(self.file, as_version=4)
            self.page.wait_for_timeout(100)
        raise LabError(f"{self.path}: Ctrl+S did not save the notebook within {timeout:.0f} s")

    def figures(self, index: int) -> dict:
        """Counts of images (and loaded ones) and ipympl canvases (and drawn ones) in a cell's output."""
        return self.cell(index).evaluate(_FIGURES_JS)

    def output_text(self, index: int) -> str:
        return self.cell(index).locator(".jp-OutputArea").inner_text()

    def screenshot_first_figure(self, path: Path, indices: Iterable[int]) -> Path | None:
        """Screenshot of the first image or drawn canvas among the outputs of cells ``indices``."""
        for i in indices:
            counts = self.figures(i)
            if counts["loaded"]:
                target = self.cell(i).locator(".jp-OutputArea-output img").first
            elif counts["drawn"]:
                target = self.cell(i).locator(".jupyter-matplotlib").first
            else:
                continue
            target.scroll_into_view_if_needed()
            path.parent.mkdir(parents=True, exist_ok=True)
            target.screenshot(path=str(path))
            return path
        return None


# ---------------------------------------------------------------------------
# Saved notebooks: outputs, stubs and dependencies
# ---------------------------------------------------------------------------
def errors_of(cell) -> list[dict]:
    """The error outputs of a saved code cell: ``[{"ename", "evalue"}, ...]``."""
    return [{"ename": o.get("ename", ""), "evalue": o.get("evalue", "")}
            for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def stderr_of(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stderr")


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


_TODO = re.compile(r"^\s*#\s*TODO:\s*(?P<text>.+?)\s*$")
_RAISE = re.compile(r"^\s*raise NotImplementedError\((?P<arg>.*)\)\s*$")


def stub_instruction(source: str) -> tuple[str | None, str | None]:
    """(``# TODO:`` instruction right above the stub's ``raise``, message the stub raises).

    Either is None when missing. The message is the literal argument of
    ``raise NotImplementedError(...)``.
    """
    lines = source.splitlines()
    for k, line in enumerate(lines):
        match = _RAISE.match(line)
        if not match:
            continue
        try:
            message = ast.literal_eval(match.group("arg"))
        except (ValueError, SyntaxError):
            message = None
        previous = next((lines[j] for j in range(k - 1, -1, -1) if lines[j].strip()), "")
        todo = _TODO.match(previous)
        return (todo.group("text") if todo else None), message
    return None, None


def is_stub(cell) -> bool:
    """A student answer cell that still raises NotImplementedError (a released stub)."""
    return (cell.cell_type == "code" and nbgrader_meta(cell).get("solution")
            and "raise NotImplementedError(" in cell.source)


def _strip_magics(source: str) -> str:
    return "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.splitlines())


def parse(source: str) -> ast.Module:
    try:
        return ast.parse(_strip_magics(source))
    except SyntaxError:
        return ast.Module(body=[], type_ignores=[])


def bound_names(source: str) -> set[str]:
    """Names a cell binds at top level (assignments, defs, classes, imports, for targets)."""
    names = set()
    for node in parse(source).body:
        for sub in ast.walk(node):
            if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(sub.name)
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
            elif isinstance(sub, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in sub.names)
    return names


def used_names(source: str) -> set[str]:
    """Every name a cell reads, including inside its functions, and ``checking("name")`` strings."""
    names = set()
    for sub in ast.walk(parse(source)):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
            names.add(sub.id)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value.isidentifier():
            names.add(sub.value)
    return names


def plotting_cells(nb) -> list[int]:
    """Indices of code cells that show a figure when they run.

    A cell shows a figure if it calls ``plt.show()``, ``display(<..._explorer(...)>)``
    or a notebook function that (directly or through another one) calls
    ``plt.show()``, outside function definitions.
    """
    showing: set[str] = set()
    defs = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            for node in ast.walk(parse(cell.source)):
                if isinstance(node, ast.FunctionDef):
                    defs[node.name] = node

    def shows(node, names) -> bool:
        for sub in ast.walk(node):
            if not isinstance(sub, ast.Call):
                continue
            f = sub.func
            if isinstance(f, ast.Attribute) and f.attr == "show" and getattr(f.value, "id", "") == "plt":
                return True
            if isinstance(f, ast.Name) and f.id in names:
                return True
            if isinstance(f, ast.Name) and f.id == "display" and sub.args:
                arg = sub.args[0]
                if isinstance(arg, ast.Call) and getattr(arg.func, "id", "").endswith("_explorer"):
                    return True
        return False

    changed = True
    while changed:
        changed = False
        for name, node in defs.items():
            if name not in showing and shows(node, showing):
                showing.add(name)
                changed = True

    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        top = [n for n in parse(cell.source).body
               if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        if any(shows(n, showing) for n in top):
            found.append(i)
    return found


# ---------------------------------------------------------------------------
# Explorers: sliders, readouts, canvases, latency
# ---------------------------------------------------------------------------
class Slider:
    """One ipywidgets FloatSlider (noUiSlider) in the page."""

    def __init__(self, root):
        self.root = root
        self.handle = root.locator(".noUi-handle").first
        self.track = root.locator(".noUi-base").first

    @property
    def value(self) -> float:
        return float(self.handle.get_attribute("aria-valuenow"))

    @property
    def bounds(self) -> tuple[float, float]:
        return (float(self.handle.get_attribute("aria-valuemin")),
                float(self.handle.get_attribute("aria-valuemax")))

    def press(self, key: str, times: int = 1, pause: float = 0.0) -> None:
        """Focus the handle and press a key (e.g. ArrowRight) ``times`` times."""
        self.root.page.bring_to_front()  # a background tab gets its input events late
        self.handle.focus()
        for _ in range(times):
            self.handle.press(key)
            if pause:
                self.root.page.wait_for_timeout(pause * 1000)

    def drag_to(self, value: float, steps: int = 10, pause: float = 0.03) -> None:
        """Drag the handle with the mouse to ``value`` (snapped by the slider) and release.

        The pointer moves in ``steps`` moves ``pause`` seconds apart, as a hand does.
        """
        page = self.root.page
        page.bring_to_front()  # a background tab gets its input events late
        self.handle.scroll_into_view_if_needed()
        box = self.handle.bounding_box()
        track = self.track.bounding_box()
        lo, hi = self.bounds
        x0, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        x1 = track["x"] + track["width"] * (value - lo) / (hi - lo)
        page.mouse.move(x0, y)
        page.mouse.down()
        for k in range(1, steps + 1):
            page.mouse.move(x0 + (x1 - x0) * k / steps, y)
            if pause:
                page.wait_for_timeout(pause * 1000)
        page.mouse.up()


def slider_by_label(root, label: str) -> Slider:
    """The slider in ``root`` whose label text is ``label`` (e.g. ``"g_e (nS)"``)."""
    sliders = root.locator(".widget-slider").filter(
        has=root.page.locator(".widget-label", has_text=re.compile(rf"^{re.escape(label)}$")))
    if sliders.count() != 1:
        raise LabError(f"expected one slider labelled {label!r}, found {sliders.count()}")
    return Slider(sliders.first)


class LiveExplorer:
    """A course explorer in the page: sliders, an ipympl canvas and the ``course-readout``."""

    def __init__(self, root):
        self.root = root
        self.page = root.page
        self.host = root.locator(".course-readout").first
        self.readout = self.host.locator(".widget-html-content").first
        self.canvas = root.locator(".jupyter-matplotlib-canvas-div canvas").first

    @classmethod
    def in_cell(cls, cell) -> "LiveExplorer":
        readout = cell.locator(".course-readout")
        if readout.count() != 1:
            raise LabError(f"expected one course-readout in the cell, found {readout.count()}")
        return cls(readout.locator("xpath=.."))

    def slider(self, label: str) -> Slider:
        return slider_by_label(self.root, label)

    def text(self) -> str:
        return self.readout.inner_text()

    def draws(self) -> int:
        return self.canvas.evaluate("c => c.__draws || 0")

    def canvas_rgba(self):
        """The canvas pixels as an (height, width, 4) uint8 array."""
        import numpy as np
        from PIL import Image

        url = self.canvas.evaluate("c => c.toDataURL('image/png')")
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGBA")
        return np.asarray(image)

    def wait_drawn(self, timeout: float = 60.0) -> None:
        self.page.wait_for_function("(c) => (c.__draws || 0) > 0", arg=self.canvas.element_handle(),
                                    timeout=timeout * 1000)

    def settle(self, done: Callable[[str], bool], quiet_ms: float = 400.0,
               timeout: float = 30.0) -> float:
        """Wait until ``done(readout text)`` and the canvas is drawn in that state; latency (ms).

        See :func:`_settle`: the latency runs from the last key press or mouse
        release to the draw that follows the final readout.
        """
        return _settle(self.page, self.canvas.element_handle(), self.host.element_handle(), "canvas",
                       lambda: done(self.text()), quiet_ms, timeout)


class InteractBaseline:
    """An ``ipywidgets.interact`` with an inline-image output (the benchmark's baseline)."""

    def __init__(self, root):
        self.root = root
        self.page = root.page
        self.output = root.locator(".widget-output").first

    def slider(self, label: str) -> Slider:
        return slider_by_label(self.root, label)

    def text(self) -> str:
        return self.output.inner_text()

    def settle(self, done: Callable[[str], bool], quiet_ms: float = 400.0,
               timeout: float = 30.0) -> float:
        """As :meth:`LiveExplorer.settle`, with the last image loaded in the output instead of a draw."""
        return _settle(self.page, self.output.element_handle(), self.output.element_handle(), "images",
                       lambda: done(self.text()), quiet_ms, timeout)


_PAINT_STATE_JS = r"""
([paint, text, kind]) => {
  let last = -1, pending = 0;
  if (kind === 'canvas') { last = paint.__lastDraw || -1; }
  else {
    for (const img of paint.querySelectorAll('img')) {
      if (img.complete && img.naturalWidth > 0 && img.__loadedAt) { last = Math.max(last, img.__loadedAt); }
      else { pending++; }
    }
  }
  return {last, pending, changed: text.__changedAt || -1, now: performance.now(), input: window.__lastInput};
}
"""


def _settle(page, paint, text, kind, done, quiet_ms, timeout) -> float:
    """Wait until the figure shows the final state; return the latency (ms) from the last input.

    ``text`` (a readout, or the interact output) must satisfy ``done()``; then,
    for a live canvas, a draw must follow the last change of the readout (the
    draw of the final state), and for images every image must have loaded.
    Nothing may change for ``quiet_ms``. The latency is the time from the last
    key press or mouse release to that final paint (0 if the figure was final
    already when the mouse was released).
    """
    deadline = time.monotonic() + timeout
    state = None
    while time.monotonic() < deadline:
        state = page.evaluate(_PAINT_STATE_JS, [paint, text, kind])
        release = (state["input"] or {}).get("t")
        if kind == "canvas":
            final = state["last"] > state["changed"]
            shown = state["last"]
        else:
            final = state["last"] > 0 and state["pending"] == 0
            shown = max(state["last"], state["changed"])
        if (release is not None and final and state["now"] - max(shown, state["changed"]) >= quiet_ms
                and done()):
            return max(0.0, shown - release)
        page.wait_for_timeout(50)
    raise LabError(f"the figure did not settle within {timeout:.0f} s after the slider moved "
                   f"(state {state})")


def rgba_on_white(rgba):
    """RGB (float) of an RGBA image composited on white (the notebook background)."""
    import numpy as np

    rgba = np.asarray(rgba, dtype=float)
    alpha = rgba[..., 3:] / 255.0
    return rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)


def render_rgba(fig):
    """Draw a matplotlib figure with Agg, as the kernel does; (height, width, 4) uint8."""
    import numpy as np

    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def image_difference(a, b, threshold: float = 8.0) -> int:
    """Number of pixels whose colour differs by more than ``threshold`` (0-255) in any channel.

    Both images are composited on white first; images of different sizes differ everywhere.
    """
    import numpy as np

    if a.shape != b.shape:
        return int(max(a.shape[0] * a.shape[1], b.shape[0] * b.shape[1]))
    delta = np.abs(rgba_on_white(a) - rgba_on_white(b)).max(axis=-1)
    return int(np.count_nonzero(delta > threshold))
