"""Fingerprints: messages that differ only in their variable parts share one.

Stateless on purpose: a fingerprint is a pure function of the message (and component, service,
event type), so parallel ingesters agree without coordination and re-ingesting gives the same
answer. The template is the message with each variable part replaced by `<*>`; one set of
generic rules, for any log:

- URLs are values;
- `key=value`: the value is variable (an empty value stays empty: absence is information);
- quoted text is a value;
- a token, or a piece of one between `:=,|;`, is a value when it holds a digit (numbers, ids,
  hex, IPs, times, sizes), a `/` or `\\` (paths, URLs), an `@` (e-mail), when it is a lowercase
  dotted name (host names, file names), or a day or month name (dates);
- the word after `user`/`account`/`login` names someone;
- a value spread over several tokens is one value: `403 bytes (0.39 KB)`, `10:00:01 2005`,
  `1.2.3.4 (host.example)` each become one `<*>` (units and parentheticals join the value).

Measured on the Loghub samples by `bench/fingerprint.py` (grouping accuracy).
"""

from __future__ import annotations

import hashlib
import re

VARIABLE = "<*>"
_SEPARATOR = "\x1f"

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://\S+")
_KEY_VALUE = re.compile(r"""(?<![\w.-])([A-Za-z_][\w.-]*)=("[^"]*"|'[^']*'|[^\s,;)\]}|]+)""")
_QUOTED = re.compile(r""""[^"]*"|'[^'\s][^']*'""")
_PIECES = re.compile(r"([:=,|;])")
_HAS_VALUE_CHAR = re.compile(r"[\d/\\@]")
_HOST_OR_FILE = re.compile(r"^[a-z0-9_-]+(?:\.[a-z0-9_-]+)+$")
_QUOTES_AND_BRACKETS = "()[]{}<>'\"!?"
_CALENDAR = frozenset(
    "mon tue wed thu fri sat sun monday tuesday wednesday thursday friday saturday sunday "
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june "
    "july august september october november december".split())
_UNITS = frozenset(
    "b byte bytes kb mb gb tb kib mib gib ms us ns s sec secs second seconds min mins "
    "minute minutes h hr hrs hour hours day days % kbps mbps".split())
_NAMING_WORDS = frozenset({"user", "username", "account", "login"})
_NOT_A_NAME = frozenset(
    "from by for to with name names id is not the a an and or in on at of as has was "
    "unknown invalid authentication session sessions agent request requests".split())
_EMPTY_BRACKETS = frozenset({"()", "[]", "{}"})
_TRAILING = ",;:"


def fingerprint(*, message: str, component: str = "", service: str = "",
                event_type: str = "") -> tuple[str, str]:
    """(fingerprint, template): 32 hex characters of SHA-256 over where and what."""
    template = template_of(message)
    material = _SEPARATOR.join((component, service, event_type, template))
    return hashlib.sha256(material.encode()).hexdigest()[:32], template


def template_of(message: str) -> str:
    text = _URL.sub(VARIABLE, message)
    text = _KEY_VALUE.sub(lambda m: m.group(1) + "=" + VARIABLE, text)
    text = _QUOTED.sub(VARIABLE, text)
    out: list[str] = []
    for token in text.split():
        if out and out[-1].lower() in _NAMING_WORDS and token.lower() not in _NOT_A_NAME \
                and VARIABLE not in token:
            piece = VARIABLE
        else:
            piece = _mask(token)
        if out and out[-1].endswith(VARIABLE):
            bare = piece.strip("()[]{}" + _TRAILING)
            if bare == VARIABLE or piece in _EMPTY_BRACKETS or bare.lower() in _UNITS:
                if piece[-1] in _TRAILING:  # still the same value; keep the sentence's comma
                    out[-1] += piece[-1]
                continue
        out.append(piece)
    return " ".join(out)


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
    pieces = _PIECES.split(token)
    changed = False
    for i in range(0, len(pieces), 2):
        piece = pieces[i]
        if piece and VARIABLE not in piece and _is_value(piece):
            body = piece.strip(_QUOTES_AND_BRACKETS + ".")
            start = piece.index(body)
            lead = "".join(c for c in piece[:start] if c in "([{")
            trail = "".join(c for c in piece[start + len(body):] if c in ")]}.")
            pieces[i] = lead + VARIABLE + trail
            changed = True
    if not changed:
        return token
    if all(p in ("", VARIABLE) or (len(p) == 1 and p in ":=,|;") for p in pieces):
        return VARIABLE  # 12:00:01, 10.0.0.1:8080: one value written in pieces
    return "".join(pieces)
