"""The redacted derivative of an original, made from its PII map (DESIGN 9.2).

A PII map is a list of `{kind, locator}`. The locator's shape says what it points at, and it
must suit the content type:

| content type | locator | replaced by |
|---|---|---|
| `text/*` | `[start, end)`: a span in characters of the decoded text | `[REDACTED:kind]` |
| `application/json`, `*+json` | an RFC 6901 JSON pointer (`"/user/name"`) | `"[REDACTED:kind]"` |
| `image/png`, `image/jpeg` | `[x, y, w, h]`: a box in pixels of the stored image | black |

Text spans become `[REDACTED:kind]` rather than a mask of the same length: the reader sees
what kind of thing was removed, and the length of a name or number is not given away.
Overlapping spans are merged into one marker naming every kind. Images are re-encoded without
their metadata (EXIF, including GPS position, and text chunks), which is PII too; the boxes are in
the stored pixel grid, before any EXIF rotation, and the result is turned upright afterwards.

Every refusal is a ValidationFailed (422) naming the entry by its index in the map. Other content
types are refused: no redacted copy could be made of them, and the redacted copy is what staff
see by default.
"""

from __future__ import annotations

import io
import json
from typing import Any

from django.conf import settings
from PIL import Image

from casefile.core.errors import ValidationFailed

PII_KINDS = ("name", "email", "phone", "address", "dob", "id_number", "face", "other")
IMAGE_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}
SUPPORTED = ("text/*", "application/json", "application/*+json", *IMAGE_FORMATS)
MAX_ENTRIES = 1000


def media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """`text/plain; charset=latin-1` → ("text/plain", {"charset": "latin-1"})."""
    base, *params = content_type.split(";")
    parsed = {}
    for param in params:
        name, _, value = param.partition("=")
        parsed[name.strip().lower()] = value.strip().strip('"')
    return base.strip().lower(), parsed


def family(content_type: str) -> str:
    """`text`, `json` or `image`; ValidationFailed for what cannot be redacted."""
    base, _ = media_type(content_type)
    if base == "application/json" or (base.startswith("application/") and base.endswith("+json")):
        return "json"
    if base.startswith("text/"):
        return "text"
    if base in IMAGE_FORMATS:
        return "image"
    raise ValidationFailed(
        f"cannot make a redacted copy of {base or 'content without a type'}: evidence must be "
        f"one of {', '.join(SUPPORTED)}", details={"content_type": content_type,
                                                   "supported": list(SUPPORTED)})


LOCATOR_FAMILY = {"span": "text", "pointer": "json", "box": "image"}


def locator_shape(locator: Any) -> str | None:
    if isinstance(locator, str):
        return "pointer"
    if isinstance(locator, list | tuple) and all(
            isinstance(n, int) and not isinstance(n, bool) for n in locator):
        return {2: "span", 4: "box"}.get(len(locator))
    return None


