"""Each kind of redaction, and the refusals (422 naming the entry)."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from casefile.core.errors import ValidationFailed
from casefile.evidence.redaction import check_map, redact
from tests.evidence.helpers import JSON_DOC, TEXT, TEXT_MAP, png


def run(data: bytes, content_type: str, pii_map) -> bytes:
    return redact(data, content_type, check_map(pii_map, content_type))


def test_text_spans_are_replaced_by_their_kind():
    out = run(TEXT, "text/plain; charset=utf-8", TEXT_MAP)
    assert out.decode() == ("Report from [REDACTED:name] <[REDACTED:email]>, phone "
                            "[REDACTED:phone].")


def test_text_spans_count_characters_not_bytes_and_overlaps_merge():
    text = "Zoë Ångström lives at 1 Rue de l'Église"
    name = [0, 12]
    address = [22, len(text)]
    inner = [25, 28]  # "Rue" within the address
    out = run(text.encode(), "text/plain", [{"kind": "name", "locator": name},
                                            {"kind": "address", "locator": address},
                                            {"kind": "other", "locator": inner}])
    assert out.decode() == "[REDACTED:name] lives at [REDACTED:address,other]"
    latin = run(text.encode("latin-1"), "text/plain; charset=latin-1",
                [{"kind": "name", "locator": name}])
    assert latin.decode("latin-1") == "[REDACTED:name] lives at 1 Rue de l'Église"


def test_json_pointers_replace_values_with_their_kind():
    out = json.loads(run(JSON_DOC, "application/json", [
        {"kind": "name", "locator": "/user/name"},
        {"kind": "id_number", "locator": "/user/ids/1"},
        {"kind": "other", "locator": "/a~1b/~0k"},  # RFC 6901 escapes
    ]))
    assert out == {"user": {"name": "[REDACTED:name]", "email": "a@example.com",
                            "ids": ["X1", "[REDACTED:id_number]"]},
                   "status": "approved", "a/b": {"~k": "[REDACTED:other]"}}


def test_nested_pointers_and_the_whole_document():
    out = json.loads(run(JSON_DOC, "application/vnd.persona+json", [
        {"kind": "email", "locator": "/user/email"}, {"kind": "other", "locator": "/user"}]))
    assert out["user"] == "[REDACTED:other]" and out["status"] == "approved"
    assert json.loads(run(JSON_DOC, "application/json", [{"kind": "other", "locator": ""}])
                      ) == "[REDACTED:other]"


@pytest.mark.parametrize("pointer", ["/user/phone", "/user/ids/2", "/user/ids/01",
                                     "/user/ids/-", "/status/x", "user", "/a~2b"])
def test_a_pointer_that_does_not_resolve_is_named(pointer):
    with pytest.raises(ValidationFailed) as refused:
        run(JSON_DOC, "application/json", [{"kind": "name", "locator": "/user/name"},
                                           {"kind": "name", "locator": pointer}])
    assert refused.value.details["index"] == 1
    assert pointer in refused.value.message


def _pixels(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def test_image_boxes_are_black_inside_and_unchanged_outside():
    original = png(40, 30)
    boxes = [[5, 4, 10, 6], [30, 20, 10, 10]]
    out = run(original, "image/png", [{"kind": "face", "locator": boxes[0]},
                                      {"kind": "id_number", "locator": boxes[1]}])
    before, after = _pixels(original), _pixels(out)
    assert after.size == before.size

    def inside(x, y):
        return any(bx <= x < bx + bw and by <= y < by + bh for bx, by, bw, bh in boxes)

    for x in range(40):
        for y in range(30):
            if inside(x, y):
                assert after.getpixel((x, y)) == (0, 0, 0), (x, y)
            else:
                assert after.getpixel((x, y)) == before.getpixel((x, y)), (x, y)


def test_jpeg_boxes_are_black_and_metadata_is_dropped():
    image = Image.new("RGB", (64, 48), (250, 250, 250))
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # any tag: the copy carries none
    raw = io.BytesIO()
    image.save(raw, format="JPEG", exif=exif.tobytes())
    out = run(raw.getvalue(), "image/jpeg", [{"kind": "face", "locator": [16, 16, 16, 16]}])
    redacted = Image.open(io.BytesIO(out))
    assert redacted.format == "JPEG" and not redacted.getexif()
    pixels = redacted.convert("RGB")
    assert max(pixels.getpixel((24, 24))) < 16  # black, within JPEG's loss
    assert min(pixels.getpixel((4, 4))) > 235


def test_palette_and_transparent_pngs_are_filled_black():
    image = Image.new("P", (10, 10), 3)
    raw = io.BytesIO()
    image.save(raw, format="PNG", transparency=0)
    out = _pixels(run(raw.getvalue(), "image/png", [{"kind": "face", "locator": [0, 0, 5, 5]}]))
    assert out.getpixel((1, 1)) == (0, 0, 0)


@pytest.mark.parametrize("content_type,locator", [
    ("text/plain", "/user"), ("text/plain", [1, 2, 3, 4]),
    ("application/json", [0, 4]), ("application/json", [0, 0, 1, 1]),
    ("image/png", [0, 4]), ("image/png", "/x"),
])
def test_a_locator_of_the_wrong_kind_is_refused_with_its_index(content_type, locator):
    with pytest.raises(ValidationFailed) as refused:
        check_map([{"kind": "name", "locator": "/" if content_type == "application/json"
                    else [0, 1] if content_type == "text/plain" else [0, 0, 1, 1]},
                   {"kind": "email", "locator": locator}], content_type)
    assert refused.value.status == 422 and refused.value.details["index"] == 1


@pytest.mark.parametrize("entry", [
    {"kind": "ssn", "locator": [0, 1]}, {"kind": "name"}, {"kind": "name", "locator": [0]},
    {"kind": "name", "locator": [0, 1], "extra": 1}, {"kind": "name", "locator": [0.5, 2]},
    {"kind": "name", "locator": [True, 2]}, "name",
])
def test_malformed_entries_are_refused(entry):
    with pytest.raises(ValidationFailed) as refused:
        check_map([entry], "text/plain")
    assert refused.value.details["index"] == 0


@pytest.mark.parametrize("span", [[5, 5], [6, 2], [-1, 3], [0, len(TEXT) + 1]])
def test_spans_outside_the_text_are_refused(span):
    with pytest.raises(ValidationFailed, match=r"pii_map\[0\]"):
        run(TEXT, "text/plain", [{"kind": "name", "locator": span}])


@pytest.mark.parametrize("box", [[35, 0, 10, 10], [0, 0, 0, 5], [-1, 0, 3, 3], [0, 25, 5, 6]])
def test_boxes_outside_the_image_are_refused(box):
    with pytest.raises(ValidationFailed) as refused:
        run(png(40, 30), "image/png", [{"kind": "face", "locator": box}])
    assert refused.value.details["index"] == 0


@pytest.mark.parametrize("data,content_type", [
    (b"not an image", "image/png"), (png()[:60], "image/png"), (png(), "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png"), (b"{", "application/json"),
    (b"\xff\xfe\xfa", "text/plain"), (b"abc", "text/plain; charset=nope"),
])
def test_damaged_content_is_422_never_a_crash(data, content_type):
    with pytest.raises(ValidationFailed):
        run(data, content_type, [])


def test_huge_images_are_refused_before_decoding(settings):
    settings.EVIDENCE_MAX_PIXELS = 100
    with pytest.raises(ValidationFailed, match="pixels"):
        run(png(20, 20), "image/png", [])


@pytest.mark.parametrize("content_type", ["application/pdf", "application/octet-stream", "",
                                          "image/gif"])
def test_content_that_cannot_be_redacted_is_refused(content_type):
    with pytest.raises(ValidationFailed, match="cannot make a redacted copy"):
        check_map([], content_type)
