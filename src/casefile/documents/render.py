"""A document's PDF from its Markdown sections: pure (no database, no settings) and
byte-reproducible, so anyone holding the pinned clause versions and the stored variables can
re-render the v1 PDF and compare its SHA-256 with the one recorded.

What makes the bytes a function of the input alone:
  - the fonts are the DejaVu files shipped beside this module, never the host's;
  - the PDF's creation date is fixed (`CREATION_DATE`): a document's date belongs in its text;
  - fpdf2's trailer /ID is an MD5 over the file's own bytes and that date; no XMP packet is
    written (fpdf2 writes one only for PDF/A or when asked, and its modify date is the clock);
  - compression is always on, with the zlib the process has (`RENDERER_VERSION` covers it);
  - the total page count is written by us, not by fpdf2's output step, so a signed copy's
    leading pages are the v1 pages, number for number.

Guard rails: raw HTML in Markdown is shown as text, never interpreted; images are never
fetched (their alt text is printed); each section's Markdown is limited to
`MAX_SECTION_MARKDOWN_BYTES`, a logo to `MAX_LOGO_BYTES` of PNG.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import re
import sys
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from fpdf import FPDF
from fpdf.enums import Align, TextEmphasis, WrapMode, XPos, YPos
from fpdf.fonts import FontFace
from markdown_it import MarkdownIt
from markdown_it.token import Token

from casefile.core.errors import ValidationFailed

# fontTools reports every table it prunes while fpdf2 subsets a font (at INFO, some at DEBUG):
# a dozen console lines per PDF written, none of them actionable.
logging.getLogger("fontTools").setLevel(logging.WARNING)

PageSize = Literal["A4", "Letter"]
PAGE_SIZES: tuple[str, ...] = ("A4", "Letter")
MAX_SECTION_MARKDOWN_BYTES = 200 * 1024
MAX_SECTIONS = 500
MAX_LOGO_BYTES = 256 * 1024
MAX_LOGO_PIXELS = 4096  # per side: a small PNG can still decode to a huge bitmap
MAX_LINE_CHARS = 200  # header, footer
MAX_TITLE_CHARS = 300
MARGIN_RANGE_MM = (10.0, 60.0)
LOGO_WIDTH_RANGE_MM = (10.0, 80.0)
PLACEHOLDERS = ("{page}", "{pages}")
PAGE_BREAK_MARKERS = ("\\pagebreak", "\\newpage")  # a paragraph of its own, as pandoc reads
CREATION_DATE = datetime(2000, 1, 1, tzinfo=UTC)

FONT_DIR = Path(__file__).with_name("fonts")
FAMILY = "DejaVu"
# DejaVu Sans ships no bold-oblique here: bold italic prints bold.
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PLACEHOLDER_RE = re.compile(r"\{[^{}]*\}")
# C0 and C1 controls except tab and newline: they have no glyph and some viewers act on them.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# fpdf2 gives "{nb}" a three-digit placeholder (others get their own length): the narrowest.
_TOTAL_ALIAS = "{nb}"

# Sizes in points, distances in millimetres.
_BODY_PT = 10.5
_LINE_MM = 5.2
_SMALL_PT = 8.0
_HEADING_PT = {1: 16.0, 2: 14.0, 3: 12.5, 4: 11.5, 5: 11.0, 6: 10.5}
_INDENT_MM = 6.0
_MAX_INDENT_LEVELS = 6
_GREY = (90, 90, 90)
_BLACK = (0, 0, 0)


# --- the input -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Margins:
    top: float = 25.0  # the header and the logo sit in it
    right: float = 20.0
    bottom: float = 20.0  # the footer sits in it
    left: float = 20.0


@dataclass(frozen=True)
class Layout:
    """How every page looks. `header` and `footer` are one line each, where `{page}` and
    `{pages}` become the page number and the document's page count. `page_break_before` lists
    the clause ids a template starts on a new page: the caller turns them into
    `Section.page_break_before` (the renderer itself knows sections, not clauses)."""

    page_size: PageSize = "A4"
    margins: Margins = field(default_factory=Margins)
    header: str = ""
    footer: str = "Page {page} of {pages}"
    logo_png: bytes | None = None
    logo_width_mm: float = 30.0
    page_break_before: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = _layout_problems(self)
        if problems:
            raise _invalid("the layout", problems)


@dataclass(frozen=True)
class Section:
    title: str
    markdown: str
    page_break_before: bool = False


@dataclass(frozen=True)
class RenderInput:
    title: str
    doc_id: str
    sections: tuple[Section, ...]
    layout: Layout = field(default_factory=Layout)


@dataclass(frozen=True)
class SignerEvidence:
    role: str
    name: str
    email: str
    signed_at: datetime
    ip: str
    user_agent: str
    method: str  # e.g. "typed name and consent"


@dataclass(frozen=True)
class Certificate:
    doc_id: str
    v1_sha256: str
    provider: str
    envelope_id: str
    completed_at: datetime
    signers: tuple[SignerEvidence, ...]


# --- layout_json ---------------------------------------------------------------------------------
_LAYOUT_KEYS = ("page_size", "margins_mm", "header", "footer", "logo_png_base64",
                "logo_width_mm", "page_break_before")
_MARGIN_KEYS = ("top", "right", "bottom", "left")


def layout_from_json(data: Mapping[str, Any]) -> Layout:
    """A template's `layout_json` as a Layout, or ValidationFailed whose details name every
    bad field (`[{"field", "message"}]`). Every key is optional; unknown keys are refused so a
    misspelt one is not silently ignored."""
    if not isinstance(data, Mapping):
        raise _invalid("the layout", [("layout", "must be an object")])
    problems: list[tuple[str, str]] = [
        (str(key), "unknown field") for key in data if key not in _LAYOUT_KEYS
    ]
    values: dict[str, Any] = {}

    if "page_size" in data:
        if data["page_size"] not in PAGE_SIZES:
            problems.append(("page_size", f"must be one of {', '.join(PAGE_SIZES)}"))
        else:
            values["page_size"] = data["page_size"]

    if "margins_mm" in data:
        raw = data["margins_mm"]
        if not isinstance(raw, Mapping):
            problems.append(("margins_mm", "must be an object"))
        else:
            problems += [(f"margins_mm.{key}", "unknown field")
                         for key in raw if key not in _MARGIN_KEYS]
            margins: dict[str, float] = {}
            for key in _MARGIN_KEYS:
                if key in raw:
                    if _is_number(raw[key]):
                        margins[key] = float(raw[key])
                    else:
                        problems.append((f"margins_mm.{key}", "must be a number"))
            values["margins"] = Margins(**margins)

    for key in ("header", "footer"):
        if key in data:
            if isinstance(data[key], str):
                values[key] = data[key]
            else:
                problems.append((key, "must be a string"))

    if "logo_png_base64" in data and data["logo_png_base64"] is not None:
        logo, problem = _decode_logo(data["logo_png_base64"])
        if problem:
            problems.append(("logo_png_base64", problem))
        else:
            values["logo_png"] = logo

    if "logo_width_mm" in data:
        if _is_number(data["logo_width_mm"]):
            values["logo_width_mm"] = float(data["logo_width_mm"])
        else:
            problems.append(("logo_width_mm", "must be a number"))

    if "page_break_before" in data:
        raw = data["page_break_before"]
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            problems.append(("page_break_before", "must be a list of clause ids"))
        else:
            values["page_break_before"] = tuple(raw)

    # The remaining checks are the Layout's own (ranges, placeholders, the logo's pixels).
    # Field names there are the dataclass's; map them back to the JSON's.
    try:
        layout = Layout(**values)
    except ValidationFailed as exc:
        renamed = {"margins": "margins_mm", "logo_png": "logo_png_base64"}
        for detail in exc.details:
            head, _, rest = detail["field"].partition(".")
            name = renamed.get(head, head) + ("." + rest if rest else "")
            problems.append((name, detail["message"]))
        layout = Layout()
    if problems:
        raise _invalid("the layout", problems)
    return layout


def layout_to_json(layout: Layout) -> dict[str, Any]:
    """The inverse of `layout_from_json` (for defaults, previews and round trips)."""
    out: dict[str, Any] = {
        "page_size": layout.page_size,
        "margins_mm": {key: getattr(layout.margins, key) for key in _MARGIN_KEYS},
        "header": layout.header,
        "footer": layout.footer,
        "logo_width_mm": layout.logo_width_mm,
        "page_break_before": list(layout.page_break_before),
    }
    if layout.logo_png is not None:
        out["logo_png_base64"] = base64.b64encode(layout.logo_png).decode("ascii")
    return out


def _layout_problems(layout: Layout) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if layout.page_size not in PAGE_SIZES:
        problems.append(("page_size", f"must be one of {', '.join(PAGE_SIZES)}"))
    low, high = MARGIN_RANGE_MM
    for key in _MARGIN_KEYS:
        value = getattr(layout.margins, key)
        if not _is_number(value) or not low <= value <= high:
            problems.append((f"margins.{key}", f"must be {low:g} to {high:g} mm"))
    for key in ("header", "footer"):
        problem = _line_problem(getattr(layout, key))
        if problem:
            problems.append((key, problem))
    if layout.logo_png is not None:
        problem = _logo_problem(layout.logo_png)
        if problem:
            problems.append(("logo_png", problem))
    low, high = LOGO_WIDTH_RANGE_MM
    if not _is_number(layout.logo_width_mm) or not low <= layout.logo_width_mm <= high:
        problems.append(("logo_width_mm", f"must be {low:g} to {high:g} mm"))
    if len(layout.page_break_before) > MAX_SECTIONS or not all(
            isinstance(item, str) and 0 < len(item) <= 64 for item in layout.page_break_before):
        problems.append(("page_break_before",
                         f"at most {MAX_SECTIONS} clause ids of 1 to 64 characters"))
    return problems


def _line_problem(text: Any) -> str | None:
    if not isinstance(text, str):
        return "must be a string"
    if len(text) > MAX_LINE_CHARS:
        return f"at most {MAX_LINE_CHARS} characters"
    if "\n" in text or "\r" in text:
        return "must be one line"
    unknown = sorted({p for p in _PLACEHOLDER_RE.findall(text) if p not in PLACEHOLDERS})
    if unknown:
        return f"unknown placeholder {', '.join(unknown)} (known: {', '.join(PLACEHOLDERS)})"
    return None


def _decode_logo(value: Any) -> tuple[bytes, str | None]:
    if not isinstance(value, str):
        return b"", "must be a base64 string"
    # Refuse by length before decoding, so an oversized value costs nothing.
    if len(value) > (MAX_LOGO_BYTES + 2) // 3 * 4 + 4:
        return b"", f"the logo is larger than {MAX_LOGO_BYTES // 1024} KB"
    try:
        return base64.b64decode(value, validate=True), None
    except (binascii.Error, ValueError):
        return b"", "not valid base64"


def _logo_problem(png: bytes) -> str | None:
    if not isinstance(png, bytes):
        return "must be PNG bytes"
    if len(png) > MAX_LOGO_BYTES:
        return f"the logo is larger than {MAX_LOGO_BYTES // 1024} KB"
    if not png.startswith(_PNG_SIGNATURE):
        return "not a PNG image"
    from PIL import Image  # fpdf2's own dependency; only needed when a logo is given

    try:
        with Image.open(io.BytesIO(png)) as image:
            width, height = image.size
            image.verify()
    except Exception:  # Pillow raises many kinds for a broken file
        return "not a readable PNG image"
    if width > MAX_LOGO_PIXELS or height > MAX_LOGO_PIXELS:
        return f"at most {MAX_LOGO_PIXELS} pixels a side"
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _invalid(what: str, problems: Sequence[tuple[str, str]]) -> ValidationFailed:
    details = [{"field": name, "message": message} for name, message in problems]
    return ValidationFailed(f"{what} is not valid: {', '.join(d['field'] for d in details)}",
                            details=details)


def _input_problems(doc: RenderInput, certificate: Certificate | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not isinstance(doc.title, str) or len(doc.title) > MAX_TITLE_CHARS:
        problems.append(("title", f"a string of at most {MAX_TITLE_CHARS} characters"))
    if not isinstance(doc.doc_id, str) or not 0 < len(doc.doc_id) <= 64:
        problems.append(("doc_id", "a string of 1 to 64 characters"))
    if len(doc.sections) > MAX_SECTIONS:
        problems.append(("sections", f"at most {MAX_SECTIONS}"))
    for index, section in enumerate(doc.sections):
        if len(section.title) > MAX_TITLE_CHARS:
            problems.append((f"sections[{index}].title",
                             f"at most {MAX_TITLE_CHARS} characters"))
        if len(section.markdown.encode("utf-8")) > MAX_SECTION_MARKDOWN_BYTES:
            problems.append((f"sections[{index}].markdown",
                             f"at most {MAX_SECTION_MARKDOWN_BYTES // 1024} KB of Markdown"))
    if certificate is not None:
        if certificate.doc_id != doc.doc_id:
            problems.append(("certificate.doc_id", "is not the document's id"))
        if not re.fullmatch(r"[0-9a-f]{64}", certificate.v1_sha256):
            problems.append(("certificate.v1_sha256", "64 lowercase hex digits"))
        if certificate.completed_at.tzinfo is None:
            problems.append(("certificate.completed_at", "must carry a time zone"))
        for index, signer in enumerate(certificate.signers):
            if signer.signed_at.tzinfo is None:
                problems.append((f"certificate.signers[{index}].signed_at",
                                 "must carry a time zone"))
    return problems


# --- rendering -----------------------------------------------------------------------------------
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def render_pdf(doc: RenderInput, *, certificate: Certificate | None = None) -> bytes:
    """The PDF of `doc` (v1); with `certificate`, the signed copy (v2): the same pages followed
    by a certificate of completion. Same input, same bytes."""
    problems = _input_problems(doc, certificate)
    if problems:
        raise _invalid("the document", problems)
    pdf = _Pdf(doc)
    pdf.add_page()
    _write_title(pdf, doc)
    for section in doc.sections:
        _write_section(pdf, section)
    pdf.body_pages = pdf.page_no()
    if certificate is not None:
        pdf.add_page()
        _write_certificate(pdf, doc, certificate)
    return bytes(pdf.output())


class _Pdf(FPDF):
    def __init__(self, doc: RenderInput) -> None:
        layout = doc.layout
        super().__init__(orientation="portrait", unit="mm", format=layout.page_size)
        self.layout = layout
        self.doc_id = doc.doc_id
        self.body_pages = 0  # set when the body ends; pages after it are the certificate's
        self.closing = False
        self.widths: dict[tuple[str, float, str], float] = {}  # see `width_of`
        self.set_creation_date(CREATION_DATE)
        self.set_compression(True)
        self.set_title(_clean(doc.title))
        self.set_creator("Casefile")
        self.alias_nb_pages("")  # only the header and footer say the page count (see _stamp)
        self.add_font(FAMILY, "", str(FONT_DIR / FONT_FILES[""]))
        margins = layout.margins
        self.set_margins(margins.left, margins.top, margins.right)
        self.set_auto_page_break(True, margin=margins.bottom)
        self.set_font(FAMILY, "", _BODY_PT)

    def set_font(self, family: str | None = None, style: str | TextEmphasis = "",
                 size: float = 0) -> None:
        """Bold and oblique are read when first used: parsing a font file is the largest
        fixed cost of a render, and many clauses never slant a word."""
        wanted = style.style if isinstance(style, TextEmphasis) else style.upper()
        for letter in "BI":
            if letter in wanted and f"{FAMILY.lower()}{letter}" not in self.fonts:
                self.add_font(FAMILY, letter, str(FONT_DIR / FONT_FILES[letter]))
        super().set_font(family, style, size)

    def width_of(self, style: str, size: float, text: str) -> float:
        """fpdf2's own measure of `text`, taken once per render for each distinct piece: a
        clause repeats its words, and measuring is what made fpdf2's line breaking slow."""
        key = (style, size, text)
        width = self.widths.get(key)
        if width is None:
            self.set_font(FAMILY, style, size)
            width = self.widths[key] = self.get_string_width(text)
        return width

    def in_certificate(self) -> bool:
        return bool(self.body_pages) and self.page_no() > self.body_pages

    def header(self) -> None:
        if self.in_certificate():
            return
        layout = self.layout
        top = min(10.0, layout.margins.top / 2)
        if layout.logo_png is not None:
            box_height = max(layout.margins.top - top - 4.0, 4.0)
            self.image(io.BytesIO(layout.logo_png), x=layout.margins.left, y=top,
                       w=layout.logo_width_mm, h=box_height, keep_aspect_ratio=True)
        if layout.header:
            self.set_xy(layout.margins.left, top)
            self._stamp(layout.header, align=Align.R)
        # fpdf2 leaves the cursor where the header left it: the body starts at the top margin.
        self.set_xy(self.l_margin, layout.margins.top)

    def footer(self) -> None:
        self.set_xy(self.layout.margins.left, -(self.layout.margins.bottom / 2 + 2.0))
        if self.in_certificate():
            number = self.page_no() - self.body_pages
            self._stamp(f"Certificate of completion · {self.doc_id} · page {number}",
                        align=Align.C)
        elif self.layout.footer:
            self._stamp(self.layout.footer, align=Align.C)
        if self.closing:  # the last page's footer, drawn by output() itself
            self.fill_in_page_counts()

    def output(self, *args: Any, **kwargs: Any) -> Any:
        self.closing = True
        return super().output(*args, **kwargs)

    def _stamp(self, text: str, *, align: Align) -> None:
        """One line of header or footer; `{pages}` becomes fpdf2's alias only here, so a
        clause that happens to say "{nb}" keeps its text."""
        self.set_font(FAMILY, "", _SMALL_PT)
        self.set_text_color(*_GREY)
        line = _clean(text).replace("{page}", str(self.page_no()))
        line = line.replace(_TOTAL_ALIAS, "{ nb }").replace("{pages}", _TOTAL_ALIAS)
        self.alias_nb_pages(_TOTAL_ALIAS, align=Align.L)
        try:
            width = self.w - self.layout.margins.left - self.layout.margins.right
            self.cell(width, 4, line, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        finally:
            self.alias_nb_pages("")
        self.set_text_color(*_BLACK)

    def fill_in_page_counts(self) -> None:
        """Writes the body's page count where a header or footer asked for it, as fpdf2's own
        output step would with the total — but a signed copy's certificate pages do not count,
        so its leading pages stay the v1 pages. fpdf2 then finds nothing left to substitute."""
        total = str(self.body_pages)
        for number in range(1, self.pages_count + 1):
            page = self.pages[number]
            for item in page.get_text_substitutions():
                placeholder = item.get_placeholder_string().encode("latin-1")
                value = item.render_text_substitution(total).encode("latin-1")
                page.contents = page.contents.replace(placeholder, value)  # type: ignore[union-attr]


def _clean(text: str) -> str:
    return _CONTROL_RE.sub("", text.replace("\t", "    "))


def _write_title(pdf: _Pdf, doc: RenderInput) -> None:
    pdf.set_font(FAMILY, "B", 18)
    pdf.multi_cell(0, 8.5, _clean(doc.title) or doc.doc_id, align=Align.L, new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    pdf.set_font(FAMILY, "", _SMALL_PT)
    pdf.set_text_color(*_GREY)
    pdf.multi_cell(0, 4.5, f"Document {_clean(doc.doc_id)}", align=Align.L, new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    pdf.set_text_color(*_BLACK)
    pdf.ln(4)


def _page_is_blank(pdf: _Pdf) -> bool:
    return pdf.get_y() <= pdf.t_margin + 0.01


def _write_section(pdf: _Pdf, section: Section) -> None:
    if section.page_break_before and not _page_is_blank(pdf):
        pdf.add_page()
    if section.title:
        _heading(pdf, _clean(section.title), 2)
    _Blocks(pdf).render(_MARKDOWN.parse(section.markdown))
    pdf.ln(2)


def _heading(pdf: _Pdf, text: str, level: int) -> None:
    size = _HEADING_PT[level]
    # Keep a heading with at least three lines of what follows it.
    if pdf.get_y() + size * 0.5 + 3 * _LINE_MM > pdf.page_break_trigger:
        pdf.add_page()
    if not _page_is_blank(pdf):
        pdf.ln(1.5 if level > 2 else 3)
    pdf.set_font(FAMILY, "B", size)
    pdf.multi_cell(0, size * 0.5, text, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FAMILY, "", _BODY_PT)
    pdf.ln(1.5)


class _Blocks:
    """Walks markdown-it's block tokens, drawing each construct with fpdf2 directly: its HTML
    support is small, and a walk of our own decides every byte."""

    def __init__(self, pdf: _Pdf) -> None:
        self.pdf = pdf
        self.base_margin = pdf.l_margin
        self.lists: list[list[int]] = []  # per open list: [is_ordered, next number]
        self.quotes = 0
        self.bold = 0
        self.italic = 0
        self.links: list[str] = []
        self.link_text: list[str] = []
        self.runs: list[tuple[str, str]] = []  # the paragraph being gathered: (style, text)

    def render(self, tokens: list[Token]) -> None:
        pdf = self.pdf
        index = 0
        while index < len(tokens):
            token = tokens[index]
            kind = token.type
            if kind == "heading_open":
                level = int(token.tag[1])
                _heading(pdf, _plain(tokens[index + 1]), level)
                index += 3
                continue
            if kind == "paragraph_open":
                inline = tokens[index + 1]
                if inline.content.strip() in PAGE_BREAK_MARKERS and not self.lists:
                    if not _page_is_blank(pdf):
                        pdf.add_page()
                    index += 3
                    continue
            elif kind == "paragraph_close":
                pdf.ln(_LINE_MM)
                if not token.hidden:
                    pdf.ln(1.5)
            elif kind == "inline":
                self.inline(token.children or [])
            elif kind in ("bullet_list_open", "ordered_list_open"):
                start = int(token.attrGet("start") or 1)
                self.lists.append([kind == "ordered_list_open", start])
                self.indent()
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.lists.pop()
                self.indent()
                if not self.lists:
                    pdf.ln(1.5)
            elif kind == "list_item_open":
                self.marker()
            elif kind == "blockquote_open":
                self.quotes += 1
                self.indent()
                pdf.set_text_color(*_GREY)
            elif kind == "blockquote_close":
                self.quotes -= 1
                self.indent()
                if not self.quotes:
                    pdf.set_text_color(*_BLACK)
            elif kind in ("code_block", "fence"):
                self.code(token.content)
            elif kind == "hr":
                self.rule()
            elif kind == "table_open":
                index = self.table(tokens, index)
                continue
            elif kind in ("html_block", "html_inline"):  # never produced with html off
                self.write(token.content)
                self.flush()
                pdf.ln(_LINE_MM)
            index += 1

    def indent(self) -> None:
        levels = min(len(self.lists) + self.quotes, _MAX_INDENT_LEVELS)
        self.pdf.set_left_margin(self.base_margin + levels * _INDENT_MM)
        self.pdf.set_x(self.pdf.l_margin)

    def marker(self) -> None:
        pdf = self.pdf
        state = self.lists[-1]
        if state[0]:
            text = f"{state[1]}."
            state[1] += 1
        else:
            text = "•" if len(self.lists) % 2 else "◦"
        # The marker and the first line of its item share a page.
        if pdf.get_y() + _LINE_MM > pdf.page_break_trigger:
            pdf.add_page()
        width = _INDENT_MM
        pdf.set_x(pdf.l_margin - width)
        pdf.set_font(FAMILY, "", _BODY_PT)
        pdf.cell(width - 1.0, _LINE_MM, text, align=Align.R)
        pdf.set_x(pdf.l_margin)

    def inline(self, children: list[Token]) -> None:
        for child in children:
            kind = child.type
            if kind == "text":
                self.write(child.content)
            elif kind == "code_inline":
                self.write(child.content)
            elif kind == "softbreak":
                self.write(" ")
            elif kind == "hardbreak":
                self.runs.append(("", _HARD_BREAK))
            elif kind == "strong_open":
                self.bold += 1
            elif kind == "strong_close":
                self.bold -= 1
            elif kind == "em_open":
                self.italic += 1
            elif kind == "em_close":
                self.italic -= 1
            elif kind == "link_open":
                self.links.append(str(child.attrGet("href") or ""))
                self.link_text = []
            elif kind == "link_close":
                href = self.links.pop() if self.links else ""
                shown = "".join(self.link_text)
                if href and href not in (shown, "mailto:" + shown):
                    self.write(f" ({href})")
            elif kind == "image":
                # Never fetched: a contract's text cannot depend on a server or a file.
                alt = "".join(_plain_children(child.children or [])) or child.content
                self.italic += 1
                self.write(f"[image: {alt}]" if alt else "[image]")
                self.italic -= 1
            elif kind == "html_inline":
                self.write(child.content)
        self.flush()

    def write(self, text: str) -> None:
        if self.links:
            self.link_text.append(text)
        style = ("B" if self.bold else "") or ("I" if self.italic else "")
        self.runs.append((style, _clean(text).replace("\n", " ")))

    def flush(self) -> None:
        runs, self.runs = self.runs, []
        if runs:
            _write_lines(self.pdf, _break_lines(self.pdf, runs, _BODY_PT), _BODY_PT, _LINE_MM)
            self.pdf.set_font(FAMILY, "", _BODY_PT)

    def code(self, content: str) -> None:
        pdf = self.pdf
        pdf.set_font(FAMILY, "", 9)
        pdf.set_fill_color(242, 242, 242)
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(0, 4.6, _clean(content.rstrip("\n")), fill=True, align=Align.L,
                       new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_fill_color(255, 255, 255)
        pdf.set_font(FAMILY, "", _BODY_PT)
        pdf.ln(2)

    def rule(self) -> None:
        pdf = self.pdf
        if pdf.get_y() + 4 > pdf.page_break_trigger:
            pdf.add_page()
            return
        y = pdf.get_y() + 2
        pdf.set_draw_color(150, 150, 150)
        pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
        pdf.set_draw_color(0, 0, 0)
        pdf.set_y(y + 3)

    def table(self, tokens: list[Token], index: int) -> int:
        """Cells print as plain text (emphasis dropped), the header row bold; fpdf2's table
        repeats it on each page the table spans."""
        rows: list[list[str]] = []
        aligns: list[str] = []
        index += 1
        while index < len(tokens) and tokens[index].type != "table_close":
            token = tokens[index]
            if token.type == "tr_open":
                rows.append([])
            elif token.type in ("th_open", "td_open"):
                if token.type == "th_open":
                    style = str(token.attrGet("style") or "")
                    aligns.append({"text-align:right": "RIGHT",
                                   "text-align:center": "CENTER"}.get(style, "LEFT"))
                rows[-1].append(_plain(tokens[index + 1]))
            index += 1
        pdf = self.pdf
        if rows:
            pdf.set_font(FAMILY, "", 9.5)
            pdf.set_x(pdf.l_margin)
            columns = max(len(row) for row in rows)
            with pdf.table(text_align=tuple(aligns) if len(aligns) == columns else "LEFT",
                           line_height=4.8, padding=1.2, first_row_as_headings=True,
                           headings_style=FontFace(emphasis="BOLD",
                                                   fill_color=(235, 235, 235))) as table:
                for row in rows:
                    cells = table.row()
                    for cell in row + [""] * (columns - len(row)):
                        cells.cell(cell)
            pdf.set_font(FAMILY, "", _BODY_PT)
            pdf.ln(2)
        return index + 1


# --- line breaking -------------------------------------------------------------------------------
# A paragraph's text is laid out here rather than by fpdf2's write(): its line breaker
# re-measures the whole line for every character added (quadratic in the line's length), and
# that was most of a render's time. This one measures each distinct word once (`width_of`) and
# fills lines greedily; fpdf2 then only draws each line's runs (`text()`, which never breaks).
_HARD_BREAK = "\n"  # a run of its own; `write` turns any other newline into a space
_SPACES_RE = re.compile(r"( +)")
_SOFT_HYPHEN = "\u00ad"  # never hyphenated here, so never printed (as fpdf2's write() did)

_Piece = tuple[str, str, float]  # style, text, width
_Line = list[_Piece]


def _break_lines(pdf: _Pdf, runs: Sequence[tuple[str, str]], size: float) -> list[_Line]:
    """`runs` as lines that fit between the margins: the first from the cursor, the others
    from the left margin. Lines break at spaces (dropped there); a word wider than a whole
    line is broken between characters. A word may change style midway ("**re**read")."""
    # fpdf2 keeps its cell margin on both sides of written text: the same measure here.
    right = pdf.w - pdf.r_margin - pdf.c_margin
    full = right - (pdf.l_margin + pdf.c_margin)
    available = right - (pdf.get_x() + pdf.c_margin)
    lines: list[_Line] = []
    line: _Line = []
    used = 0.0
    spaces: list[_Piece] = []  # between the line's last word and the next
    word: list[_Piece] = []

    def new_line() -> None:
        nonlocal line, used, available
        lines.append(line)
        line, used, available = [], 0.0, full
        spaces.clear()

    def place_word() -> None:
        nonlocal used
        if not word:
            return
        gap = sum(piece[2] for piece in spaces)
        width = sum(piece[2] for piece in word)
        if line and used + gap + width > available + 1e-9:
            new_line()
            gap = 0.0
        if used + gap + width <= available + 1e-9 or not width:
            line.extend(spaces)
            line.extend(word)
            used += gap + width
        else:  # wider than a whole line: break between characters
            line.extend(spaces)
            used += gap
            for style, text, _ in word:
                for char in text:
                    char_width = pdf.width_of(style, size, char)
                    if line and used + char_width > available + 1e-9:
                        new_line()
                    line.append((style, char, char_width))
                    used += char_width
        spaces.clear()
        word.clear()

    for style, text in runs:
        if text == _HARD_BREAK:
            place_word()
            new_line()
            continue
        for part in _SPACES_RE.split(text.replace(_SOFT_HYPHEN, "")):
            if not part:
                continue
            piece = (style, part, pdf.width_of(style, size, part))
            if part[0] == " ":
                place_word()
                if line:  # spaces that open a line are dropped
                    spaces.append(piece)
            else:
                word.append(piece)
    place_word()
    if line:
        lines.append(line)
    return lines


def _write_lines(pdf: _Pdf, lines: list[_Line], size: float, height: float) -> None:
    """Draws `lines` one under the other, `height` apart, the first at the cursor; a line that
    would cross the bottom margin starts the next page. Leaves the cursor at the end of the
    last line's text, where fpdf2's write() left it."""
    x = pdf.get_x()
    for index, line in enumerate(lines):
        if index:
            pdf.ln(height)
            x = pdf.l_margin
        if pdf.will_page_break(height):
            pdf.add_page()
        x += pdf.c_margin
        # As fpdf2 places a cell's text: centred in the line's height, on the baseline.
        baseline = pdf.get_y() + 0.5 * height + 0.3 * size / pdf.k
        start = 0
        while start < len(line):  # one text() per run of a style
            style = line[start][0]
            end = start
            while end < len(line) and line[end][0] == style:
                end += 1
            pdf.set_font(FAMILY, style, size)
            pdf.text(x, baseline, "".join(piece[1] for piece in line[start:end]))
            x += sum(piece[2] for piece in line[start:end])
            start = end
        pdf.set_x(x)


def _plain(inline: Token) -> str:
    return _clean("".join(_plain_children(inline.children or [])))


def _plain_children(children: list[Token]) -> list[str]:
    out: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline", "html_inline"):
            out.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif child.type == "image":
            out.append("".join(_plain_children(child.children or [])) or child.content)
    return out


# --- the certificate -----------------------------------------------------------------------------
def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _write_certificate(pdf: _Pdf, doc: RenderInput, certificate: Certificate) -> None:
    pdf.set_font(FAMILY, "B", 16)
    pdf.multi_cell(0, 8, "Certificate of completion", align=Align.L, new_x=XPos.LMARGIN,
                   new_y=YPos.NEXT)
    pdf.set_font(FAMILY, "", 9.5)
    pdf.multi_cell(0, 4.8, (
        f"This page records how the {pdf.body_pages}-page document before it was signed. "
        "The SHA-256 below is that of the unsigned copy (v1) as issued; "
        "times are UTC."), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    _fields(pdf, [
        ("Document", certificate.doc_id),
        ("Title", doc.title),
        ("SHA-256 of v1 (unsigned)", certificate.v1_sha256),
        ("Signature provider", certificate.provider),
        ("Envelope", certificate.envelope_id),
        ("Completed at", _utc(certificate.completed_at)),
    ])
    for number, signer in enumerate(certificate.signers, start=1):
        _heading(pdf, f"Signer {number}: {_clean(signer.role)}", 4)
        _fields(pdf, [
            ("Role", signer.role),
            ("Name", signer.name),
            ("E-mail", signer.email),
            ("Signed at", _utc(signer.signed_at)),
            ("IP address", signer.ip),
            ("User agent", signer.user_agent),
            ("Method", signer.method),
        ])


def _fields(pdf: _Pdf, rows: Sequence[tuple[str, str]]) -> None:
    label_width = 45.0
    for label, value in rows:
        if pdf.get_y() + 5 > pdf.page_break_trigger:
            pdf.add_page()
        y = pdf.get_y()
        pdf.set_font(FAMILY, "B", 9.5)
        lines = pdf.multi_cell(label_width, 4.8, label, dry_run=True, output="LINES")
        label_lines = len(lines) if isinstance(lines, list) else 1
        pdf.multi_cell(label_width, 4.8, label, align=Align.L, new_x=XPos.RIGHT, new_y=YPos.TOP)
        # A digest or an id has no spaces: smaller, and broken anywhere if it must be.
        unbroken = " " not in value
        pdf.set_font(FAMILY, "", 8.5 if unbroken else 9.5)
        pdf.multi_cell(0, 4.8, _clean(value) or "—", align=Align.L, new_x=XPos.LMARGIN,
                       new_y=YPos.NEXT, wrapmode=WrapMode.CHAR if unbroken else WrapMode.WORD)
        pdf.set_y(max(pdf.get_y(), y + 4.8 * label_lines) + 1.0)


# --- the renderer's version ----------------------------------------------------------------------
def _read_font(path: Path) -> bytes:
    return path.read_bytes()


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


def _renderer_version() -> str:
    """What the bytes of a PDF depend on besides its input: this module, the libraries that
    lay out, subset fonts, read images and compress, and the fonts themselves."""
    digest = hashlib.sha256()
    digest.update(Path(__file__).read_bytes())
    for name in ("fpdf2", "markdown-it-py", "fonttools", "pillow"):
        digest.update(f"\0{name}={_package_version(name)}".encode())
    digest.update(f"\0zlib={zlib.ZLIB_RUNTIME_VERSION}".encode())
    digest.update(f"\0python={sys.version_info.major}.{sys.version_info.minor}".encode())
    for style in sorted(FONT_FILES):
        content = _read_font(FONT_DIR / FONT_FILES[style])
        digest.update(f"\0font {FONT_FILES[style]} {len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


RENDERER_VERSION: str = _renderer_version()
