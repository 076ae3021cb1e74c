"""Load test of the course's JupyterHub: 20 simulated students at once, on loopback, bounded and self-stopping.

``hubctl up`` starts the hub of ``deploy/jupyterhub`` with 20 real Linux
students (``syn-student1`` ... ``syn-student20``) under a private root; the
instructor generates and releases ``synapses`` with nbgrader. Then every
student, each in a thread of their own and all at the same moment:

1. **logs in** through the hub's login form (``POST /hub/login`` with the
   ``_xsrf`` of the form, a real password check);
2. **starts a server** through the hub's REST API (``POST /hub/api/users/<u>/server``)
   and waits until the hub reports it ready;
3. **fetches** the assignment through nbgrader's server extension
   (``POST /user/<u>/assignments/fetch``);
4. pastes the model answers into ``04_saturation.ipynb`` (contents API) and
   **validates** it (``POST /user/<u>/assignments/validate``: nbgrader runs the
   notebook in the student's server);
5. **submits** (``POST /user/<u>/assignments/submit``).

A sampler thread reads the resident memory of the hub process and of its proxy
every 0.5 s, and of all student servers with their kernels. Every request has a
timeout and the whole run a deadline (``DEADLINE`` s, default 900); afterwards,
and on any error, ``hubctl down`` removes the users, their processes and the
root. Needs root and the course's sandbox (like the hub tests); elsewhere
``run()`` reports why it skipped.

Figures: the time until all 20 have submitted (and the slowest and median
student), the time per phase, the peak memory of the hub (+ proxy) and of the
student servers, and ``served_per_minute_ratio`` (students served per minute).
Run it alone: ``.venv/bin/python benchmarks/bench_hub.py`` (prints JSON).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))

STUDENTS = int(os.environ.get("SYNAPSES_HUB_LOAD_STUDENTS", "20"))
DEADLINE = float(os.environ.get("SYNAPSES_HUB_LOAD_DEADLINE", "900"))
NOTEBOOK = "04_saturation.ipynb"
REQUEST_TIMEOUT = 300


class Sampler(threading.Thread):
    """Peak resident memory (MiB) of the hub (+ proxy) and of the students' processes."""

    def __init__(self, hub_pid: int, student_uids: set[int]):
        super().__init__(daemon=True)
        self.hub_pid = hub_pid
        self.uids = student_uids
        self.stop_event = threading.Event()
        self.hub_peak = self.hub_start = self.hub_end = 0.0
        self.students_peak = 0.0
        self.samples = 0

    def measure(self) -> tuple[float, float]:
        import psutil

        hub = 0
        try:
            proc = psutil.Process(self.hub_pid)
            hub = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(recursive=True)
                                               if c.uids().real == 0)
        except psutil.Error:
            pass
        students = 0
        for proc in psutil.process_iter(["uids", "memory_info"]):
            try:
                if proc.info["uids"] and proc.info["uids"].real in self.uids:
                    students += proc.info["memory_info"].rss
            except (psutil.Error, TypeError):
                pass
        return hub / 2**20, students / 2**20

    def run(self):
        self.hub_start, _ = self.measure()
        while not self.stop_event.is_set():
            hub, students = self.measure()
            self.hub_peak = max(self.hub_peak, hub)
            self.students_peak = max(self.students_peak, students)
            self.hub_end = hub
            self.samples += 1
            self.stop_event.wait(0.5)

    def stop(self):
        self.stop_event.set()
        self.join(10)


