"""Jupyter server configuration of the instructor's JupyterLab with Formgrader (``make lab``, the hub).

``make lab`` and the browser tests (tests/browser/labdriver.py) put this folder on
``JUPYTER_CONFIG_PATH``; ``deploy/jupyterhub/hubctl.py`` copies this file into the
instructor's (and the students') server configuration. Defence in depth behind the
sanitized autograded notebooks (coursekit/preprocessors/sanitize.py), which are
the defence that counts:

* Formgrader renders a submission with nbconvert's ``HTMLExporter``: ``sanitize_html``
  makes it clean HTML outputs itself (``nbgrader_config.py`` does the same for
  ``generate_feedback``).
* A Content-Security-Policy on every page of the server (Formgrader's included):
  nothing is loaded from or sent to another origin (no beacon, no exfiltration by
  image, fetch, CSS, form or frame), no plugin, no ``<base>`` rewrite, and no other
  site may frame the pages. Formgrader's templates use inline scripts, so
  ``'unsafe-inline'`` stays for scripts, and JupyterLab evaluates code it builds
  (``'unsafe-eval'``, ``blob:``; without them it never shows a notebook's cells): a
  script injected into the page itself is stopped by the sanitizer, not by this header. MathJax comes from cdnjs (nbconvert's
  default URL), the one other origin allowed for scripts, styles and fonts.
"""

c = get_config()  # noqa: F821

#: nbconvert's default MathJax (``HTMLExporter.mathjax_url``) is on cdnjs.
MATHJAX_ORIGIN = "https://cdnjs.cloudflare.com"
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    f"script-src 'self' 'unsafe-inline' 'unsafe-eval' blob: {MATHJAX_ORIGIN}",
    f"style-src 'self' 'unsafe-inline' {MATHJAX_ORIGIN}",
    f"font-src 'self' data: {MATHJAX_ORIGIN}",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "media-src 'self' data: blob:",
    "frame-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])

c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": CONTENT_SECURITY_POLICY}}
c.HTMLExporter.sanitize_html = True
