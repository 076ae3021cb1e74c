"""Start and stop the course's JupyterHub on one machine: ``make hub`` / ``make hub-down``.

    python deploy/jupyterhub/hubctl.py up   [--root /srv/synapses-hub] [--port 8765] [--students 2]
    python deploy/jupyterhub/hubctl.py down [--root /srv/synapses-hub] [--keep-envs]
    python deploy/jupyterhub/hubctl.py status

Run as root from the course's venv (``.venv/bin/python``; the hub runs from it).
``up`` creates, and records in ``<root>/state.json``:

* **Linux users** (``useradd``): one instructor (``syn-instructor``, primary group
  ``syn-staff``) and students ``syn-student1``... with random passwords, printed
  once and kept in ``<root>/users.json`` (root only). Homes live under
  ``<root>/home``; a student's home is ``0750 <student>:syn-staff``, so only that
  student and the instructor can read it.
* **Two Python environments**, built from ``/usr/bin/python3.11`` (readable by
  every user; the course's ``.venv`` may sit on a Python under ``/root``):
  ``envs/student`` from ``dist/student-env/requirements.txt`` (``make
  student-env``: release notebooks' run-time, JupyterLab, nbgrader's student
  extensions, the answer-free ``helpers`` wheel) plus ``jupyterhub`` for
  ``jupyterhub-singleuser``; nbgrader's Formgrader, course list and
  create-assignment extensions are disabled in it. ``envs/instructor``: the
  full lock file and the course package (non-editable, with ``coursekit`` and
  the references), mode ``0750 root:syn-staff`` so students cannot read the answers.
  They are reused while the pins and the course packages are unchanged.
* **The course** in the instructor's home, ``~syn-instructor/synapses-course``:
  ``source/synapses`` and ``nbgrader_config.py`` from this repository; its gradebook
  is ``gradebook.db`` there. Formgrader runs in the instructor's own server
  (nbgrader's "one class, one grader" JupyterHub set-up).
* **The exchange** ``<root>/exchange`` (``0777``, nbgrader's documented
  permissions); students use a submit step that leaves their submission readable by
  them and ``syn-staff`` only (``etc/student/nbgrader_config.py``).
* **JupyterHub** on ``http://127.0.0.1:<port>`` (loopback only), its proxy from
  ``deploy/jupyterhub/node_modules`` (``npm ci``), its database and cookie secret
  in ``<root>/hub``; the hub's pid in ``state.json``.

``down`` stops the hub, its proxy and every process of the created users (by
pid, found by uid), deletes those users, their group and ``<root>`` (``--keep-envs``
keeps ``<root>/envs``, which the tests reuse as a cache).
"""

from __future__ import annotations

import argparse
import grp
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_ROOT = Path(os.environ.get("SYNAPSES_HUB_ROOT", "/srv/synapses-hub"))
DEFAULT_PORT = int(os.environ.get("SYNAPSES_HUB_PORT", "8765"))
BASE_PYTHON = os.environ.get("SYNAPSES_HUB_PYTHON", "/usr/bin/python3.11")
STAFF_GROUP = "syn-staff"
INSTRUCTOR = "syn-instructor"
COURSE_ID = "synapses-course"
COURSE_DIR_NAME = "synapses-course"
PROXY = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
#: nbgrader extensions students do not get (nbgrader docs, "Installation": disable per audience).
STUDENT_DISABLED_SERVER = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")
STUDENT_DISABLED_LAB = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                        "@jupyter/nbgrader:create-assignment")


def say(message: str) -> None:
    print(f"[hub] {message}", flush=True)


