"""coursekit/preprocessors/sanitize.py: every student-controlled output and written answer renders inert.

An attack list (each vector carries the marker ``PWNED`` in its script or the beacon address
``10.6.6.6`` in the request it would make) goes through the sanitizer, and then through nbconvert's
``HTMLExporter`` with ``sanitize_html`` OFF (the worst view). An independent oracle, a parse of the
resulting HTML, looks for anything active that carries a marker: a script element, an event handler,
a ``javascript:``/``data:`` URL, a ``style``, a ``srcset``, a remote source, a form, a frame, ``<base>``,
``<meta>``. The same oracle finds every vector in the unsanitized page (positive control), and the
legitimate content (text, a PNG figure, a traceback, a written answer with emphasis, lists, code and
maths) survives (negative controls).
"""

import base64
from collections import Counter
import html.parser
import re
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output, new_raw_cell

from coursekit.preprocessors.sanitize import (SanitizeStudentContent, clean_html, clean_latex, clean_markdown,
                                              clean_outputs)

BEACON = "10.6.6.6"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()

#: (name, HTML) — each would run PWNED() or reach the beacon if rendered as is.
HTML_ATTACKS = [
    ("script", "<script>PWNED()</script>"),
    ("img onerror", '<img src=x onerror="PWNED()">'),
    ("svg onload", "<svg onload=PWNED()><circle r=5 /></svg>"),
    ("svg script", "<svg><script>PWNED()</script></svg>"),
    ("a javascript:", '<a href="javascript:PWNED()">click</a>'),
    ("a javascript: entities", '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:PWNED()">x</a>'),
    ("a javascript: tab", '<a href="java\tscript:PWNED()">x</a>'),
    ("iframe", f'<iframe src="http://{BEACON}/frame"></iframe>'),
    ("iframe srcdoc", '<iframe srcdoc="<script>PWNED()</script>"></iframe>'),
    ("meta refresh", f'<meta http-equiv="refresh" content="0;url=http://{BEACON}/meta">'),
    ("style tag", f"<style>body {{ background: url(http://{BEACON}/css) }} .PWNED {{}}</style>"),
    ("style import", f'<style>@import "http://{BEACON}/import.css";</style>'),
    ("style position", f'<div style="position:fixed;top:0;left:0;width:100%;height:100%;background:url(http://{BEACON}/bg)">PWNED overlay</div>'),
    ("class overlay", '<div class="modal-backdrop PWNED">overlay</div>'),
    ("form", f'<form action="http://{BEACON}/form"><input name=PWNED><button>go</button></form>'),
    ("base", f'<base href="http://{BEACON}/">'),
    ("link stylesheet", f'<link rel=stylesheet href="http://{BEACON}/link.css">'),
    ("data:text/html", '<a href="data:text/html,<script>PWNED()</script>">x</a>'),
    ("object data", '<object data="data:text/html,<script>PWNED()</script>"></object>'),
    ("embed", f'<embed src="http://{BEACON}/embed">'),
    ("img remote", f'<img src="http://{BEACON}/img.png">'),
    ("img srcset", f'<img srcset="http://{BEACON}/srcset.png 1x">'),
    ("picture source", f'<picture><source srcset="http://{BEACON}/source.png"><img></picture>'),
    ("video poster", f'<video poster="http://{BEACON}/poster.png" onloadstart=PWNED()></video>'),
    ("math href", '<math><mtext><a href="javascript:PWNED()">m</a></mtext></math>'),
    ("math mglyph", "<math><mtext><table><mglyph><style><img src=x onerror=PWNED()></style></mglyph></table></mtext></math>"),
    ("noscript mxss", '<noscript><p title="</noscript><img src=x onerror=PWNED()>">'),
    ("details ontoggle", "<details open ontoggle=PWNED()>x</details>"),
    ("body onload", "<body onload=PWNED()>"),
    ("input autofocus", "<input autofocus onfocus=PWNED()>"),
    ("template", "<template><script>PWNED()</script></template>"),
    ("id clobbering", '<img name="PWNED" id="xsrf_token">'),
    ("mathjax href", r"$\href{javascript:PWNED()}{click}$"),
    ("mathjax style", rf"$\style{{background:url(http://{BEACON}/mj)}}{{x}}$"),
    ("mathjax require", r"$\require{PWNED}$"),
]

