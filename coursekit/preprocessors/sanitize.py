"""``SanitizeStudentContent``: the autograded notebook renders inert in every view.

Formgrader's manual-grading page, ``generate_feedback`` and JupyterLab all
render the autograded notebook; nbconvert's ``HTMLExporter`` passes HTML
through unless ``sanitize_html`` is on, and even then Formgrader's template
renders Markdown cells without cleaning. So the course cleans the notebook
itself, once, at the end of ``autograde`` (``nbgrader_config.py`` appends this
preprocessor to ``Autograde.autograde_preprocessors``; ``make grade``'s worker,
replay and rescue lists are derived from that list). Everything a student
controls is cleaned with nh3 (the Rust ``ammonia`` sanitizer) against an
allow-list:

- outputs: ``text/plain``, tracebacks and streams are kept (every view escapes
  them); ``image/png`` and ``image/jpeg`` only if they are valid base64 (the
  templates put them into an ``src`` attribute); ``text/html`` and
  ``text/markdown`` are cleaned; ``text/latex`` loses the MathJax commands that
  make links, styles or requests; everything else (``application/javascript``,
  ``image/svg+xml``, widgets, unknown types) is dropped, with a
  ``text/plain`` line saying so when nothing else is left. Output metadata
  keeps only numeric image ``width``/``height`` (the lab template writes them
  into an unquoted attribute);
- Markdown and raw cells: the Markdown is rendered as nbconvert renders it
  (math kept as text), the HTML cleaned; if cleaning removed anything the cell
  source becomes the cleaned HTML (still readable formatted text), otherwise
  the student's Markdown is kept as written. Attachments keep PNG/JPEG only;
- cell tags are reduced to ``[A-Za-z0-9_-]`` (they become class names); the
  notebook's widget state is dropped.

Allowed: text formatting, lists, tables, code, headings, links to http(s)/mailto
(``rel="noopener noreferrer nofollow"``; a click is needed) and images whose
source is a ``data:image/png|jpeg`` URL or an ``attachment:``. Not allowed: any
script, event handler, ``style`` attribute or element, ``class``/``id``
(page CSS could position the content), forms, frames, ``<base>``, ``<meta>``,
``<link>``, SVG, MathML, ``srcset`` and remote image sources.
"""

from __future__ import annotations

import base64
import binascii
import html.parser
import re
from typing import Any

import nh3
from mistune import HTMLRenderer
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbformat import from_dict
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import List

from coursekit.answers import misconceptions

__all__ = ["SanitizeStudentContent", "clean_html", "clean_markdown", "clean_outputs", "clean_latex",
           "KEPT_MIME_TYPES"]