def run(cmd, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("check", True)
    return subprocess.run([str(c) for c in cmd], **kwargs)


def hub_pin() -> str:
    """``jupyterhub==X`` from pyproject's ``hub`` extra (the same pin as the lock file)."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (pin,) = [p for p in project["optional-dependencies"]["hub"] if p.startswith("jupyterhub==")]
    return pin


# --------------------------------------------------------------------------- state
class Hub:
    """The paths and recorded state of one hub under ``root``."""

    def __init__(self, root: Path = DEFAULT_ROOT, envs: Path | None = None):
        self.root = Path(root)
        self.envs = Path(envs) if envs else self.root / "envs"
        self.state_file = self.root / "state.json"
        self.users_file = self.root / "users.json"
        self.config_file = self.root / "hub.json"
        self.exchange = self.root / "exchange"
        self.homes = self.root / "home"
        self.hubdir = self.root / "hub"
        self.etc = self.root / "etc"
        self.log = self.root / "hub.log"

    # state.json: what this hub created (so that down removes exactly that)
    def state(self) -> dict:
        if self.state_file.exists():
            return json.loads(self.state_file.read_text())
        return {"users": [], "groups": [], "pids": {}}

    def save_state(self, state: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(state, indent=2))
        os.chmod(self.state_file, 0o600)

    def passwords(self) -> dict[str, str]:
        return json.loads(self.users_file.read_text()) if self.users_file.exists() else {}

    @property
    def settings(self) -> dict:
        return json.loads(self.config_file.read_text())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings['port']}"

    def home(self, user: str) -> Path:
        return self.homes / user

    @property
    def course(self) -> Path:
        return self.home(INSTRUCTOR) / COURSE_DIR_NAME


# --------------------------------------------------------------------------- users
def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def hash_password(password: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(16)
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1).hex()
    return f"scrypt${salt}${digest}"


def create_users(hub: Hub, students: list[str], instructor: str | None = INSTRUCTOR) -> dict[str, str]:
    """Create the Linux users (and the staff group); return {user: password} of the new ones."""
    state = hub.state()
    hub.homes.mkdir(parents=True, exist_ok=True)
    os.chmod(hub.homes, 0o755)
    if not group_exists(STAFF_GROUP):
        run(["groupadd", STAFF_GROUP])
        state["groups"].append(STAFF_GROUP)
        hub.save_state(state)
    staff_gid = grp.getgrnam(STAFF_GROUP).gr_gid
    created = {}
    for name in ([instructor] if instructor else []) + list(students):
        if user_exists(name):
            if name in state["users"]:
                continue
            raise SystemExit(f"user {name} exists but was not created by this hub ({hub.state_file}); "
                             "remove it or choose another --root")
        home = hub.home(name)
        if name == instructor:
            run(["useradd", "--create-home", "--home-dir", home, "--shell", "/bin/bash",
                 "--gid", STAFF_GROUP, "--no-user-group", name])
        else:
            run(["useradd", "--create-home", "--home-dir", home, "--shell", "/bin/bash", "--user-group", name])
        state["users"].append(name)
        hub.save_state(state)
        # the student and the instructor (staff group) only; the instructor's home: staff only
        os.chown(home, pwd.getpwnam(name).pw_uid, staff_gid)
        os.chmod(home, 0o750)
        created[name] = secrets.token_urlsafe(12)
    passwords = hub.passwords()
    passwords.update(created)
    hub.users_file.write_text(json.dumps(passwords, indent=2))
    os.chmod(hub.users_file, 0o600)
    return created


def processes_of(uids: set[int]) -> list[int]:
    import psutil

    out = []
    for proc in psutil.process_iter(["pid", "uids"]):
        try:
            if proc.info["uids"] and proc.info["uids"].real in uids:
                out.append(proc.info["pid"])
        except psutil.Error:
            pass
    return out


def kill_pids(pids, grace: float = 5.0) -> None:
    import psutil

    procs = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            proc.terminate()
            procs.append(proc)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=grace)


def remove_users(hub: Hub, names: list[str] | None = None) -> None:
    """Kill every process of the hub's users (by pid), then ``userdel`` them (and the group if all go)."""
    state = hub.state()
    names = list(state["users"]) if names is None else [n for n in names if n in state["users"]]
    uids = {pwd.getpwnam(n).pw_uid for n in names if user_exists(n)}
    for _ in range(3):
        pids = processes_of(uids)
        if not pids:
            break
        kill_pids(pids)
    for name in names:
        if user_exists(name):
            run(["userdel", "--force", name], check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(hub.home(name), ignore_errors=True)
        state["users"].remove(name)
        hub.save_state(state)
    if not state["users"]:
        for group in list(state["groups"]):
            if group_exists(group):
                run(["groupdel", group], check=False)
            state["groups"].remove(group)
        hub.save_state(state)


# --------------------------------------------------------------------------- environments
def _tree_hash(h, folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            h.update(str(path.relative_to(folder)).encode())
            h.update(path.read_bytes())


def env_key(kind: str) -> str:
    h = hashlib.sha256(kind.encode())
    for name in ("requirements.txt", "pyproject.toml"):
        h.update((REPO / name).read_bytes())
    _tree_hash(h, REPO / "helpers")
    if kind == "instructor":
        _tree_hash(h, REPO / "coursekit")
    h.update(BASE_PYTHON.encode())
    return h.hexdigest()


def _pip(venv: Path, *args, cwd: Path | None = None) -> None:
    run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
        cwd=cwd)


def build_envs(hub: Hub) -> None:
    """The student and instructor environments (rebuilt only when their key changes)."""
    if not Path(BASE_PYTHON).exists():
        raise SystemExit(f"{BASE_PYTHON} is missing: the users' servers need a Python 3.11 every user can run "
                         "(apt-get install python3.11-venv), or set SYNAPSES_HUB_PYTHON")
    hub.envs.mkdir(parents=True, exist_ok=True)
    os.chmod(hub.envs, 0o755)
    # both at once: pip spends much of its time waiting for downloads and disk
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(_build_env, hub, kind) for kind in ("student", "instructor")]:
            future.result()
    _env_permissions(hub)


def _build_env(hub: Hub, kind: str) -> None:
    """Build one environment (``student`` or ``instructor``) unless its stamp matches."""
    venv = hub.envs / kind
    stamp = venv / ".synapses-env"
    key = env_key(kind)
    if stamp.exists() and stamp.read_text() == key:
        say(f"{kind} environment up to date: {venv}")
        return
    start = time.monotonic()
    say(f"building the {kind} environment in {venv} (a few minutes the first time) ...")
    shutil.rmtree(venv, ignore_errors=True)
    run([BASE_PYTHON, "-m", "venv", venv])
    if kind == "instructor":  # staff only from the start: it will hold the answers
        os.chown(venv, 0, grp.getgrnam(STAFF_GROUP).gr_gid)
        os.chmod(venv, 0o750)
    if kind == "student":
        student_env = REPO / "dist" / "student-env"
        run([sys.executable, "-m", "coursekit", "student-env", "--out", student_env], cwd=REPO,
            stdout=subprocess.DEVNULL)
        _pip(venv, "-r", "requirements.txt", hub_pin(), cwd=student_env)
        jupyter = venv / "bin" / "jupyter"
        for ext in STUDENT_DISABLED_SERVER:
            run([jupyter, "server", "extension", "disable", "--sys-prefix", ext],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for ext in STUDENT_DISABLED_LAB:
            run([jupyter, "labextension", "disable", "--level=sys_prefix", ext],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(venv, 0o755)
    else:
        with_wheel = hub.envs / "wheels"
        shutil.rmtree(with_wheel, ignore_errors=True)
        run([venv / "bin" / "python", "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", with_wheel, REPO],
            stdout=subprocess.DEVNULL)
        (wheel,) = with_wheel.glob("synapses_course-*.whl")
        _pip(venv, "-r", REPO / "requirements.txt", wheel)
        shutil.rmtree(with_wheel, ignore_errors=True)
    stamp.write_text(key)
    say(f"{kind} environment built in {time.monotonic() - start:.0f} s")


def _env_permissions(hub: Hub) -> None:
    # the answers (helpers.references, coursekit) are for staff only; the group may be new (a reused env)
    os.chown(hub.envs / "instructor", 0, grp.getgrnam(STAFF_GROUP).gr_gid)
    os.chmod(hub.envs / "instructor", 0o750)
    os.chmod(hub.envs / "student", 0o755)
    for kind in ("student", "instructor"):
        settings = hub.envs / kind / "share" / "jupyter" / "lab" / "settings"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "overrides.json").write_text(json.dumps(LAB_OVERRIDES, indent=2))


def install_proxy() -> None:
    if PROXY.exists():
        return
    if shutil.which("npm") is None:
        raise SystemExit("npm is missing: apt-get install nodejs npm (the proxy comes from npm)")
    say("installing configurable-http-proxy (pinned in deploy/jupyterhub/package-lock.json) ...")
    run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=HERE)


# --------------------------------------------------------------------------- course and exchange
STUDENT_NBGRADER_CONFIG = '''"""nbgrader configuration of every student server (written by deploy/jupyterhub/hubctl.py)."""
import os
from nbgrader.exchange.default.submit import ExchangeSubmit

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
c.Exchange.root = {exchange!r}


class PrivateSubmit(ExchangeSubmit):
    """nbgrader's submit, then the submission readable by its student and the staff group only.

    nbgrader 0.9.6 leaves a submission world-readable (files 0644, its folder 0777), hidden only by an
    unguessable folder name. The inbound folder is setgid and owned by the instructor's group
    (syn-staff), so the submission's group is syn-staff: 0640 files and 2770 folders let the
    instructor collect and delete it, and nobody else read it.
    """

    def do_copy(self, src, dest):
        if os.path.dirname(os.path.normpath(dest)) != os.path.normpath(self.inbound_path):
            return super().do_copy(src, dest)
        # copytree ends with copystat on each new folder, which sets the student's folder mode and so
        # drops the setgid bit inherited from inbound: timestamp.txt, written next, would then get the
        # student's own group and be unreadable for the instructor. Folders keep their inherited mode.
        import shutil
        copystat = shutil.copystat

        def files_only(s, d, *, follow_symlinks=True):
            if not os.path.isdir(d):
                copystat(s, d, follow_symlinks=follow_symlinks)

        shutil.copystat = files_only
        try:
            return super().do_copy(src, dest)
        finally:
            shutil.copystat = copystat

    def copy_files(self):
        super().copy_files()
        dest = os.path.join(self.inbound_path, self.assignment_filename)
        for folder, dirs, files in os.walk(dest):
            os.chmod(folder, 0o2770)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o640)


c.ExchangeFactory.submit = PrivateSubmit
'''

INSTRUCTOR_NBGRADER_CONFIG = '''"""nbgrader configuration of the instructor's server (written by deploy/jupyterhub/hubctl.py)."""
c = get_config()  # noqa: F821
# the course's own configuration (sqlite gradebook, trusted grading, feedback without hidden tests)
load_subconfig({course_config!r})  # noqa: F821
c.CourseDirectory.root = {course!r}
c.Exchange.root = {exchange!r}

# Late submissions (nbgrader's LateSubmissionPlugin): one point per started hour late, per notebook,
# never below zero; the due date is set in Formgrader (Manage Assignments > edit) or with
# `nbgrader db assignment add synapses --duedate=...`.
import math  # noqa: E402
from nbgrader.plugins import LateSubmissionPlugin  # noqa: E402


class OnePointPerStartedHour(LateSubmissionPlugin):
    def late_submission_penalty(self, student_id, score, total_seconds_late):
        return min(score, math.ceil(total_seconds_late / 3600))


c.AssignLatePenalties.plugin_class = OnePointPerStartedHour
'''

#: JupyterLab settings of both environments: no news or update checks (nothing leaves the machine,
#: no pop-up covers the notebook).
LAB_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def set_up_course(hub: Hub) -> None:
    """The exchange, the instructor's course folder and the nbgrader configs of both audiences."""
    hub.exchange.mkdir(parents=True, exist_ok=True)
    os.chmod(hub.exchange, 0o777)  # nbgrader docs: "chmod ugo+rw" on the exchange root
    instructor = pwd.getpwnam(INSTRUCTOR)
    course = hub.course
    if not course.exists():
        (course / "source").mkdir(parents=True)
        shutil.copytree(REPO / "source" / "synapses", course / "source" / "synapses",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        shutil.copy2(REPO / "nbgrader_config.py", course / "nbgrader_config.py")
        for path in [course, *course.rglob("*")]:
            os.chown(path, instructor.pw_uid, instructor.pw_gid)
    for audience, text in (
        ("student", STUDENT_NBGRADER_CONFIG.format(course_id=COURSE_ID, exchange=str(hub.exchange))),
        ("instructor", INSTRUCTOR_NBGRADER_CONFIG.format(course_config=str(course / "nbgrader_config.py"),
                                                         course=str(course), exchange=str(hub.exchange))),
    ):
        folder = hub.etc / audience
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "nbgrader_config.py").write_text(text)
        if audience == "instructor":
            # the server's Content-Security-Policy and Formgrader's sanitize_html, as `make lab` has them: the
            # instructor's server is where other people's work is shown (students' servers show their own)
            shutil.copy2(REPO / "deploy" / "lab" / "jupyter_server_config.py", folder / "jupyter_server_config.py")
    os.chmod(hub.etc, 0o755)
    os.chmod(hub.etc / "student", 0o755)
    os.chown(hub.etc / "instructor", 0, grp.getgrnam(STAFF_GROUP).gr_gid)
    os.chmod(hub.etc / "instructor", 0o750)


# --------------------------------------------------------------------------- the hub process
def write_hub_config(hub: Hub, port: int, students: list[str]) -> None:
    passwords = hub.passwords()
    state = hub.state()
    settings = {
        "port": port,
        "root": str(hub.root),
        "hubdir": str(hub.hubdir),
        "proxy": str(PROXY),
        "instructor": INSTRUCTOR,
        "students": students,
        "password_hashes": {u: hash_password(p) for u, p in passwords.items() if u in state["users"]},
        "envs": {"student": str(hub.envs / "student"), "instructor": str(hub.envs / "instructor")},
        "homes": str(hub.homes),
        "course": str(hub.course),
        "exchange": str(hub.exchange),
        "etc": str(hub.etc),
        "service_token": state.setdefault("service_token", secrets.token_hex(32)),
    }
    hub.save_state(state)
    hub.config_file.write_text(json.dumps(settings, indent=2))
    os.chmod(hub.config_file, 0o600)


def hub_alive(hub: Hub) -> int | None:
    pid = hub.state().get("pids", {}).get("hub")
    if not pid:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def start_hub(hub: Hub, timeout: float = 120.0) -> int:
    """Start JupyterHub (from this venv) in the background; wait until it answers; return its pid."""
    if (pid := hub_alive(hub)) is not None:
        return pid
    hub.hubdir.mkdir(parents=True, exist_ok=True)
    os.chmod(hub.hubdir, 0o700)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "JUPYTER_PATH",
                                                             "JUPYTER_CONFIG_DIR", "JUPYTER_CONFIG_PATH")}
    env["SYNAPSES_HUB_CONFIG"] = str(hub.config_file)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), str(PROXY.parent), env.get("PATH", "")])
    log = open(hub.log, "ab")
    proc = subprocess.Popen([Path(sys.executable).parent / "jupyterhub", "-f", HERE / "jupyterhub_config.py"],
                            cwd=hub.hubdir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    state = hub.state()
    state.setdefault("pids", {})["hub"] = proc.pid
    hub.save_state(state)
    deadline = time.monotonic() + timeout
    url = hub.url + "/hub/health"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"JupyterHub exited with {proc.returncode}; see {hub.log}:\n{tail(hub.log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return proc.pid
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"JupyterHub did not answer on {url} within {timeout:.0f} s; see {hub.log}:\n{tail(hub.log)}")