def _bad(index: int, message: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(f"pii_map[{index}]: {message}", details={"index": index, **details})


def check_map(pii_map: list[dict[str, Any]], content_type: str) -> list[dict[str, Any]]:
    """The map as stored (`[{kind, locator}]`, locators as lists), or 422 naming the first bad
    entry: an unknown kind, or a locator that is not of the content type's kind."""
    wanted = family(content_type)
    if not isinstance(pii_map, list):
        raise ValidationFailed("pii_map must be a list of {kind, locator}")
    if len(pii_map) > MAX_ENTRIES:
        raise ValidationFailed(f"pii_map has more than {MAX_ENTRIES} entries")
    checked = []
    for index, entry in enumerate(pii_map):
        if not isinstance(entry, dict) or set(entry) != {"kind", "locator"}:
            raise _bad(index, "each entry is {kind, locator} and nothing else")
        kind, locator = entry["kind"], entry["locator"]
        if kind not in PII_KINDS:
            raise _bad(index, f"unknown kind {kind!r}", kinds=list(PII_KINDS))
        shape = locator_shape(locator)
        if shape is None:
            raise _bad(index, "a locator is [start, end), a JSON pointer or [x, y, w, h]")
        if LOCATOR_FAMILY[shape] != wanted:
            raise _bad(index, f"a {shape} locator cannot point into {media_type(content_type)[0]}"
                       f" (it takes {_expected(wanted)})", locator=shape)
        if shape == "pointer":
            _pointer_tokens(locator, index)
        checked.append({"kind": kind, "locator": list(locator) if shape != "pointer"
                        else locator})
    return checked


def _expected(wanted: str) -> str:
    return {"text": "text spans [start, end)", "json": "JSON pointers",
            "image": "image boxes [x, y, w, h]"}[wanted]


def redact(data: bytes, content_type: str, pii_map: list[dict[str, Any]]) -> bytes:
    """The redacted derivative. `pii_map` must have passed `check_map` for this content type."""
    kind = family(content_type)
    if kind == "text":
        return _redact_text(data, content_type, pii_map)
    if kind == "json":
        return _redact_json(data, pii_map)
    return _redact_image(data, content_type, pii_map)


def marker(kinds: list[str] | str) -> str:
    names = [kinds] if isinstance(kinds, str) else sorted(set(kinds))
    return f"[REDACTED:{','.join(names)}]"


# --- text ---------------------------------------------------------------------------------------
def _charset(content_type: str) -> str:
    return media_type(content_type)[1].get("charset") or "utf-8"


def decode_text(data: bytes, content_type: str) -> str:
    charset = _charset(content_type)
    try:
        return data.decode(charset)
    except LookupError:
        raise ValidationFailed(f"unknown charset {charset!r}") from None
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"the text is not valid {charset} (byte {exc.start})") from None


def _redact_text(data: bytes, content_type: str, pii_map: list[dict[str, Any]]) -> bytes:
    text = decode_text(data, content_type)
    spans = []
    for index, entry in enumerate(pii_map):
        start, end = entry["locator"]
        if not 0 <= start < end <= len(text):
            raise _bad(index, f"span [{start}, {end}) is not within the text's {len(text)} "
                              "characters (start < end)", length=len(text))
        spans.append((start, end, entry["kind"]))
    merged: list[tuple[int, int, list[str]]] = []
    for start, end, kind in sorted(spans):
        if merged and start < merged[-1][1]:  # overlaps the previous span: one marker for both
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), [*last[2], kind])
        else:
            merged.append((start, end, [kind]))
    out, at = [], 0
    for start, end, kinds in merged:
        out += [text[at:start], marker(kinds)]
        at = end
    out.append(text[at:])
    return "".join(out).encode(_charset(content_type))  # markers are ASCII: every charset has them