#: Markdown-only vectors (written answers and text/markdown outputs).
MARKDOWN_ATTACKS = HTML_ATTACKS + [
    ("md link javascript:", "[click me](javascript:PWNED())"),
    ("md image remote", f"![figure](http://{BEACON}/md.png)"),
    ("md autolink javascript", "<javascript:PWNED()>"),
    ("md image data html", "![x](data:text/html;base64,PHNjcmlwdD5QV05FRCgpPC9zY3JpcHQ+)"),
    ("md reference link", "[x][r]\n\n[r]: javascript:PWNED()"),
    ("md html block", "<div>\n\n<img src=x onerror=PWNED()>\n\n</div>"),
    ("md inline html", "Some *text* <span onmouseover=PWNED()>hover</span>"),
    ("md mermaid", "```mermaid\ngraph TD\nA-->B\nclick A href \"javascript:PWNED()\"\n```"),
]


class _Active(html.parser.HTMLParser):
    """The oracle: active constructs in rendered HTML that carry a marker (PWNED or the beacon)."""

    URL_ATTRS = {"href", "src", "action", "formaction", "data", "poster", "background", "xlink:href", "srcdoc",
                 "content", "srcset"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self._stack = [], []

    @staticmethod
    def _marked(text):
        return "PWNED" in text or BEACON in text

    def handle_starttag(self, tag, attrs):
        self._stack.append(tag)
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}>")
            elif name == "style" and self._marked(value) or name == "style" and "position" in value:
                self.found.append(f"<{tag} style>")
            elif name in self.URL_ATTRS and (self._marked(value) or re.match(r"\s*(javascript|data:text)", value, re.I)):
                self.found.append(f"<{tag} {name}={value[:30]}>")
            elif name in {"class", "id", "name"} and (self._marked(value) or value in {"modal-backdrop", "xsrf_token", "mermaid"}):
                self.found.append(f"<{tag} {name}={value}>")
        if tag in {"iframe", "object", "embed", "form", "base", "meta", "link", "svg", "math", "input",
                   "button", "video", "source", "picture", "noscript", "template", "body"}:
            self.found.append(f"<{tag}>")

    def handle_endtag(self, tag):
        if tag in self._stack:
            while self._stack.pop() != tag:
                pass

    def handle_data(self, data):
        if self._stack and self._stack[-1] in {"script", "style"} and self._marked(data):
            self.found.append(f"<{self._stack[-1]}> with a marker")
        if "$" in data and re.search(r"\\(href|style|require|url|unicode|class|cssId|bbox)\b", data):
            self.found.append("MathJax active command")


def active(html_text):
    parser = _Active()
    parser.feed(html_text)
    parser.close()
    return parser.found


# ------------------------------------------------------------------ positive control: the oracle sees them
@pytest.mark.parametrize("name,payload", MARKDOWN_ATTACKS, ids=[n for n, _ in MARKDOWN_ATTACKS])
def test_oracle_finds_each_vector_unsanitized(name, payload):
    """Rendered as nbconvert renders Markdown (raw HTML passes), each vector is active."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    assert active(markdown2html_mistune(payload)), name


# ------------------------------------------------------------------ the attack list, cleaned
@pytest.mark.parametrize("name,payload", HTML_ATTACKS, ids=[n for n, _ in HTML_ATTACKS])
def test_html_output_attacks_are_inert(name, payload):
    assert active(clean_html(payload)) == [], name


@pytest.mark.parametrize("name,payload", MARKDOWN_ATTACKS, ids=[n for n, _ in MARKDOWN_ATTACKS])
def test_markdown_attacks_are_inert(name, payload):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    cleaned, changed = clean_markdown(payload)
    assert changed, name
    # what a view renders from the cleaned source (raw HTML passes there), and cleaning again changes nothing
    assert active(markdown2html_mistune(cleaned)) == [], name
    assert clean_markdown(cleaned) == (cleaned, False)


def test_no_blank_line_lets_markdown_parse_the_cleaned_html_again():
    cleaned, changed = clean_markdown("<b onclick=x()>a</b>\n\n```\nline 1\n\n[x](javascript:PWNED())\n```")
    assert changed and not re.search(r"\n[ \t]*\n", cleaned)
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    assert active(markdown2html_mistune(cleaned)) == []
    assert "[x](javascript:PWNED())" in cleaned  # shown as the code it is, inside <pre>


# ------------------------------------------------------------------ negative controls: what a grader needs
LEGIT_MARKDOWN = (
    "The **NMDA** synapse is *slow*: $\\tau_{decay} = 60$ ms and $g < g_{max}$.\n\n"
    "- AMPA decays in `2 ms`\n- GABA_B in 200 ms\n\n1. first\n2. second\n\n"
    "```python\nx = 1\n\ny = 2\n```\n\n> a quote\n\n$$B(u) = \\frac{1}{1 + [Mg]/3.57}$$\n\n"
    "| synapse | tau |\n|---|---|\n| AMPA | 2 |\n\nSee [Jahr and Stevens](https://doi.org/10.1523/JNEUROSCI.10-09-03178.1990)."
)


def test_legitimate_written_answer_is_kept_as_written():
    """Emphasis, lists, code, maths, tables, a quote: nothing active, so the student's Markdown stays."""
    text = LEGIT_MARKDOWN.replace("See [Jahr and Stevens](https://doi.org/10.1523/JNEUROSCI.10-09-03178.1990).",
                                  "")
    assert clean_markdown(text) == (text, False)
    assert clean_markdown("YOUR ANSWER HERE") == ("YOUR ANSWER HERE", False)


