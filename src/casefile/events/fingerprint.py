"""Fingerprints: messages that differ only in their variable parts share one.

Stateless on purpose: a fingerprint is a pure function of the message (and component, service,
event type), so parallel ingesters agree without coordination and re-ingesting gives the same
answer. The template is the message with each variable part replaced by `<*>`; one set of
generic rules, for any log:

- URLs are values;
- `key=value`: the value is variable when it is a value by the rules below or quoted (an empty
  value stays empty: absence is information); a word value (`status=failed`) is kept, as a
  state is part of what happened; a quoted value with spaces in it is text, masked by parts
  like any other quoted text;
- quoted text is masked by its parts, not whole, and keeps its quotes: a quoted request
  `"GET /a/1?x=2 HTTP/1.1"` keeps its method (`"GET <*> HTTP/<*>"`), since the method is part
  of what happened; masking the whole quote would merge a GET with a DELETE;
- a MAC address (`00:1a:2b:3c:4d:5e`, `00-1A-…`, `001a.2b3c.4d5e`) or an IPv6 address
  (full or compressed, with a zone, a prefix, or in brackets with a port) is one value, even
  when its hex groups hold no digit;
- a protocol or product with its version (`HTTP/1.1`, `Mozilla/5.0`) keeps its name and masks
  the version;
- a token, or a piece of one between `:=,|;`, is a value when it holds a digit (numbers with
  signs and units: `-12`, `+3.5`, `250ms`, `1.5GB`, `10%`, `3x`; ids, hex, IPs, times), a `/`
  or `\\` (paths, URLs), an `@` (e-mail), when it is a lowercase dotted name (host names, file
  names), or a day or month name (dates); a word that merely looks hex (`face`, `added`) is a
  word;
- the word after `user`/`account`/`login` names someone;
- a value spread over several tokens is one value: `403 bytes (0.39 KB)`, `10:00:01 2005`,
  `1.2.3.4 (host.example)`, `250 ms`, `10 %`, `3 x 4` each become one `<*>` (units and
  parentheticals join the value).

Masking a template again changes nothing (`<*>` is never a value's part).

Measured on the Loghub samples by `bench/fingerprint.py` (grouping accuracy).
"""

from __future__ import annotations

import hashlib
import re

VARIABLE = "<*>"
_SEPARATOR = "\x1f"

_URL = re.compile(r"""\b[A-Za-z][A-Za-z0-9+.-]*://[^\s"']+""")
_KEY_VALUE = re.compile(r"""(?<![\w.-])([A-Za-z_][\w.-]*)=("[^"]*"|'[^']*'|[^\s,;)\]}|]+)""")
_HEX_GROUP = r"[0-9A-Fa-f]{1,4}"
_IPV6 = (rf"(?:(?:{_HEX_GROUP}:){{7}}{_HEX_GROUP}"
         rf"|(?=[0-9A-Fa-f:]*\d)(?:{_HEX_GROUP}:)*(?:{_HEX_GROUP})?::(?:{_HEX_GROUP}:)*"
         rf"(?:{_HEX_GROUP}|\d{{1,3}}(?:\.\d{{1,3}}){{3}})?|::)"
         r"(?:%[\w.-]+)?(?:/\d{1,3})?")
_MAC = (r"[0-9A-Fa-f]{2}(?P<sep>[:-])[0-9A-Fa-f]{2}(?:(?P=sep)[0-9A-Fa-f]{2}){4}"
        r"(?:(?:(?P=sep)[0-9A-Fa-f]{2}){2})?"
        r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}")
# The whole token, brackets and trailing punctuation aside, must be the address.
_HEX_ADDRESS = re.compile(
    rf"""(?P<lead>[("'<{{]*)(?:{_MAC}|{_IPV6}|\[{_IPV6}\](?::\d+)?)(?P<trail>[)"'>}}.,;:]*)""")
_PRODUCT_VERSION = re.compile(
    r"""(?P<lead>[("']*[A-Z][A-Za-z]*/)\d+(?:\.\d+)*(?P<trail>[)"',;.]*)""")
_PIECES = re.compile(r"([:=,|;])")
_HAS_VALUE_CHAR = re.compile(r"[\d/\\@]")
_HOST_OR_FILE = re.compile(r"^[a-z0-9_-]+(?:\.[a-z0-9_-]+)+$")
_QUOTES_AND_BRACKETS = "()[]{}<>'\"!?"
_CALENDAR = frozenset(
    "mon tue wed thu fri sat sun monday tuesday wednesday thursday friday saturday sunday "
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june "
    "july august september october november december".split())