def _login(hub, user: str) -> float:
    import requests

    start = time.monotonic()
    session = requests.Session()
    page = session.get(f"{hub.url}/hub/login", timeout=REQUEST_TIMEOUT)
    page.raise_for_status()
    m = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text)
    data = {"username": user, "password": hub.passwords[user]}
    if m:
        data["_xsrf"] = m.group(1)
    response = session.post(f"{hub.url}/hub/login", data=data, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    assert response.status_code == 302, f"{user}: login answered {response.status_code}"
    assert any(c.name.startswith("jupyterhub-") for c in session.cookies), f"{user}: no hub cookie after login"
    return time.monotonic() - start


def _student(hub, user: str, filled, deadline: float) -> dict:
    timings = {}
    t0 = time.monotonic()
    timings["login"] = _login(hub, user)
    if time.monotonic() > deadline:
        raise TimeoutError("deadline")
    timings["spawn"] = hub.start_server(user, timeout=max(10.0, deadline - time.monotonic()))
    body = {"course_id": "synapses-course", "assignment_id": "synapses"}
    t = time.monotonic()
    response = hub.server(user, "POST", "assignments/fetch", json=body, timeout=REQUEST_TIMEOUT)
    assert response.status_code == 200 and response.json().get("success"), \
        f"{user}: fetch {response.status_code} {response.text[:300]}"
    timings["fetch"] = time.monotonic() - t
    t = time.monotonic()
    response = hub.server(user, "PUT", f"api/contents/synapses/{NOTEBOOK}", timeout=REQUEST_TIMEOUT,
                          json={"type": "notebook", "format": "json", "content": filled})
    assert response.status_code == 200, f"{user}: save {response.status_code}"
    response = hub.server(user, "POST", "assignments/validate", json={"path": f"synapses/{NOTEBOOK}"},
                          timeout=REQUEST_TIMEOUT)
    assert response.status_code == 200, f"{user}: validate {response.status_code}"
    result = response.json()
    assert result.get("success"), f"{user}: validate failed: {str(result)[:500]}"
    value = result["value"] if isinstance(result["value"], dict) else json.loads(result["value"])
    passed = not any(value.get(k) for k in ("failed", "changed", "type_changed"))
    timings["validate"] = time.monotonic() - t
    t = time.monotonic()
    response = hub.server(user, "POST", "assignments/submit", json=body, timeout=REQUEST_TIMEOUT)
    assert response.status_code == 200 and response.json().get("success"), f"{user}: submit {response.text[:300]}"
    timings["submit"] = time.monotonic() - t
    timings["total"] = time.monotonic() - t0
    timings["validate_passed"] = passed
    return timings


def run() -> dict:
    import hubdriver as hd

    reason = hd.missing_requirements()
    if reason:
        return {"skipped": reason}
    import nbformat
    from coursekit.classes.edits import _fill_answers

    figures: dict = {"students": STUDENTS}
    hub = hd.TestHub(root=hd.LOAD_ROOT, students=STUDENTS)
    t_setup = time.monotonic()
    try:
        hub.start()
        figures["setup_s"] = round(time.monotonic() - t_setup, 1)
        hub.nbgrader("generate_assignment", "synapses", "--force")
        hub.nbgrader("release_assignment", "synapses", "--force")
        release = hub.hub.course / "release" / "synapses" / NOTEBOOK
        filled = nbformat.read(release, as_version=4)
        _fill_answers(filled, nbformat.read(REPO / "source" / "synapses" / NOTEBOOK, as_version=4), "solution", [])
        uids = {hd.hubctl.pwd.getpwnam(u).pw_uid for u in hub.students}
        sampler = Sampler(hd.hubctl.hub_alive(hub.hub), uids)
        sampler.start()
        load = os.getloadavg()[0]
        start = time.monotonic()
        deadline = start + DEADLINE
        results, errors = {}, {}
        with ThreadPoolExecutor(max_workers=STUDENTS) as pool:
            futures = {pool.submit(_student, hub, user, filled, deadline): user for user in hub.students}
            done, pending = wait(futures, timeout=DEADLINE + 30)
            for future in pending:
                future.cancel()
            for future in done:
                user = futures[future]
                try:
                    results[user] = future.result()
                except Exception as exc:  # noqa: BLE001
                    errors[user] = f"{type(exc).__name__}: {exc}"[:300]
            for future in pending:
                errors[futures[future]] = f"not done after the {DEADLINE:.0f} s deadline"
        wall = time.monotonic() - start
        sampler.stop()
        inbound = hub.hub.exchange / "synapses-course" / "inbound"
        submitted = {p.name.split("+")[0] for p in inbound.iterdir()} if inbound.exists() else set()
        totals = sorted(r["total"] for r in results.values())
        figures.update({
            "served": len(results),
            "submissions_in_exchange": len(submitted & set(hub.students)),
            "errors": errors,
            "validate_passed": sum(bool(r["validate_passed"]) for r in results.values()),
            "time_to_serve_all_s": round(wall, 1),
            "slowest_student_s": round(totals[-1], 1) if totals else None,
            "median_student_s": round(statistics.median(totals), 1) if totals else None,
            **{f"median_{k}_s": round(statistics.median(r[k] for r in results.values()), 2)
               for k in ("login", "spawn", "fetch", "validate", "submit") if results},
            **{f"max_{k}_s": round(max(r[k] for r in results.values()), 2)
               for k in ("login", "spawn", "fetch", "validate", "submit") if results},
            "hub_memory_start_mib": round(sampler.hub_start, 1),
            "hub_memory_peak_mib": round(sampler.hub_peak, 1),
            "hub_memory_end_mib": round(sampler.hub_end, 1),
            "student_servers_memory_peak_mib": round(sampler.students_peak, 1),
            "memory_samples": sampler.samples,
            "load_avg_1min_before": round(load, 2),
            "load_avg_1min_after": round(os.getloadavg()[0], 2),
            "served_per_minute_ratio": round(len(results) / (wall / 60), 2),
        })
        return figures
    finally:
        t = time.monotonic()
        hub.stop()
        figures["teardown_s"] = round(time.monotonic() - t, 1)
        figures["users_left"] = [u for u in [hub.instructor, *hub.students] if hd.hubctl.user_exists(u)]


def main() -> int:
    figures = run()
    print(json.dumps(figures, indent=2))
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "hub.json").write_text(json.dumps(figures, indent=2))
    return 0 if not figures.get("errors") and not figures.get("users_left") else 1


if __name__ == "__main__":
    raise SystemExit(main())
