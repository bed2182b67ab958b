"""Text with formulas as people wrote them ($...$ inline, $$...$$ or \\[...\\] on their own
line) made into HTML with the formulas as MathML (latex2mathml), on the server: a browser
shows MathML without a script, and so does a feedback file opened anywhere or a printout.

Two kinds of text: ``text_html`` for plain text (a teacher's comment: everything else
escaped, line breaks kept) and ``markdown_html`` for a notebook's Markdown (raw HTML
escaped, only web and mail links, images shown as their description). A formula
latex2mathml cannot read is shown as its source.
"""

from __future__ import annotations

import html
import re

MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|(?<![\\$])\$(?!\s)(.+?)(?<![\s\\])\$(?!\d)", re.DOTALL)
_SAFE_LINK = re.compile(r"^(https?:|mailto:|#)", re.IGNORECASE)
# a formula's place while the rest is escaped: private-use characters, removed from the text first
_OPEN, _CLOSE = "\ue000", "\ue001"
_PLACE = re.compile(f"{_OPEN}(\\d+){_CLOSE}")


MATHML = "http://www.w3.org/1998/Math/MathML"
# MathML's presentation elements: anything else (\text{<script>}) refuses the formula
TAGS = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup", "mfrac", "msqrt",
        "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom",
        "menclose", "merror", "semantics", "annotation", "mmultiscripts", "mprescripts", "none", "mfenced"}
# attributes that only lay a formula out: never href, style or an event handler
ATTRIBUTES = {"display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "width", "height",
              "depth", "minsize", "maxsize", "accent", "accentunder", "movablelimits", "symmetric", "form",
              "linethickness", "columnalign", "rowalign", "columnspacing", "rowspacing", "columnlines", "rowlines",
              "frame", "framespacing", "displaystyle", "scriptlevel", "notation", "open", "close", "separators",
              "largeop", "encoding", "align", "bevelled", "numalign", "denomalign"}


def _clean(mathml: str) -> str:
    r"""latex2mathml's output with only MathML's layout in it (it passes \text{...} and
    \href{...} through as markup): an element outside MathML refuses the formula."""
    import xml.etree.ElementTree as ET

    ET.register_namespace("", MATHML)
    root = ET.fromstring(mathml)
    for el in root.iter():
        if not isinstance(el.tag, str) or el.tag.rpartition("}")[2] not in TAGS:
            raise ValueError(f"not MathML: {el.tag}")
        for name in list(el.attrib):
            if name not in ATTRIBUTES:
                del el.attrib[name]
    return ET.tostring(root, encoding="unicode")


def formula(tex: str, display: bool = False) -> str:
    """One formula as MathML; one it cannot read (or that holds markup) as its escaped source."""
    from latex2mathml.converter import convert

    try:
        return _clean(convert(tex.strip(), display="block" if display else "inline"))
    except Exception:  # noqa: BLE001 - latex2mathml raises many kinds for text it cannot read
        return f"<code>{html.escape(tex)}</code>"


def _lift(text: str) -> tuple[str, list[str]]:
    """The text with each formula replaced by a placeholder, and the formulas as MathML."""
    formulas: list[str] = []

    def keep(match: re.Match) -> str:
        display = match.group(3) is None
        formulas.append(formula(match.group(1) or match.group(2) or match.group(3), display))
        return f"{_OPEN}{len(formulas) - 1}{_CLOSE}"

    return MATH.sub(keep, text.replace(_OPEN, "").replace(_CLOSE, "")), formulas


def _put_back(rendered: str, formulas: list[str]) -> str:
    return _PLACE.sub(lambda m: formulas[int(m.group(1))], rendered)


def has_math(text: str | None) -> bool:
    return bool(text) and MATH.search(text) is not None


def text_html(text: str | None) -> str:
    """Plain text (a comment) as HTML: escaped, line breaks kept, formulas as MathML."""
    lifted, formulas = _lift(text or "")
    return _put_back(html.escape(lifted).replace("\n", "<br>\n"), formulas)


def _markdown():
    import mistune

    class Renderer(mistune.HTMLRenderer):
        """mistune's HTML without raw HTML, images, or links other than web and mail ones."""

        def link(self, text: str, url: str, title: str | None = None) -> str:
            return super().link(text, url, title) if _SAFE_LINK.match(url) else text

        def image(self, text: str, url: str, title: str | None = None) -> str:
            return html.escape(text)

    return mistune.create_markdown(renderer=Renderer(escape=True), plugins=["table", "strikethrough"])


_MARKDOWN = None


def markdown_html(text: str | None) -> str:
    """A notebook's Markdown as HTML, formulas as MathML."""
    global _MARKDOWN
    if _MARKDOWN is None:
        _MARKDOWN = _markdown()
    lifted, formulas = _lift(text or "")
    return _put_back(_MARKDOWN(lifted), formulas)
