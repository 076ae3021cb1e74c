"""The hub's configuration (deploy/jupyterhub/jupyterhub_config.py) and hubctl's pieces, without a hub.

Fast and unprivileged: the config file is loaded the way JupyterHub loads it
(traitlets' PyFileConfigLoader) with the settings ``hubctl.py`` would write; the
authenticator is called, and the spawn hook is applied to stand-in spawners.
The running hub is tested in ``tests/browser/test_hub_lifecycle.py``.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("jupyterhub")
from traitlets.config import PyFileConfigLoader  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HUB_DIR = REPO / "deploy" / "jupyterhub"


def _hubctl():
    spec = importlib.util.spec_from_file_location("hubctl_under_test", HUB_DIR / "hubctl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hubctl = _hubctl()


@pytest.fixture
def loaded(tmp_path, monkeypatch):
    """(config, namespace of the config file) for a hub with one instructor and two students."""
    settings = {
        "port": 18000, "root": str(tmp_path), "hubdir": str(tmp_path / "hub"), "proxy": "/bin/true",
        "instructor": "syn-instructor", "students": ["syn-student1", "syn-student2"],
        "password_hashes": {"syn-instructor": hubctl.hash_password("teach"),
                            "syn-student1": hubctl.hash_password("learn")},
        "envs": {"student": str(tmp_path / "envs/student"), "instructor": str(tmp_path / "envs/instructor")},
        "homes": str(tmp_path / "home"), "course": str(tmp_path / "home/syn-instructor/synapses-course"),
        "exchange": str(tmp_path / "exchange"), "etc": str(tmp_path / "etc"), "service_token": "x" * 64,
    }
    (tmp_path / "hub.json").write_text(json.dumps(settings))
    monkeypatch.setenv("SYNAPSES_HUB_CONFIG", str(tmp_path / "hub.json"))
    loader = PyFileConfigLoader("jupyterhub_config.py", path=str(HUB_DIR))
    config = loader.load_config()
    return config, settings


def test_everything_listens_on_loopback(loaded):
    config, settings = loaded
    assert config.JupyterHub.bind_url == "http://127.0.0.1:18000"
    assert config.JupyterHub.hub_ip == "127.0.0.1"
    assert config.Spawner.ip == "127.0.0.1"
    assert config.ConfigurableHTTPProxy.api_url.startswith("http://127.0.0.1:")
    assert config.JupyterHub.cleanup_servers is False, "a hub restart must keep the users' servers"
    assert config.JupyterHub.db_url.startswith("sqlite:///" + settings["hubdir"])


def test_password_authenticator(loaded):
    config, _ = loaded
    cls = config.JupyterHub.authenticator_class
    auth = cls(config=config)

    def check(user, password):
        # a thread of its own: Playwright's sync API (browser tests in the same session) keeps a loop running here
        coro = auth.authenticate(None, {"username": user, "password": password})
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coro).result()

    assert check("syn-student1", "learn") == "syn-student1"
    assert check("syn-instructor", "teach") == "syn-instructor"
    assert check("syn-student1", "teach") is None, "another user's password was accepted"
    assert check("syn-student1", "") is None
    assert check("syn-student2", "learn") is None, "a user without a password hash logged in"
    assert check("root", "learn") is None
    assert config.Authenticator.admin_users == {"syn-instructor"}


def test_each_audience_spawns_from_its_environment(loaded):
    config, settings = loaded
    hook = config.Spawner.pre_spawn_hook
    for user, audience in (("syn-student1", "student"), ("syn-instructor", "instructor")):
        spawner = types.SimpleNamespace(user=types.SimpleNamespace(name=user), environment={})
        hook(spawner)
        assert spawner.cmd == [f"{settings['envs'][audience]}/bin/jupyterhub-singleuser"]
        assert spawner.environment["JUPYTER_CONFIG_PATH"] == f"{settings['etc']}/{audience}"
        assert spawner.environment["PATH"].split(":")[0] == f"{settings['envs'][audience]}/bin"
        assert spawner.notebook_dir == f"{settings['homes']}/{user}"


def test_password_hashes_are_salted():
    a, b = hubctl.hash_password("same"), hubctl.hash_password("same")
    assert a != b and a.startswith("scrypt$")
    salt = a.split("$")[1]
    assert hubctl.hash_password("same", salt) == a


def test_nbgrader_configs_of_both_audiences_load(tmp_path):
    """The students' private submit step and the instructor's late penalty are valid nbgrader config."""
    from nbgrader.exchange.default.submit import ExchangeSubmit
    from nbgrader.plugins import LateSubmissionPlugin

    course = tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text((REPO / "nbgrader_config.py").read_text())
    student = tmp_path / "student"
    student.mkdir()
    (student / "nbgrader_config.py").write_text(
        hubctl.STUDENT_NBGRADER_CONFIG.format(course_id="synapses-course", exchange=str(tmp_path / "x")))
    config = PyFileConfigLoader("nbgrader_config.py", path=str(student)).load_config()
    assert config.CourseDirectory.course_id == "synapses-course"
    assert issubclass(config.ExchangeFactory.submit, ExchangeSubmit)
    instructor = tmp_path / "instructor"
    instructor.mkdir()
    (instructor / "nbgrader_config.py").write_text(hubctl.INSTRUCTOR_NBGRADER_CONFIG.format(
        course_config=str(course / "nbgrader_config.py"), course=str(course), exchange=str(tmp_path / "x")))
    config = PyFileConfigLoader("nbgrader_config.py", path=str(instructor)).load_config()
    assert config.CourseDirectory.root == str(course)
    plugin = config.AssignLatePenalties.plugin_class
    assert issubclass(plugin, LateSubmissionPlugin)
    penalty = plugin().late_submission_penalty
    assert penalty("s", 6.0, 10) == 1 and penalty("s", 6.0, 3601) == 2 and penalty("s", 0.0, 7200) == 0
