"""documents.render: no database. The PDFs are read back with the small reader below (no PDF
library is a dependency): it inflates the streams and maps each font's codes through its
ToUnicode CMap, which is enough to find what each page says and in which font."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import re
import socket
import subprocess
import sys
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image

from casefile.core.errors import ValidationFailed
from casefile.documents import render
from casefile.documents.render import (
    MAX_LOGO_BYTES,
    MAX_SECTION_MARKDOWN_BYTES,
    RENDERER_VERSION,
    Certificate,
    Layout,
    Margins,
    RenderInput,
    Section,
    SignerEvidence,
    layout_from_json,
    layout_to_json,
    render_pdf,
)

REPO = Path(__file__).resolve().parents[2]

CONSTRUCTS = """Intro with **bold words**, *slanted words*, `inline code` and a
[booking link](https://example.com/b/42).

Raw <b>html</b> and <script>alert(1)</script> stay text.

![studio floor plan](http://192.0.2.1/plan.png) ![secret](/etc/hostname)

- first bullet
- second bullet
  1. nested one
  2. nested two

5. fifth item
6. sixth item

> a quoted remark

| Item | Price |
|:-----|------:|
| Studio hire | 120 € |
| Lights | 30 € |

---

```
fenced line one
  fenced line two
```

### A small heading
Prices in €, “curly quotes”, café, naïve, Straße, Zoë. A literal {pages} and {nb} stay.
"""


def clause(number: int) -> str:
    return (f"The talent agrees to clause {number}: "
            + "the booking covers the hours stated, with breaks as agreed. " * 8
            + "\n\n- hours: 8\n- rate: 400 €\n")


def sample_doc(*, sections: int = 10, layout: Layout | None = None,
               extra: tuple[Section, ...] = ()) -> RenderInput:
    return RenderInput(
        title="Talent SOW — booking 42", doc_id="doc_01HQEXAMPLE",
        sections=extra + tuple(Section(title=f"Clause {n}", markdown=clause(n))
                               for n in range(1, sections + 1)),
        layout=layout or Layout(header="Casefile · Talent SOW", footer="Page {page} of {pages}"))


def sample_certificate(doc_id: str = "doc_01HQEXAMPLE") -> Certificate:
    at = datetime(2026, 3, 4, 10, 20, 30, tzinfo=UTC)
    return Certificate(
        doc_id=doc_id, v1_sha256="ab" * 32, provider="local", envelope_id="env_local_7",
        completed_at=at + timedelta(minutes=5),
        signers=(
            SignerEvidence(role="buyer", name="Zoë Ünal", email="zoe@example.com",
                           signed_at=at, ip="203.0.113.9",
                           user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                           method="typed name and consent"),
            SignerEvidence(role="talent", name="Ana Pérez", email="ana@example.com",
                           signed_at=at.astimezone(timezone(timedelta(hours=2))),
                           ip="2001:db8::1", user_agent="curl/8.5.0",
                           method="typed name and consent"),
        ))


# --- a small PDF reader --------------------------------------------------------------------------
def _objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    out: dict[int, tuple[bytes, bytes | None]] = {}
    for number, body in re.findall(rb"(\d+) 0 obj\s*(.*?)endobj", pdf, re.S):
        if b"stream\n" in body:
            head, _, rest = body.partition(b"stream\n")
            data = rest.rsplit(b"\nendstream", 1)[0]
            if b"/FlateDecode" in head:
                data = zlib.decompress(data)
            out[int(number)] = (head, data)
        else:
            out[int(number)] = (body, None)
    return out


def _ref(head: bytes, key: bytes) -> int:
    return int(re.search(rb"/" + key + rb" (\d+) 0 R", head).group(1))


def _unescape(literal: bytes) -> bytes:
    out = bytearray()
    index = 0
    while index < len(literal):
        byte = literal[index]
        if byte == 0x5C:  # backslash
            nxt = literal[index + 1:index + 2]
            if nxt.isdigit():
                digits = re.match(rb"[0-7]{1,3}", literal[index + 1:]).group(0)
                out.append(int(digits, 8))
                index += 1 + len(digits)
                continue
            out += {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b",
                    b"f": b"\f"}.get(nxt, nxt)
            index += 2
            continue
        out.append(byte)
        index += 1
    return bytes(out)


def pdf_pages(pdf: bytes) -> list[list[tuple[str, str]]]:
    """Per page, the (font, text) runs it draws, in order."""
    objects = _objects(pdf)
    pages_root = next(head for head, _ in objects.values() if b"/Type /Pages" in head)
    kids = [int(n) for n in re.findall(rb"(\d+) 0 R", pages_root.split(b"/Kids")[1])]
    cmaps: dict[int, tuple[str, dict[int, str]]] = {}
    pages = []
    for kid in kids:
        head, _ = objects[kid]
        resources = objects[_ref(head, b"Resources")][0]
        fonts = dict(re.findall(rb"/(F\d+) (\d+) 0 R", resources))
        runs: list[tuple[str, str]] = []
        content = objects[_ref(head, b"Contents")][1] or b""
        font = None
        for match in re.finditer(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) Tj", content, re.S):
            if match.group(1):
                font = int(fonts[match.group(1)])
                continue
            if font not in cmaps:
                font_head = objects[font][0]
                name = re.search(rb"/BaseFont /\w+\+(\w+)", font_head).group(1).decode()
                cmap = objects[_ref(font_head, b"ToUnicode")][1].decode()
                mapping = {int(a, 16): chr(int(b, 16))
                           for a, b in re.findall(r"<([0-9A-F]{4})> <([0-9A-F]{4,})>", cmap)}
                cmaps[font] = (name, mapping)
            name, mapping = cmaps[font]
            raw = _unescape(match.group(2))
            text = "".join(mapping.get(int.from_bytes(raw[i:i + 2], "big"), "?")
                           for i in range(0, len(raw), 2))
            runs.append((name, text))
        pages.append(runs)
    return pages


def page_text(runs: list[tuple[str, str]]) -> str:
    return re.sub(r"\s+", " ", " ".join(text for _, text in runs))


def all_text(pdf: bytes) -> str:
    return " ".join(page_text(runs) for runs in pdf_pages(pdf))


def page_count(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\n", pdf))


def png(width: int = 40, height: int = 20) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


# --- reproducibility -----------------------------------------------------------------------------
def test_the_same_input_gives_the_same_bytes_in_one_process():
    first = render_pdf(sample_doc())
    assert first.startswith(b"%PDF-")
    assert render_pdf(sample_doc()) == first
    assert b"/CreationDate (D:20000101000000Z)" in first
    assert b"/ModDate" not in first and b"xpacket" not in first  # no clock-stamped metadata


SUBPROCESS = """
import hashlib, sys
from tests.documents.test_render import sample_doc, sample_certificate
from casefile.documents.render import render_pdf, RENDERER_VERSION
print(hashlib.sha256(render_pdf(sample_doc())).hexdigest())
print(hashlib.sha256(render_pdf(sample_doc(), certificate=sample_certificate())).hexdigest())
print(RENDERER_VERSION)
"""


def test_the_same_input_gives_the_same_bytes_in_another_process():
    """Another interpreter, another hash seed, another clock: the same bytes."""
    env = {**os.environ, "PYTHONHASHSEED": "12345",
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    done = subprocess.run([sys.executable, "-c", SUBPROCESS], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=True)
    v1, v2, version = done.stdout.split()
    assert v1 == hashlib.sha256(render_pdf(sample_doc())).hexdigest()
    assert v2 == hashlib.sha256(
        render_pdf(sample_doc(), certificate=sample_certificate())).hexdigest()
    assert version == RENDERER_VERSION


# --- Markdown ------------------------------------------------------------------------------------
def test_each_markdown_construct_is_drawn():
    pdf = render_pdf(sample_doc(sections=0, extra=(Section("Terms", CONSTRUCTS),)))
    runs = [run for page in pdf_pages(pdf) for run in page]
    text = all_text(pdf)
    fonts = {}
    for name, part in runs:
        fonts.setdefault(part.strip(), name)

    assert "Talent SOW — booking 42" in text and "Document doc_01HQEXAMPLE" in text
    assert fonts["Terms"] == "DejaVuSansBold"  # the section's title
    assert fonts["bold words"] == "DejaVuSansBold"
    assert fonts["slanted words"] == "DejaVuSansOblique"
    assert "inline code" in text
    assert "booking link (https://example.com/b/42)" in text
    for item in ("• first bullet", "• second bullet", "1. nested one", "2. nested two",
                 "5. fifth item", "6. sixth item", "a quoted remark", "Studio hire",
                 "120 €", "fenced line one", "fenced line two"):
        assert item in text, item
    assert fonts["Item"] == fonts["Price"] == "DejaVuSansBold"  # the table's header row
    assert fonts["A small heading"] == "DejaVuSansBold"
    # The rule is a drawn line across the text width.
    assert re.search(rb"[\d.]+ [\d.]+ m [\d.]+ [\d.]+ l S", b"".join(
        data or b"" for _, data in _objects(pdf).values()))


def test_raw_html_is_text_and_images_are_only_their_alt_text(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the renderer opened a socket")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    pdf = render_pdf(sample_doc(sections=0, extra=(Section("Terms", CONSTRUCTS),)))
    text = all_text(pdf)
    assert "Raw <b>html</b> and <script>alert(1)</script> stay text." in text
    assert "[image: studio floor plan]" in text and "[image: secret]" in text
    assert b"/Subtype /Image" not in pdf
    hostname = Path("/etc/hostname")
    if hostname.exists() and hostname.read_text().strip():
        assert hostname.read_text().strip() not in text


def test_placeholders_in_a_clause_are_its_own_text():
    text = all_text(render_pdf(sample_doc(sections=0, extra=(Section("Terms", CONSTRUCTS),))))
    assert "A literal {pages} and {nb} stay." in text
    assert "Straße" in text and "“curly quotes”" in text and "Zoë" in text and "naïve" in text


def test_page_breaks_add_pages():
    plain = sample_doc(sections=2)
    base = page_count(render_pdf(plain))
    broken = replace(plain, sections=tuple(replace(s, page_break_before=True)
                                           for s in plain.sections))
    assert page_count(render_pdf(broken)) == base + 2  # one before each section

    marker = Section("Annex", "Before the break.\n\n\\pagebreak\n\nAfter the break.\n\n"
                              "\\newpage\n\nLast page.")
    pdf = render_pdf(sample_doc(sections=0, extra=(marker,)))
    pages = [page_text(runs) for runs in pdf_pages(pdf)]
    assert len(pages) == 3
    assert "Before the break." in pages[0] and "After the break." in pages[1]
    assert "Last page." in pages[2] and "\\pagebreak" not in " ".join(pages)


def test_a_break_on_a_fresh_page_adds_no_blank_page():
    doc = sample_doc(sections=0, extra=(Section("One", "\\pagebreak\n\ntext"),))
    first = replace(doc, title="", sections=(Section("", "\\pagebreak\n\ntext",
                                                     page_break_before=True),))
    assert page_count(render_pdf(doc)) == 2
    assert page_count(render_pdf(first)) == 2  # the title's line is on page one


def test_markdown_over_the_limit_is_refused_naming_the_section():
    big = Section("Huge", "x" * (MAX_SECTION_MARKDOWN_BYTES + 1))
    with pytest.raises(ValidationFailed) as caught:
        render_pdf(sample_doc(sections=1, extra=(big,)))
    assert [d["field"] for d in caught.value.details] == ["sections[0].markdown"]
    render_pdf(sample_doc(sections=0, extra=(Section("Fits", "y" * 10_000),)))


# --- line breaking -------------------------------------------------------------------------------
def _laid_out(runs: list[tuple[str, str]]) -> tuple[render._Pdf, list[render._Line]]:
    pdf = render._Pdf(sample_doc(sections=0))
    pdf.add_page()
    return pdf, render._break_lines(pdf, runs, 10.5)


def test_lines_are_filled_greedily_and_break_inside_a_word_only_when_it_is_wider_than_a_line():
    text = "The talent agrees to the terms of this booking, as stated below. " * 12
    runs = [("", text), ("B", "bold words"), ("", " and "), ("I", "slanted"),
            ("", "glued " + "x" * 300 + " end.")]
    pdf, lines = _laid_out(runs)
    width = pdf.w - pdf.l_margin - pdf.r_margin - 2 * pdf.c_margin
    texts = ["".join(piece[1] for piece in line) for line in lines]
    assert len(lines) > 5
    assert all(sum(piece[2] for piece in line) <= width + 1e-6 for line in lines)
    assert all(line == line.strip() for line in texts)  # the spaces at a break are dropped

    # Read back, the lines are the text: broken at spaces, and inside the one word too wide.
    joined = texts[0]
    for line in texts[1:]:
        joined += line if joined.endswith("x") and line.startswith("x") else " " + line
    assert joined == re.sub(r"\s+", " ", "".join(part for _, part in runs)).strip()
    assert sum(1 for line in texts if set(line) == {"x"}) >= 2
    assert any("slantedglued" in line for line in texts)  # a word changing style stays whole

    # Greedy: the first word of each next line would not have fitted on the line before.
    space = pdf.width_of("", 10.5, " ")
    for line, after in zip(lines, lines[1:], strict=False):
        first_word = 0.0
        for _, part, part_width in after:
            if part.startswith(" "):
                break
            first_word += part_width
        assert sum(piece[2] for piece in line) + space + first_word > width


def test_a_hard_break_starts_a_line_and_a_long_paragraph_continues_on_the_next_page():
    _, lines = _laid_out([("", "first line"), ("", render._HARD_BREAK), ("", "second")])
    assert ["".join(piece[1] for piece in line) for line in lines] == ["first line", "second"]

    words = [f"w{n}" for n in range(1500)]
    pdf = render_pdf(sample_doc(sections=0, extra=(Section("Long", " ".join(words)),)))
    pages = [page_text(runs) for runs in pdf_pages(pdf)]
    assert len(pages) >= 3
    assert re.findall(r"\bw\d+\b", " ".join(pages)) == words
    for number, text in enumerate(pages, start=1):
        assert text.count("Casefile · Talent SOW") == 1
        assert f"Page {number} of {len(pages)}" in text


def test_writing_a_pdf_logs_nothing_from_fonttools(caplog):
    """fpdf2 subsets fonts with fontTools, which reports each table it prunes."""
    with caplog.at_level(logging.DEBUG):
        render_pdf(sample_doc(sections=1))
    assert not [record for record in caplog.records if record.name.startswith("fontTools")]


# --- layout --------------------------------------------------------------------------------------
def test_header_and_footer_on_every_page_with_page_numbers():
    pdf = render_pdf(sample_doc(sections=12))
    pages = [page_text(runs) for runs in pdf_pages(pdf)]
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        assert text.count("Casefile · Talent SOW") == 1
        assert f"Page {number} of {len(pages)}" in text
    assert b"::placeholder" not in b"".join(data or b"" for _, data in _objects(pdf).values())


def test_letter_and_margins_change_the_page():
    a4 = render_pdf(sample_doc())
    letter = render_pdf(sample_doc(layout=Layout(page_size="Letter")))
    assert b"/MediaBox [0 0 595.28 841.89]" in a4
    assert b"/MediaBox [0 0 612.00 792.00]" in letter
    narrow = render_pdf(sample_doc(layout=Layout(margins=Margins(left=50, right=50))))
    assert page_count(narrow) > page_count(a4)


def test_layout_from_json_reads_every_field_and_round_trips():
    logo = png()
    data = {"page_size": "Letter", "margins_mm": {"top": 30, "left": 15},
            "header": "Studio House Rules", "footer": "{page}/{pages}",
            "logo_png_base64": base64.b64encode(logo).decode(), "logo_width_mm": 25,
            "page_break_before": ["cls_2"]}
    layout = layout_from_json(data)
    assert layout == Layout(page_size="Letter", margins=Margins(top=30, left=15),
                            header="Studio House Rules", footer="{page}/{pages}",
                            logo_png=logo, logo_width_mm=25, page_break_before=("cls_2",))
    assert layout_from_json(layout_to_json(layout)) == layout
    assert layout_from_json({}) == Layout()


def test_layout_from_json_names_each_bad_field():
    with pytest.raises(ValidationFailed) as caught:
        layout_from_json({
            "page_size": "A5", "margins_mm": {"top": 5, "left": "wide", "inner": 3},
            "header": "two\nlines", "footer": "Page {page} of {pagez}",
            "logo_width_mm": 500, "page_break_before": [1], "colour": "red",
            "logo_png_base64": "not base64!",
        })
    fields = sorted(d["field"] for d in caught.value.details)
    assert fields == sorted([
        "colour", "page_size", "margins_mm.inner", "margins_mm.left", "margins_mm.top",
        "header", "footer", "logo_width_mm", "page_break_before", "logo_png_base64"])
    assert caught.value.status == 422
    messages = {d["field"]: d["message"] for d in caught.value.details}
    assert "{pagez}" in messages["footer"] and messages["colour"] == "unknown field"
    with pytest.raises(ValidationFailed):
        layout_from_json(["not", "an", "object"])  # type: ignore[arg-type]


def test_a_logo_is_drawn_and_a_bad_logo_is_refused():
    logo = png()
    pdf = render_pdf(sample_doc(layout=layout_from_json(
        {"logo_png_base64": base64.b64encode(logo).decode(), "logo_width_mm": 20})))
    assert pdf.count(b"/Subtype /Image") == 1  # one image object, drawn on every page
    assert render_pdf(sample_doc(layout=Layout(logo_png=logo, logo_width_mm=20))) == pdf

    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, format="GIF")
    noisy = io.BytesIO()
    Image.frombytes("RGB", (400, 300), os.urandom(400 * 300 * 3)).save(noisy, format="PNG")
    assert len(noisy.getvalue()) > MAX_LOGO_BYTES
    bad = {
        "a GIF": gif.getvalue(),
        "a truncated PNG": logo[:30],
        "too many pixels": png(5000, 1),
        "too large": noisy.getvalue(),
    }
    for label, content in bad.items():
        with pytest.raises(ValidationFailed) as caught:
            layout_from_json({"logo_png_base64": base64.b64encode(content).decode()})
        assert [d["field"] for d in caught.value.details] == ["logo_png_base64"], label
        with pytest.raises(ValidationFailed) as caught:
            Layout(logo_png=content)
        assert [d["field"] for d in caught.value.details] == ["logo_png"], label


# --- the certificate -----------------------------------------------------------------------------
def test_the_certificate_follows_the_v1_pages_unchanged():
    doc = sample_doc()
    v1 = render_pdf(doc)
    v2 = render_pdf(doc, certificate=sample_certificate())
    assert v2 != v1 and render_pdf(doc, certificate=sample_certificate()) == v2
    v1_pages, v2_pages = pdf_pages(v1), pdf_pages(v2)
    assert len(v2_pages) == len(v1_pages) + 1
    # The leading pages draw the same runs: the certificate does not count in "of N".
    assert v2_pages[:len(v1_pages)] == v1_pages

    certificate = page_text(v2_pages[-1])
    for expected in ("Certificate of completion", "doc_01HQEXAMPLE", "ab" * 32, "local",
                     "env_local_7", "2026-03-04T10:25:30Z",
                     "Signer 1: buyer", "Zoë Ünal", "zoe@example.com", "2026-03-04T10:20:30Z",
                     "203.0.113.9", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                     "typed name and consent",
                     "Signer 2: talent", "Ana Pérez", "2001:db8::1", "curl/8.5.0"):
        assert expected in certificate, expected
    assert "Casefile · Talent SOW" not in certificate  # the layout's header is the body's
    assert certificate.count("2026-03-04T10:20:30Z") == 2  # +02:00 printed in UTC


def test_a_long_certificate_spans_pages():
    many = replace(sample_certificate(), signers=sample_certificate().signers * 12)
    v1 = render_pdf(sample_doc(sections=1))
    v2 = render_pdf(sample_doc(sections=1), certificate=many)
    extra = page_count(v2) - page_count(v1)
    assert extra >= 2
    assert page_text(pdf_pages(v2)[-1]).endswith(f"doc_01HQEXAMPLE · page {extra}")


def test_a_certificate_must_match_the_document():
    bad = replace(sample_certificate("doc_other"), v1_sha256="XYZ",
                  completed_at=datetime(2026, 1, 1))  # noqa: DTZ001 - naive on purpose
    with pytest.raises(ValidationFailed) as caught:
        render_pdf(sample_doc(), certificate=bad)
    assert sorted(d["field"] for d in caught.value.details) == [
        "certificate.completed_at", "certificate.doc_id", "certificate.v1_sha256"]


# --- the renderer's version ----------------------------------------------------------------------
def test_the_renderer_version_is_stable_and_covers_the_fonts(monkeypatch):
    assert re.fullmatch(r"[0-9a-f]{64}", RENDERER_VERSION)
    assert render._renderer_version() == RENDERER_VERSION

    real = render._read_font

    def one_byte_changed(path: Path) -> bytes:
        content = bytearray(real(path))
        if path.name == "DejaVuSans-Oblique.ttf":
            content[-1] ^= 0x01
        return bytes(content)

    monkeypatch.setattr(render, "_read_font", one_byte_changed)
    assert render._renderer_version() != RENDERER_VERSION


def test_a_pack_of_three_ten_clause_documents_renders():
    """No timing assertion (machines differ); the figure goes in the report."""
    pdfs = [render_pdf(replace(sample_doc(), doc_id=f"doc_{n}")) for n in range(3)]
    assert len({hashlib.sha256(p).hexdigest() for p in pdfs}) == 3
