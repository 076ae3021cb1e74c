"""deploy/lab/jupyter_server_config.py: the instructor server's Content-Security-Policy and sanitize_html.

Loaded as Jupyter loads it (traitlets' PyFileConfigLoader). That the policy stops a beacon and does not
break Formgrader is shown in Chromium (tests/browser/test_inert_views.py).
"""

from pathlib import Path

from traitlets.config import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[1]


def _policy():
    config = PyFileConfigLoader("jupyter_server_config.py", path=str(REPO / "deploy" / "lab")).load_config()
    header = config.ServerApp.tornado_settings["headers"]["Content-Security-Policy"]
    return config, {d.split()[0]: d.split()[1:] for d in header.split("; ")}


def test_nothing_is_loaded_from_or_sent_to_another_origin():
    _, policy = _policy()
    assert policy["default-src"] == ["'self'"]
    for directive in ("img-src", "connect-src", "frame-src", "media-src", "form-action", "base-uri"):
        assert all(s in ("'self'", "data:", "blob:") for s in policy[directive]), directive
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'self'"]
    # scripts: the server's own, inline (Formgrader's templates), evaluated and blob: (JupyterLab shows no
    # notebook without them: tests/browser/test_lab_notebooks.py) and MathJax's CDN only; no other origin
    assert set(policy["script-src"]) == {"'self'", "'unsafe-inline'", "'unsafe-eval'", "blob:",
                                         "https://cdnjs.cloudflare.com"}


def test_formgrader_and_feedback_exporters_sanitize_html():
    config, _ = _policy()
    assert config.HTMLExporter.sanitize_html is True
    course = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    assert course.HTMLExporter.sanitize_html is True


def test_make_lab_and_the_hub_use_this_file():
    assert "deploy/lab" in (REPO / "Makefile").read_text()
    assert '"deploy" / "lab" / "jupyter_server_config.py"' in (REPO / "deploy" / "jupyterhub" / "hubctl.py").read_text()