def stop_hub(hub: Hub, timeout: float = 30.0) -> None:
    """Stop the hub (SIGTERM: it stops its proxy; user servers keep running, cleanup_servers=False)."""
    import psutil

    pid = hub_alive(hub)
    if pid is not None:
        try:
            proc = psutil.Process(pid)
            children = proc.children(recursive=True)
            proc.terminate()
            gone, alive = psutil.wait_procs([proc], timeout=timeout)
            for p in alive:
                p.kill()
            # the proxy (the hub's child) must not outlive it; user servers are not its children
            proxies = [c for c in children if c.is_running() and "configurable-http-proxy" in " ".join(c.cmdline())]
            kill_pids([p.pid for p in proxies])
        except psutil.Error:
            pass
    # a proxy left behind by a hub that was killed (SIGKILL): JupyterHub records its pid
    proxy_pid = hub.hubdir / "jupyterhub-proxy.pid"
    try:
        pid = int(proxy_pid.read_text().strip())
        if "configurable-http-proxy" in " ".join(psutil.Process(pid).cmdline()):
            kill_pids([pid])
    except (OSError, ValueError, psutil.Error):
        pass
    state = hub.state()
    state.get("pids", {}).pop("hub", None)
    hub.save_state(state)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- commands
def up(hub: Hub, port: int = DEFAULT_PORT, n_students: int = 2, build: bool = True) -> None:
    if os.geteuid() != 0:
        raise SystemExit("run as root: the hub creates Linux users and starts their servers")
    start = time.monotonic()
    students = [f"syn-student{i}" for i in range(1, n_students + 1)]
    hub.root.mkdir(parents=True, exist_ok=True)
    os.chmod(hub.root, 0o755)
    install_proxy()
    create_users(hub, students)
    if build:
        build_envs(hub)
    set_up_course(hub)
    write_hub_config(hub, port, students)
    pid = start_hub(hub)
    say(f"JupyterHub is up (pid {pid}) after {time.monotonic() - start:.0f} s; log: {hub.log}")
    print_login(hub)


