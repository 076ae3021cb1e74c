"""JupyterHub configuration of the synapses course (JupyterHub 6.1, LocalProcessSpawner).

Started by ``deploy/jupyterhub/hubctl.py up`` (``make hub``), which writes the
settings this file reads (``SYNAPSES_HUB_CONFIG``, ``<root>/hub.json``, root only):
port, users and their password hashes, the two environments, the course and the
exchange.

* **Loopback only**: the proxy listens on 127.0.0.1, the hub API and every user
  server too. The password authenticator below is for this test set-up; for a real
  class use PAM (``c.JupyterHub.authenticator_class = "pam"``, the users' system
  passwords, with the hub behind TLS) or OAuth (``oauthenticator``, e.g.
  ``GitHubOAuthenticator`` / ``GenericOAuthenticator`` against the university's
  identity provider); see ``deploy/README.md``.
* **Spawner**: ``LocalProcessSpawner``; each user's server runs as that Linux user.
  Students run ``jupyterhub-singleuser`` from the *student environment* (no
  ``source/``, no answers, no Formgrader); the instructor from the instructor
  environment, with Formgrader over ``~/synapses-course`` (nbgrader's "one class, one
  grader" set-up). Each server gets nbgrader's configuration through
  ``JUPYTER_CONFIG_PATH`` (``<root>/etc/{student,instructor}``), so nothing is
  written to ``/etc/jupyter``.
* **Restarts lose nothing**: the hub database, cookie secret and proxy token live
  in ``<root>/hub``; ``cleanup_servers = False`` keeps user servers (and their
  running kernels) alive while the hub restarts, and the new hub finds them again.
"""

import hmac
import hashlib
import ipaddress
import json
import os
from urllib.parse import urlsplit

from jupyterhub.auth import Authenticator
from traitlets import Dict

c = get_config()  # noqa: F821

SETTINGS = json.loads(open(os.environ["SYNAPSES_HUB_CONFIG"]).read())
PORT = SETTINGS["port"]
HUBDIR = SETTINGS["hubdir"]
INSTRUCTOR = SETTINGS["instructor"]


class CoursePasswordAuthenticator(Authenticator):
    """Per-user passwords (scrypt hashes written by hubctl.py); refuses to run unless the hub is on loopback.

    For tests and a demo on one machine only: see the module docstring for production.
    """

    password_hashes = Dict(help="user -> 'scrypt$salt$hex'").tag(config=True)

    async def authenticate(self, handler, data):
        user = (data or {}).get("username", "")
        password = (data or {}).get("password", "")
        stored = self.password_hashes.get(user)
        if not stored:
            return None
        _, salt, digest = stored.split("$")
        given = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1).hex()
        return user if hmac.compare_digest(given, digest) else None


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


c.JupyterHub.bind_url = f"http://127.0.0.1:{PORT}"
assert _loopback(c.JupyterHub.bind_url), "the test authenticator is for loopback only"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = PORT + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.command = [SETTINGS["proxy"]]
c.ConfigurableHTTPProxy.auth_token = hashlib.sha256(
    ("proxy:" + SETTINGS["service_token"]).encode()).hexdigest()
c.JupyterHub.db_url = "sqlite:///" + os.path.join(HUBDIR, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(HUBDIR, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(HUBDIR, "jupyterhub.pid")
c.JupyterHub.cleanup_servers = False
c.JupyterHub.authenticator_class = CoursePasswordAuthenticator
c.CoursePasswordAuthenticator.password_hashes = SETTINGS["password_hashes"]
c.Authenticator.allowed_users = set(SETTINGS["password_hashes"])
c.Authenticator.admin_users = {INSTRUCTOR}
# The load test and the lifecycle test drive the hub through its REST API with this service's token.
c.JupyterHub.services = [{"name": "synapses-course", "api_token": SETTINGS["service_token"]}]
c.JupyterHub.load_roles = [{
    "name": "synapses-course",
    "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "read:hub"],
    "services": ["synapses-course"],
}]

# ---------------------------------------------------------------- spawner
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.ip = "127.0.0.1"
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180     # a loaded 2-core machine, twenty students at once
c.Spawner.http_timeout = 180
c.Spawner.env_keep = ["LANG", "LC_ALL", "TZ"]
c.LocalProcessSpawner.shell_cmd = []


def pre_spawn_hook(spawner):
    user = spawner.user.name
    audience = "instructor" if user == INSTRUCTOR else "student"
    venv = SETTINGS["envs"][audience]
    home = os.path.join(SETTINGS["homes"], user)
    spawner.cmd = [os.path.join(venv, "bin", "jupyterhub-singleuser")]
    spawner.notebook_dir = home
    spawner.environment.update({
        "PATH": os.pathsep.join([os.path.join(venv, "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        "JUPYTER_CONFIG_PATH": os.path.join(SETTINGS["etc"], audience),
        "MPLBACKEND": "Agg",
        "SYNAPSES_EXCHANGE": SETTINGS["exchange"],
    })


c.Spawner.pre_spawn_hook = pre_spawn_hook
