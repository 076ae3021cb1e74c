"""Drive the course's JupyterHub (``deploy/jupyterhub``) for the hub tests and the load benchmark.

A :class:`TestHub` runs ``hubctl.py up`` under a private root (``/srv/synapses-hub-test``
unless ``SYNAPSES_HUB_TEST_ROOT`` says otherwise) on free loopback ports, with
real Linux users, and ``down`` removes them, their processes and the root again.
The two built Python environments are kept in ``/var/cache/synapses-hub-test``
(``SYNAPSES_HUB_TEST_ENVS``) and reused while the pins and the course packages
are unchanged; building them (in parallel) takes about 2 minutes the first time.

Browser helpers log a user in through the hub's login form and click through
JupyterLab's *Nbgrader > Assignment List* panel and the Formgrader pages, the
way a student and an instructor do. Every wait is a Playwright wait.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import requests

import labdriver as ld

REPO = ld.REPO
ARTIFACTS = REPO / "artifacts" / "hub"
HUBCTL_PATH = REPO / "deploy" / "jupyterhub" / "hubctl.py"
TEST_ROOT = Path(os.environ.get("SYNAPSES_HUB_TEST_ROOT", "/srv/synapses-hub-test"))
TEST_ENVS = Path(os.environ.get("SYNAPSES_HUB_TEST_ENVS", "/var/cache/synapses-hub-test/envs"))
ASSIGNMENT = "synapses"
LOAD_ROOT = Path(os.environ.get("SYNAPSES_HUB_LOAD_ROOT", "/srv/synapses-hub-load"))
KNOWN_ROOTS = (TEST_ROOT, LOAD_ROOT)
#: Held while a test hub exists (the test and the load benchmark create the same Linux users).
LOCK = Path("/run/lock/synapses-hub-test.lock")


def load_hubctl():
    spec = importlib.util.spec_from_file_location("hubctl", HUBCTL_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hubctl = load_hubctl()


def in_ci() -> bool:
    """True when the environment says CI (as in the browser suite's conftest)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def cannot_run() -> str | None:
    """Why the hub tests can never run on this machine (skip), or None: not root, no sandbox."""
    if os.geteuid() != 0:
        return "the hub tests create Linux users and run servers as them, which needs root"
    from coursekit.grading import sandbox

    reason = sandbox.unavailable_reason()
    if reason:
        return f"autograding in the hub needs the course's sandbox: {reason}"
    return None


def missing_requirements() -> str | None:
    """Why the hub tests cannot run here (one sentence), or None."""
    reason = cannot_run()
    if reason:
        return reason
    return missing_tools()


def missing_tools() -> str | None:
    """A missing system tool (installable: .ci/run installs them), or None."""
    for tool in ("useradd", "userdel", "runuser", "npm"):
        if not any(Path(d, tool).exists() for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin")):
            return f"{tool} is missing (Debian: passwd, util-linux, npm)"
    if not Path(hubctl.BASE_PYTHON).exists():
        return f"{hubctl.BASE_PYTHON} is missing (apt-get install python3.11-venv)"
    return None


def free_port_block(n: int = 3) -> int:
    """A port p such that p .. p+n-1 are free on 127.0.0.1 (proxy, hub, proxy API)."""
    for _ in range(200):
        base = ld.free_port()
        if base + n >= 65535:
            continue
        ok = True
        for port in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no block of free ports")


class TestHub:
    """A hub under a private root; ``start()``/``stop()`` wrap ``hubctl up``/``down``."""

    __test__ = False  # not a pytest class

    def __init__(self, root: Path = TEST_ROOT, envs: Path = TEST_ENVS, students: int = 2):
        self.hub = hubctl.Hub(root, envs)
        self.n_students = students
        self.students = [f"syn-student{i}" for i in range(1, students + 1)]
        self.instructor = hubctl.INSTRUCTOR
        self.session = requests.Session()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "TestHub":
        # One test hub at a time on this machine (the user names are global): other runs wait here.
        import fcntl

        LOCK.parent.mkdir(parents=True, exist_ok=True)
        self._lock = open(LOCK, "w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        for root in KNOWN_ROOTS:  # a previous run that was killed: clean up first
            if (root / "state.json").exists():
                hubctl.down(hubctl.Hub(root, self.hub.envs), keep_envs=True)
        self.port = free_port_block()
        hubctl.up(self.hub, port=self.port, n_students=self.n_students)
        self.url = self.hub.url
        self.passwords = self.hub.passwords()
        self.token = self.hub.settings["service_token"]
        return self

    def stop(self) -> None:
        try:
            hubctl.down(self.hub, keep_envs=True)
        finally:
            if getattr(self, "_lock", None) is not None:
                self._lock.close()
                self._lock = None

    def restart(self) -> None:
        hubctl.stop_hub(self.hub)
        hubctl.start_hub(self.hub)

    # ------------------------------------------------------------ REST
    def api(self, method: str, path: str, timeout: float = 60, **kwargs):
        response = self.session.request(method, f"{self.url}/hub/api{path}", timeout=timeout,
                                        headers={"Authorization": f"token {self.token}"}, **kwargs)
        return response

    def server(self, user: str, method: str, path: str, timeout: float = 120, **kwargs):
        """A request to ``user``'s server through the proxy, with the course service's token."""
        return self.session.request(method, f"{self.url}/user/{user}/{path.lstrip('/')}", timeout=timeout,
                                    headers={"Authorization": f"token {self.token}"}, **kwargs)

    def user_model(self, user: str) -> dict:
        response = self.api("GET", f"/users/{user}")
        response.raise_for_status()
        return response.json()

    def start_server(self, user: str, timeout: float = 240) -> float:
        """Start ``user``'s server through the REST API; return the seconds until it answers."""
        start = time.monotonic()
        response = self.api("POST", f"/users/{user}/server")
        assert response.status_code in (201, 202, 400), response.text  # 400: already running
        self.wait_ready(user, timeout)
        return time.monotonic() - start

    def wait_ready(self, user: str, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.user_model(user)
            server = model.get("servers", {}).get("", {})
            if server.get("ready"):
                return
            time.sleep(0.5)
        raise TimeoutError(f"{user}'s server not ready after {timeout:.0f} s:\n{hubctl.tail(self.hub.log)}")

    def stop_server(self, user: str, timeout: float = 120) -> None:
        response = self.api("DELETE", f"/users/{user}/server")
        assert response.status_code in (202, 204, 400), response.text
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.user_model(user).get("servers"):
                return
            time.sleep(0.5)
        raise TimeoutError(f"{user}'s server did not stop within {timeout:.0f} s")

    # ------------------------------------------------------------ as a Linux user
    def as_user(self, user: str, argv: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(["runuser", "-u", user, "--", *map(str, argv)], capture_output=True, text=True,
                              **kwargs)

    def can_read(self, user: str, path: Path) -> bool:
        return self.as_user(user, ["cat", path]).returncode == 0

    def instructor_python(self, code: str, timeout: float = 120) -> str:
        """Run Python as the instructor in the course folder, with the instructor environment."""
        python = self.hub.envs / "instructor" / "bin" / "python"
        env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(self.hub.home(self.instructor)),
               "SYNAPSES_EXCHANGE": str(self.hub.exchange),
               "JUPYTER_CONFIG_PATH": str(self.hub.etc / "instructor")}
        proc = subprocess.run(["runuser", "-u", self.instructor, "--", "env", *[f"{k}={v}" for k, v in env.items()],
                               python, "-c", code], capture_output=True, text=True, cwd=self.hub.course,
                              timeout=timeout)
        assert proc.returncode == 0, f"instructor python failed:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    def nbgrader(self, *args: str, timeout: float = 300) -> str:
        return self.instructor_python(
            "import sys; from nbgrader.apps.nbgraderapp import main; sys.argv = ['nbgrader', *%r]; main()" % (list(args),),
            timeout=timeout)

    def gradebook(self) -> dict:
        """Every submission of the assignment: {student: {score, max_score, late_penalty, timestamp, notebooks}}."""
        out = self.instructor_python(f"""
import json
from nbgrader.api import Gradebook
from traitlets.config import Config
db = 'sqlite:///' + {str(self.hub.course / 'gradebook.db')!r}
rows = {{}}
with Gradebook(db) as gb:
    a = gb.find_assignment({ASSIGNMENT!r})
    for s in a.submissions:
        rows[s.student.id] = dict(score=s.score, max_score=s.max_score, late_penalty=s.late_submission_penalty,
            timestamp=str(s.timestamp), duedate=str(a.duedate),
            notebooks={{n.name: dict(score=n.score, max_score=n.max_score, late_penalty=n.late_submission_penalty,
                                     needs_manual_grade=n.needs_manual_grade) for n in s.notebooks}})
print(json.dumps(rows))
""")
        return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------- browser
class Shots:
    """Numbered screenshots in ``artifacts/hub/``."""

    def __init__(self, folder: Path = ARTIFACTS):
        self.folder = folder
        self.n = 0
        self.paths: list[Path] = []

    def take(self, page, name: str, full_page: bool = False) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}_{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        self.paths.append(path)
        ld.RECORD.artifact(f"hub: {name}", path)
        return path


def login(browser, hub: TestHub, user: str, password: str | None = None, timeout: float = 240):
    """A new browser context and page, logged in as ``user``, with JupyterLab loaded."""
    context = ld.new_context(browser, blocked=ld.RECORD.blocked)
    page = context.new_page()
    page.set_default_timeout(timeout * 1000)
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", password if password is not None else hub.passwords[user])
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf".*/user/{re.escape(user)}/lab.*"), timeout=timeout * 1000)
    wait_lab(page)
    return context, page


def wait_lab(page) -> None:
    page.wait_for_selector(".jp-LabShell")
    page.wait_for_selector("#jp-main-dock-panel")
    page.wait_for_timeout(500)


def open_assignment_list(page) -> None:
    """Nbgrader > Assignment List (JupyterLab's menu), and wait until the lists are loaded."""
    if not page.locator("#released_assignments_list").is_visible():
        page.click("li.lm-MenuBar-item:has-text('Nbgrader')")
        page.click(".lm-Menu-item:has-text('Assignment List')")
    page.wait_for_selector("#released_assignments_list")
    wait_lists_loaded(page)


def wait_lists_loaded(page, timeout: float = 120) -> None:
    for name in ("released", "fetched", "submitted"):
        page.wait_for_selector(f"#{name}_assignments_list_loading", state="hidden", timeout=timeout * 1000)


def refresh_assignment_list(page) -> None:
    page.click("#refresh_assignments_list")
    page.wait_for_timeout(500)
    wait_lists_loaded(page)


def click_in_list(page, list_id: str, button: str, timeout: float = 180) -> None:
    """Click ``button`` in the row of the assignment in ``#<list_id>``."""
    page.locator(f"#{list_id}").get_by_role("button", name=button, exact=True).first.click()
    page.wait_for_timeout(500)
    wait_lists_loaded(page, timeout)


# ---------------------------------------------------------------- formgrader
def formgrader(page, hub: TestHub, path: str = "manage_assignments") -> None:
    page.goto(f"{hub.url}/user/{hub.instructor}/formgrader/{path}")
    page.wait_for_selector("#main-table")
    page.wait_for_function("() => !document.querySelector('#main-table').innerText.includes('Loading, please wait')")


def formgrader_action(page, cell_selector: str, timeout: float = 600) -> str:
    """Click the link in a Formgrader table cell; wait for nbgrader's success/error modal; return its text."""
    page.click(f"{cell_selector} a")
    modal = page.locator("#success-modal, #error-modal").first
    modal.wait_for(state="visible", timeout=timeout * 1000)
    page.wait_for_timeout(300)
    text = modal.inner_text()
    global _MODALS
    _MODALS += 1
    log = ARTIFACTS / f"formgrader_log_{_MODALS:02d}.txt"
    log.write_text(text)
    return text


_MODALS = 0


def close_modal(page) -> None:
    page.locator(".modal.in .close, .modal.show .close").first.click()
    page.wait_for_selector("#success-modal, #error-modal", state="detached", timeout=30000)