def print_login(hub: Hub) -> None:
    passwords = hub.passwords()
    settings = hub.settings
    print(f"\n  URL: {hub.url}/  (loopback only; from another machine: ssh -L "
          f"{settings['port']}:127.0.0.1:{settings['port']} this-host)")
    print("  test users (user / password):")
    for user in [settings["instructor"], *settings["students"]]:
        role = "instructor: Formgrader under Nbgrader > Formgrader" if user == settings["instructor"] \
            else "student: Nbgrader > Assignments"
        print(f"    {user:16s} {passwords.get(user, '?'):18s} {role}")
    print(f"  passwords are also in {hub.users_file} (root only)")
    print(f"  stop and remove everything: make hub-down  (python deploy/jupyterhub/hubctl.py down --root {hub.root})\n")


def down(hub: Hub, keep_envs: bool = False) -> None:
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    if not hub.state_file.exists():
        say(f"nothing to stop: no {hub.state_file}")
        return
    url = None
    try:
        url = hub.url
    except (OSError, KeyError, ValueError):
        pass
    users = list(hub.state().get("users", []))
    stop_hub(hub)
    remove_users(hub)
    for child in hub.root.iterdir() if hub.root.exists() else []:
        if keep_envs and child == hub.envs:
            continue
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    if not keep_envs and hub.envs.exists():
        shutil.rmtree(hub.envs, ignore_errors=True)
    try:
        hub.root.rmdir()
    except OSError:
        pass
    say(f"stopped the hub{f' at {url}' if url else ''}; removed its users ({', '.join(users) or 'none'}), "
        f"their processes and {hub.root}" + (f" (kept {hub.envs})" if keep_envs else ""))


def status(hub: Hub) -> None:
    if not hub.state_file.exists():
        print(f"no hub under {hub.root}")
        return
    pid = hub_alive(hub)
    print(f"hub: {'running, pid %d' % pid if pid else 'not running'}; users: {', '.join(hub.state()['users'])}")
    if pid:
        print_login(hub)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "restart"])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="everything the hub creates (default %(default)s)")
    parser.add_argument("--envs", type=Path, default=None, help="where the two environments live (default ROOT/envs)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--students", type=int, default=2)
    parser.add_argument("--keep-envs", action="store_true", help="down: keep the built environments")
    args = parser.parse_args(argv)
    hub = Hub(args.root, args.envs)
    if args.command == "up":
        up(hub, args.port, args.students)
    elif args.command == "down":
        down(hub, args.keep_envs)
    elif args.command == "restart":
        stop_hub(hub)
        start_hub(hub)
        print_login(hub)
    else:
        status(hub)


if __name__ == "__main__":
    main()