#: Tags a written answer or an HTML output may keep.
TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "details", "dfn", "div", "dl",
    "dt", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p",
    "pre", "q", "s", "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td",
    "tfoot", "th", "thead", "tr", "u", "ul", "var",
})
#: Elements removed with their content (not just their tags).
DROP_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "template", "noscript", "svg",
                               "math", "textarea", "select", "title", "xmp", "noembed", "noframes"})
ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
    "ol": {"start"},
    "abbr": {"title"},
    "code": {"class"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto", "data", "attachment"})
LINK_REL = "noopener noreferrer nofollow"
_IMAGE_DATA_URL = re.compile(r"data:image/(png|jpeg);base64,[A-Za-z0-9+/=\s]+\Z")
_ATTACHMENT_URL = re.compile(r"attachment:[\w.\-]+\Z")
_NUMBER = re.compile(r"\d{1,5}(\.\d{1,3})?\Z")
#: MathJax commands that make a link, set a style/class/id, load an extension or raw HTML/MathML.
_MATHJAX_ACTIVE = re.compile(r"\\(href|url|style|class|cssId|require|unicode|bbox|html|data|mmlToken|toggle|"
                             r"mathtip|texttip|tooltip)(?![A-Za-z])")
#: Output types kept as they are, cleaned, or (all others) dropped.
KEPT_MIME_TYPES = ("text/plain", "image/png", "image/jpeg", "text/html", "text/markdown", "text/latex")
_SAFE_TAG = re.compile(r"[^A-Za-z0-9_-]")


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if tag == "img" and attr == "src":
        compact = value.strip()
        return compact if _IMAGE_DATA_URL.match(compact) or _ATTACHMENT_URL.match(compact) else None
    if tag == "a" and attr == "href":
        return None if value.strip().lower().startswith(("data:", "attachment:")) else value
    if attr == "class":  # only a code block's language (page CSS must not apply to student content)
        return value if re.fullmatch(r"language-[\w+#.-]{1,40}", value.strip()) else None
    if attr in {"width", "height", "colspan", "rowspan", "start"}:
        return value if _NUMBER.match(value.strip()) else None
    return value


def clean_latex(text: str) -> str:
    """``text`` with MathJax's active commands (``\\href``, ``\\style``, ``\\require``, ...) made plain text."""
    return _MATHJAX_ACTIVE.sub(lambda m: r"\mathtt{" + m.group(1) + "}", text)


def clean_html(text: str) -> str:
    """Inert HTML: the allow-listed tags and attributes only (module docstring), MathJax commands disarmed."""
    cleaned = nh3.clean(text, tags=set(TAGS), clean_content_tags=set(DROP_WITH_CONTENT), attributes=ATTRIBUTES,
                        attribute_filter=_attribute_filter, url_schemes=set(URL_SCHEMES), link_rel=LINK_REL,
                        strip_comments=False)
    return clean_latex(cleaned)


class _Events(html.parser.HTMLParser):
    """Start tags with their attributes, end tags and text: what a browser would build."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.events: list[tuple] = []

    def handle_starttag(self, tag, attrs):
        # rel is what the cleaner adds to links: a Markdown link without it is not "changed"
        self.events.append(("start", tag, tuple(sorted((k, v or "") for k, v in attrs if k != "rel"))))

    def handle_endtag(self, tag):
        self.events.append(("end", tag))

    def handle_data(self, data):
        if data.strip():
            self.events.append(("text", " ".join(data.split())))


def _events(text: str) -> list[tuple]:
    parser = _Events()
    parser.feed(text)
    parser.close()
    return [e for e in parser.events if e != ("start", "br", ()) and e != ("end", "br")]


class _Renderer(IPythonRenderer):
    """nbconvert's Markdown renderer (math kept as text for MathJax), code blocks without Pygments' classes."""

    def block_code(self, code: str, info: str | None = None) -> str:
        if info and info.startswith("mermaid"):  # a diagram: nbconvert's own output, which cleaning changes
            return super().block_code(code, info)
        return HTMLRenderer.block_code(self, code, info)

    def _embed_image_or_attachment(self, src: str) -> str:
        # an attachment that is not a PNG/JPEG (or missing, which makes nbconvert's views fail) shows nothing
        if src.startswith("attachment:"):
            bundle = self.attachments.get(src[len("attachment:"):], {})
            mime = next((m for m in ("image/png", "image/jpeg") if m in bundle), None)
            return f"data:{mime};base64,{bundle[mime]}" if mime and len(bundle) == 1 else ""
        return src


def _render_markdown(source: str, attachments: dict | None = None) -> str:
    return MarkdownWithMath(renderer=_Renderer(escape=False, attachments=attachments or {})).render(source)


def clean_markdown(source: str, attachments: dict | None = None) -> tuple[str, bool]:
    """(inert Markdown, whether anything was removed) for a written answer or a ``text/markdown`` output.

    The Markdown is rendered as nbconvert renders it and the HTML cleaned; if cleaning changed nothing a
    browser would see, the source is returned unchanged, otherwise the cleaned HTML, with no blank line in
    it (a blank line would end the HTML block and let Markdown parse the rest again).
    """
    rendered = _render_markdown(source, attachments)
    cleaned = clean_html(rendered)
    if _events(cleaned) == _events(rendered) and clean_latex(source) == source:
        return source, False
    cleaned = re.sub(r"\n[ \t]*(?=\n)", "\n<!-- -->", cleaned.strip())
    return cleaned, True


def _valid_base64(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _clean_metadata(metadata: Any) -> dict:
    out = {}
    for mime in ("image/png", "image/jpeg"):
        meta = metadata.get(mime) if isinstance(metadata, dict) else None
        if isinstance(meta, dict):
            kept = {k: meta[k] for k in ("width", "height")
                    if isinstance(meta.get(k), (int, float)) and not isinstance(meta.get(k), bool)}
            if kept:
                out[mime] = kept
    return out


def clean_outputs(outputs: Any) -> tuple[list, list[str]]:
    """(inert outputs, what was removed or cleaned) for one code cell's ``outputs``."""
    clean, notes = [], []
    for out in outputs if isinstance(outputs, list) else []:
        kind = out.get("output_type") if isinstance(out, dict) else None
        if kind in ("stream", "error"):
            clean.append(out)
            continue
        if misconceptions.is_marker(out):  # rebuilt: only the identifier survives, not extra types a student adds
            value = out["data"][misconceptions.MIME_TYPE]
            value = value if isinstance(value, dict) else {}
            clean.append(from_dict(misconceptions.marker_output(str(value.get("id", "")),
                                                                str(value.get("from", ""))[:20])))
            continue
        if kind not in ("display_data", "execute_result") or not isinstance(out.get("data"), dict):
            notes.append(f"dropped an output of type {kind!r}")
            continue
        data, dropped = {}, []
        for mime, value in out["data"].items():
            if mime in ("image/png", "image/jpeg"):
                if _valid_base64(value):
                    data[mime] = "".join(value.split())
                else:
                    dropped.append(mime + " (not base64)")
            elif mime == "text/plain" and isinstance(value, str):
                data[mime] = value
            elif mime == "text/html" and isinstance(value, str):
                data[mime] = clean_html(value)
                if _events(data[mime]) != _events(value):
                    notes.append("cleaned text/html")
            elif mime == "text/markdown" and isinstance(value, str):
                data[mime], changed = clean_markdown(value)
                if changed:
                    notes.append("cleaned text/markdown")
            elif mime == "text/latex" and isinstance(value, str):
                data[mime] = clean_latex(value)
            else:
                dropped.append(mime)
        if dropped:
            notes.append("dropped " + ", ".join(dropped))
        if not data:
            data["text/plain"] = "[output removed by the course's sanitizer: " + ", ".join(dropped) + "]"
        new = {"output_type": kind, "data": data, "metadata": _clean_metadata(out.get("metadata"))}
        if kind == "execute_result":
            new["execution_count"] = out.get("execution_count")
        clean.append(from_dict(new))
    return clean, notes


def _clean_attachments(attachments: Any) -> tuple[dict, list[str]]:
    kept, notes = {}, []
    for name, bundle in (attachments or {}).items():
        ok = {m: v for m, v in (bundle or {}).items() if m in ("image/png", "image/jpeg") and _valid_base64(v)}
        if ok and re.fullmatch(r"[\w.\-]+", name):
            kept[name] = ok
        else:
            notes.append(f"dropped attachment {name[:40]!r}")
    return kept, notes


class SanitizeStudentContent(NbGraderPreprocessor):
    """Autograde: make every output, written answer and attachment of a submission inert (module docstring)."""

    # HTMLExporter configures NbConvertBase.display_data_priority (see ShortenTestTracebacks).
    display_data_priority = List(NbGraderPreprocessor.display_data_priority.default_value).tag(config=True)

    def preprocess(self, nb, resources):
        widgets = nb.metadata.pop("widgets", None)
        if widgets is not None:
            self.log.info("Sanitizer: dropped the notebook's widget state")
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):  # noqa: D401 (nbconvert API)
        notes = []
        if cell.cell_type == "code":
            cell.outputs, notes = clean_outputs(cell.get("outputs", []))
        if "attachments" in cell:
            cell.attachments, dropped = _clean_attachments(cell.attachments)
            notes += dropped
        if cell.cell_type in ("markdown", "raw"):
            cell.source, changed = clean_markdown(cell.source, cell.get("attachments"))
            if changed:
                notes.append("cleaned the HTML of this cell")
        tags = cell.metadata.get("tags")
        if isinstance(tags, list):
            safe = [_SAFE_TAG.sub("", str(t)) for t in tags]
            cell.metadata.tags = [t for t in safe if t]
        if notes:
            notes = [f"{n} (x{notes.count(n)})" if notes.count(n) > 1 else n for n in dict.fromkeys(notes)]
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", f"#{cell_index}")
            self.log.warning("Sanitizer, cell %s: %s", grade_id, "; ".join(notes))
        return cell, resources