def test_cleaned_answer_keeps_its_words_and_formatting():
    cleaned, changed = clean_markdown(LEGIT_MARKDOWN + "\n\n<img src=x onerror=PWNED()>")
    assert changed
    for kept in ("<strong>NMDA</strong>", "<em>slow</em>", "<li>AMPA decays in <code>2 ms</code></li>",
                 "\\tau_{decay} = 60", "<blockquote>", "<table>", "B(u) = \\frac{1}{1 + [Mg]/3.57}",
                 'href="https://doi.org/10.1523/JNEUROSCI.10-09-03178.1990"', 'rel="noopener noreferrer nofollow"'):
        assert kept in cleaned, kept
    assert "onerror" not in cleaned


def test_html_output_keeps_tables_and_inline_png():
    table = "<table><thead><tr><th>g (nS)</th></tr></thead><tbody><tr><td>1.0</td></tr></tbody></table>"
    assert clean_html(table) == table
    img = f'<img src="data:image/png;base64,{PNG}" alt="EPSP">'
    assert f'src="data:image/png;base64,{PNG}"' in clean_html(img)
    assert "src" not in clean_html('<img src="data:image/svg+xml;base64,PHN2Zz4=">')


def test_clean_latex_disarms_only_active_commands():
    assert clean_latex(r"$\frac{a}{b} \exp(-t/\tau)$") == r"$\frac{a}{b} \exp(-t/\tau)$"
    assert "\\href" not in clean_latex(r"$\href{javascript:x}{y}$")


# ------------------------------------------------------------------ outputs
def _display(data, metadata=None, kind="display_data"):
    out = new_output(kind, data=data, metadata=metadata or {})
    if kind == "execute_result":
        out.execution_count = 3
    return out