# --- JSON ---------------------------------------------------------------------------------------
def _pointer_tokens(pointer: str, index: int) -> list[str]:
    """RFC 6901: "" is the whole document; otherwise "/"-separated tokens, with ~1 for "/" and
    ~0 for "~"."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise _bad(index, f"JSON pointer {pointer!r} must be empty or start with '/'",
                   pointer=pointer)
    tokens = []
    for raw in pointer[1:].split("/"):
        if "~" in raw.replace("~0", "").replace("~1", ""):
            raise _bad(index, f"JSON pointer {pointer!r}: '~' must be followed by 0 or 1",
                       pointer=pointer)
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tokens


def _resolve(document: Any, tokens: list[str], pointer: str, index: int) -> tuple[Any, Any]:
    """The container holding the pointed-at value and its key (None, None for the root)."""
    parent: Any = None
    key: Any = None
    current = document
    for depth, token in enumerate(tokens):
        where = "/" + "/".join(tokens[:depth]) if depth else "the document"
        if isinstance(current, dict):
            if token not in current:
                raise _bad(index, f"JSON pointer {pointer!r} does not resolve: no member "
                                  f"{token!r} in {where}", pointer=pointer)
            parent, key, current = current, token, current[token]
        elif isinstance(current, list):
            canonical = token.isdigit() and (len(token) == 1 or not token.startswith("0"))
            if not (canonical and int(token) < len(current)):
                raise _bad(index, f"JSON pointer {pointer!r} does not resolve: {token!r} is not "
                                  f"an index of the {len(current)} items in {where}",
                           pointer=pointer)
            parent, key, current = current, int(token), current[int(token)]
        else:
            raise _bad(index, f"JSON pointer {pointer!r} does not resolve: {where} is not an "
                              "object or array", pointer=pointer)
    return parent, key


def _redact_json(data: bytes, pii_map: list[dict[str, Any]]) -> bytes:
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed(f"the original is not valid JSON: {exc}") from None
    targets = []
    for index, entry in enumerate(pii_map):
        tokens = _pointer_tokens(entry["locator"], index)
        _resolve(document, tokens, entry["locator"], index)  # every pointer, against the original
        targets.append((tokens, entry))
    # Deepest first, so a pointer inside a value another pointer replaces still resolves.
    for tokens, entry in sorted(targets, key=lambda t: -len(t[0])):
        if not tokens:
            document = marker(entry["kind"])
            continue
        parent, key = _resolve(document, tokens, entry["locator"], 0)
        parent[key] = marker(entry["kind"])
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


# --- images -------------------------------------------------------------------------------------
_T = Image.Transpose
_EXIF_TRANSPOSE = {2: _T.FLIP_LEFT_RIGHT, 3: _T.ROTATE_180, 4: _T.FLIP_TOP_BOTTOM,
                   5: _T.TRANSPOSE, 6: _T.ROTATE_270, 7: _T.TRANSVERSE, 8: _T.ROTATE_90}


def _redact_image(data: bytes, content_type: str, pii_map: list[dict[str, Any]]) -> bytes:
    expected = IMAGE_FORMATS[media_type(content_type)[0]]
    try:
        image = Image.open(io.BytesIO(data))
        if image.format != expected:
            raise ValidationFailed(f"the data is {image.format or 'not an image'}, not the "
                                   f"{expected} its content type says")
        width, height = image.size
        if width * height > settings.EVIDENCE_MAX_PIXELS:
            raise ValidationFailed(f"the image is {width}×{height}: more than "
                                   f"{settings.EVIDENCE_MAX_PIXELS} pixels")
        image.load()
    except ValidationFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds for damaged data
        raise ValidationFailed(f"the image cannot be read: {exc}") from None
    for index, entry in enumerate(pii_map):
        x, y, w, h = entry["locator"]
        if not (x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= width and y + h <= height):
            raise _bad(index, f"box [{x}, {y}, {w}, {h}] is not within the {width}×{height} "
                              "image (w and h above 0)", width=width, height=height)
    orientation = image.getexif().get(0x0112, 1)
    work: Image.Image = image
    if work.mode not in ("RGB", "RGBA", "L"):
        has_alpha = "A" in work.getbands() or "transparency" in work.info
        work = work.convert("RGBA" if has_alpha else "RGB")
    black: float | tuple[int, ...] = 0 if work.mode == "L" else (0,) * len(work.getbands())
    if work.mode == "RGBA":
        black = (0, 0, 0, 255)
    for entry in pii_map:
        x, y, w, h = entry["locator"]
        work.paste(black, (x, y, x + w, y + h))
    upright = _EXIF_TRANSPOSE.get(orientation)  # the EXIF tag is dropped, so apply it
    if upright is not None:
        work = work.transpose(upright)
    work.info.clear()  # no metadata in the copy
    out = io.BytesIO()
    if expected == "JPEG":
        work.convert("RGB").save(out, format="JPEG", quality=95)
    else:
        work.save(out, format="PNG")
    return out.getvalue()