_UNITS = frozenset(
    "b byte bytes kb mb gb tb pb kib mib gib tib k m g t ms us µs μs ns s sec secs second seconds "
    "min mins minute minutes h hr hrs hour hours d day days w wk week weeks mo month months y "
    "yr yrs year years % pct percent x bps kbps mbps gbps hz khz mhz ghz".split())
_NAMING_WORDS = frozenset({"user", "username", "account", "login"})
_NOT_A_NAME = frozenset(
    "from by for to with name names id is not the a an and or in on at of as has was "
    "unknown invalid authentication session sessions agent request requests".split())
_EMPTY_BRACKETS = frozenset({"()", "[]", "{}"})
_TRAILING = ",;:"
_BRACKETS_AND_TRAILING = "()[]{}" + _TRAILING
# A token's mask is a pure function of the token, so remembering it changes no answer (ingesters
# still agree) but spares the rules for the words, ids and punctuation a log repeats. Bounded:
# cleared when full rather than growing with every distinct value.
_MASKED: dict[str, str] = {}
_MASKED_LIMIT = 65_536
_MASKED_TOKEN_LENGTH = 64


def fingerprint(*, message: str, component: str = "", service: str = "",
                event_type: str = "") -> tuple[str, str]:
    """(fingerprint, template): 32 hex characters of SHA-256 over where and what."""
    template = template_of(message)
    material = _SEPARATOR.join((component, service, event_type, template))
    return hashlib.sha256(material.encode()).hexdigest()[:32], template


def template_of(message: str) -> str:
    text = _URL.sub(VARIABLE, message) if "://" in message else message
    if "=" in text:
        text = _KEY_VALUE.sub(_key_value, text)
    out: list[str] = []
    masked = _MASKED
    for token in text.split():
        if out and out[-1].lower() in _NAMING_WORDS and token.lower() not in _NOT_A_NAME \
                and VARIABLE not in token:
            piece = VARIABLE
        else:
            known = masked.get(token)
            if known is None:
                known = _mask(token)
                if len(token) <= _MASKED_TOKEN_LENGTH:  # a blob would hold memory for nothing
                    if len(masked) >= _MASKED_LIMIT:
                        masked.clear()
                    masked[token] = known
            piece = known
        if out and out[-1].endswith(VARIABLE):
            bare = piece.strip(_BRACKETS_AND_TRAILING)
            if bare == VARIABLE or piece in _EMPTY_BRACKETS or bare.lower() in _UNITS:
                if piece[-1] in _TRAILING:  # still the same value; keep the sentence's comma
                    out[-1] += piece[-1]
                continue
        out.append(piece)
    return " ".join(out)


def _key_value(match: re.Match[str]) -> str:
    value = match.group(2)
    if value[0] in "\"'":
        if " " in value:
            return match.group(0)  # text, not a value: its parts are masked with the rest
    elif not _is_value(value):
        # A word (`status=failed`, `tty=ssh`, `user=root`) is kept: a state or a mode is part
        # of what happened, and a word that does vary is found by the issue level, which
        # merges templates differing in a position that has held many words.
        return match.group(0)
    return match.group(1) + "=" + VARIABLE


def _is_value(piece: str) -> bool:
    core = piece.strip(_QUOTES_AND_BRACKETS + ".")
    if not core:
        return False
    if _HAS_VALUE_CHAR.search(core):
        return True
    return core.lower() in _CALENDAR or _HOST_OR_FILE.match(core) is not None


def _mask(token: str) -> str:
    if token.isalpha() and token.lower() not in _CALENDAR:
        return token  # most words: no need to look closer
    if token.isdigit():
        return VARIABLE
    if ":" in token or "-" in token or "." in token:
        address = _HEX_ADDRESS.fullmatch(token)
        if address is not None:  # hex groups without a digit are still one value
            return address["lead"] + VARIABLE + address["trail"]
    if "/" in token:
        product = _PRODUCT_VERSION.fullmatch(token)
        if product is not None:
            return product["lead"] + VARIABLE + product["trail"]
    pieces = _PIECES.split(token)
    changed = False
    for i in range(0, len(pieces), 2):
        piece = pieces[i]
        if piece and VARIABLE not in piece and _is_value(piece):
            body = piece.strip(_QUOTES_AND_BRACKETS + ".")
            start = piece.index(body)
            lead = "".join(c for c in piece[:start] if c in "([{\"'")
            trail = "".join(c for c in piece[start + len(body):] if c in ")]}.\"'")
            pieces[i] = lead + VARIABLE + trail
            changed = True
    if not changed:
        return token
    if all(p in ("", VARIABLE) or (len(p) == 1 and p in ":=,|;") for p in pieces):
        return VARIABLE  # 12:00:01, 10.0.0.1:8080: one value written in pieces
    return "".join(pieces)