def test_outputs_keep_text_png_traceback_and_drop_active_types():
    outputs = [
        new_output("stream", name="stdout", text="peak 1.0 nS\n"),
        _display({"image/png": PNG, "text/plain": "<Figure>"}, {"image/png": {"width": 640, "height": 480}}),
        new_output("error", ename="ValueError", evalue="g < 0", traceback=["\x1b[31mValueError\x1b[0m: g < 0"]),
        _display({"application/javascript": "PWNED()", "text/plain": "<IPython.core.display.Javascript>"}),
        _display({"image/svg+xml": "<svg onload=PWNED()></svg>"}),
        _display({"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "FloatSlider"}),
        _display({"text/x-unknown": "<script>PWNED()</script>"}),
        _display({"image/png": 'x" onerror="PWNED()'}),
        _display({"image/png": PNG}, {"image/png": {"width": "1 onerror=PWNED()"}, "isolated": True}),
        _display({"text/html": "<b onclick=PWNED()>bold</b>"}, kind="execute_result"),
    ]
    from coursekit.answers import misconceptions
    marker = misconceptions.marker_output("exp-plus", "check")
    outputs.append(_display({**marker["data"], "text/html": "<script>PWNED()</script>"}))
    clean, notes = clean_outputs(outputs)
    assert clean[-1] == marker
    assert clean[0] == outputs[0] and clean[2] == outputs[2]
    assert clean[1].data == {"image/png": PNG, "text/plain": "<Figure>"}
    assert clean[1].metadata == {"image/png": {"width": 640, "height": 480}}
    assert clean[3].data == {"text/plain": "<IPython.core.display.Javascript>"}
    assert clean[4].data["text/plain"].startswith("[output removed by the course's sanitizer: image/svg+xml")
    assert clean[5].data == {"text/plain": "FloatSlider"}
    assert "text/x-unknown" not in clean[6].data
    assert "image/png" not in clean[7].data
    assert clean[8].data == {"image/png": PNG} and clean[8].metadata == {}
    assert clean[9].data == {"text/html": "<b>bold</b>"} and clean[9].execution_count == 3
    assert any("application/javascript" in n for n in notes)


# ------------------------------------------------------------------ the preprocessor, end to end through HTMLExporter
def _hostile_notebook():
    cells = [new_markdown_cell(payload) for _, payload in MARKDOWN_ATTACKS]
    cells.append(new_markdown_cell(LEGIT_MARKDOWN))
    cells[-1].metadata["nbgrader"] = {"solution": True, "grade": True, "grade_id": "discussion", "points": 2,
                                      "locked": False, "schema_version": 3}
    cells.append(new_raw_cell("<script>PWNED()</script>", metadata={"raw_mimetype": "text/html"}))
    code = new_code_cell("plot()")
    code.outputs = [_display({"text/html": payload}) for _, payload in HTML_ATTACKS]
    code.outputs += [_display({"text/markdown": payload}) for _, payload in MARKDOWN_ATTACKS]
    code.outputs += [_display({"application/javascript": "PWNED()"}),
                     _display({"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" onload="PWNED()"/>'}),
                     _display({"image/png": PNG, "text/plain": "<Figure size 640x480>"}),
                     new_output("stream", name="stdout", text="EPSP peak 0.505 mV\n")]
    code.metadata["tags"] = ['x" onmouseover="alert(1)']
    cells.append(code)
    att = new_markdown_cell("![fig](attachment:fig.png) ![bad](attachment:bad.svg)")
    att.attachments = {"fig.png": {"image/png": PNG},
                       "bad.svg": {"image/svg+xml": "<svg onload=PWNED()></svg>"}}
    cells.append(att)
    nb = new_notebook(cells=cells)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"PWNED": {}}}}
    return nb


def _export(nb):
    exporter = HTMLExporter(template_name="lab")  # sanitize_html off: nbconvert's default
    body, _ = exporter.from_notebook_node(nb)
    return body


def test_unsanitized_notebook_is_active_in_nbconvert():
    """Positive control: without the preprocessor the exported page carries live payloads."""
    found = active(_export(_hostile_notebook()))
    assert len(found) > len(MARKDOWN_ATTACKS)


def test_sanitized_notebook_exports_inert_and_keeps_the_grader_content():
    nb = _hostile_notebook()
    nb.cells.append(new_markdown_cell("![gone](attachment:missing.png) would make nbconvert's views fail"))
    nb, _ = SanitizeStudentContent().preprocess(nb, {})
    nbformat.validate(nb)
    body = _export(nb)
    assert Counter(active(body)) - Counter(active(_export(new_notebook()))) == Counter()  # only the template's
    assert f"data:image/png;base64,{PNG}" in body
    assert "EPSP peak 0.505 mV" in body and "<strong>NMDA</strong>" in body and "<em>slow</em>" in body
    assert "widget-state" not in body
    assert nb.cells[-2].attachments == {"fig.png": {"image/png": PNG}}
    assert nb.cells[-3].metadata.tags == ["xonmouseoveralert1"]
    # the written answer without anything active is kept exactly as written
    assert nb.cells[len(MARKDOWN_ATTACKS)].source == LEGIT_MARKDOWN


def test_sanitizing_twice_changes_nothing():
    once, _ = SanitizeStudentContent().preprocess(_hostile_notebook(), {})
    snapshot = nbformat.writes(once)
    twice, _ = SanitizeStudentContent().preprocess(nbformat.reads(snapshot, 4), {})
    assert nbformat.writes(twice) == snapshot


# ------------------------------------------------------------------ it runs in every autograde
def test_sanitizer_is_the_last_step_of_plain_autograde_and_of_make_grade():
    """nbgrader_config.py appends it; make grade's worker, replay and rescue lists keep it last."""
    from coursekit import settings as config
    from coursekit.pipeline.steps import ROLES, autograde_preprocessors

    name = f"{SanitizeStudentContent.__module__}.{SanitizeStudentContent.__qualname__}"
    root = Path(__file__).resolve().parents[1]
    configured = config.settings_of(config.load_config(root), root).autograde_preprocessors
    assert configured[-1]["name"] == name
    assert ROLES == ("worker", "replay", "rescue")
    for role in ROLES:
        assert autograde_preprocessors(configured, role)[-1] == name
