"""Issues above templates: which templates of one source a person would see as one problem.

A fingerprint is stateless (events.fingerprint), so it can only mask what looks like a value
on its own: numbers, ids, addresses, paths. A value written as a word (`Failed password for
root`, `… for uucp`, `removing echo`, `removing telnet`) can only be told from a word that
names the event by seeing how it varies. This module keeps that state, as Sentry groups events
into issues and Drain groups log lines, but over templates rather than raw lines:

- a template's *slots* are the template with one word position blanked (the source, the
  position and every other token, hashed), each with the word it had there;
- templates sharing a slot differ only at that position; once a slot has held `VARYING`
  different words, the position is a variable and those templates are one issue. Fewer
  different words are kept apart: a handful of words at one place is an enumeration (a state,
  a mode, one of a few accounts) that a person reads as different events;
- the first token is never a slot (`cupsd startup succeeded` and `klogd startup succeeded` are
  different daemons; the first word names what speaks or what happened, as in Drain's tree);
- a slot's word is a bare word, the word of a `key=word`, or `<*>` (a position already masked
  in some template counts as one more value).

Issues are the connected components of "shares a slot that has varied": a function of the
set of templates only, so the same templates in any order give the same issues, and adding a
template can only join issues (incremental). A template the sender fingerprinted itself is
never merged automatically: the sender grouped it.

Staff can split and merge issues by hand; such an issue is *locked*: a new template that
belongs to it by the rules joins it, but no automatic merge joins a locked issue with another.
When a new template relates to several issues and one is locked, it joins the oldest locked
one and the rest are left as they are.

`place` holds the decision; a `Store` holds the state (in memory here, for the benchmark and
the tests; in the database in events.issues).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from casefile.events.fingerprint import VARIABLE, fingerprint

VARYING = 4  # different words at one position before it is a variable
_SEPARATOR = "\x1f"
# A word, possibly as a key's value or in brackets or quotes, with trailing punctuation.
_SLOT_TOKEN = re.compile(
    r"""(?P<lead>(?:[A-Za-z_][\w.-]*=)?[(\[{"']*)(?P<word>[A-Za-z][A-Za-z_-]*|<\*>)"""
    r"""(?P<trail>[)\]}"',;:.]*)""")


@dataclass(frozen=True)
class Source:
    component: str = ""
    service: str = ""
    event_type: str = ""


@dataclass(frozen=True)
class Slot:
    key: str  # 32 hex characters
    word: str


def slots_of(source: Source, template: str) -> list[Slot]:
    tokens = template.split(" ")
    out = []
    for position in range(1, len(tokens)):
        match = _SLOT_TOKEN.fullmatch(tokens[position])
        if match is None:
            continue
        frame = match["lead"] + VARIABLE + match["trail"]
        material = _SEPARATOR.join((source.component, source.service, source.event_type,
                                    str(position), *tokens[:position], frame,
                                    *tokens[position + 1:]))
        out.append(Slot(hashlib.sha256(material.encode()).hexdigest()[:32], match["word"]))
    return out


def pattern(title: str, template: str) -> str:
    """The pattern of two templates of an issue: where they differ, a variable (keeping the
    token's frame when both share it: `user=<*>`). Of different lengths (staff merged them),
    the first is kept."""
    a, b = title.split(" "), template.split(" ")
    if len(a) != len(b):
        return title
    out = []
    for x, y in zip(a, b, strict=True):
        if x == y:
            out.append(x)
            continue
        mx, my = _SLOT_TOKEN.fullmatch(x), _SLOT_TOKEN.fullmatch(y)
        if mx and my and (mx["lead"], mx["trail"]) == (my["lead"], my["trail"]):
            out.append(mx["lead"] + VARIABLE + mx["trail"])
        else:
            out.append(VARIABLE)
    return " ".join(out)


class Store(Protocol):
    """What `place` reads and writes. Issue ids must sort by age (ULIDs do)."""

    def slot_members(self, keys: list[str]) -> dict[str, list[tuple[str, str]]]:
        """For each slot key, its (word, fingerprint) pairs."""
        ...

    def issues_of(self, fingerprints: Iterable[str]) -> set[str]: ...

    def locked(self, issues: set[str]) -> set[str]: ...

    def issue_new(self, source: Source, title: str) -> str: ...

    def issues_merge(self, into: str, others: list[str]) -> None: ...

    def template_add(self, fingerprint: str, source: Source, template: str, slots: list[Slot],
                     issue: str) -> None: ...


def place(store: Store, *, fingerprint: str, source: Source, template: str,
          mergeable: bool = True) -> str:
    """Add a new template; returns its issue (merging issues it joins)."""
    slots = slots_of(source, template)
    related: set[str] = set()
    if mergeable:
        members = store.slot_members([s.key for s in slots])
        for slot in slots:
            present = members.get(slot.key, ())
            if len({word for word, _ in present} | {slot.word}) >= VARYING:
                related.update(fp for _, fp in present)
    issues = store.issues_of(related) if related else set()
    locked = store.locked(issues) if issues else set()
    if locked:
        issue = min(locked)
    elif issues:
        issue, *others = sorted(issues)
        if others:
            store.issues_merge(issue, others)
    else:
        issue = store.issue_new(source, template)
    # A sender's own fingerprint has no slots: nothing can join it automatically either.
    store.template_add(fingerprint, source, template, slots if mergeable else [], issue)
    return issue


@dataclass
class MemoryStore:
    """The state in memory: for the benchmark and the tests of the rules."""

    issue_of: dict[str, str] = field(default_factory=dict)  # fingerprint -> issue
    titles: dict[str, str] = field(default_factory=dict)
    locked_issues: set[str] = field(default_factory=set)
    _slots: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    _members: dict[str, list[str]] = field(default_factory=dict)  # issue -> fingerprints
    _count: int = 0

    def slot_members(self, keys: list[str]) -> dict[str, list[tuple[str, str]]]:
        return {k: self._slots[k] for k in keys if k in self._slots}

    def issues_of(self, fingerprints: Iterable[str]) -> set[str]:
        return {self.issue_of[fp] for fp in fingerprints}

    def locked(self, issues: set[str]) -> set[str]:
        return issues & self.locked_issues

    def issue_new(self, source: Source, title: str) -> str:
        self._count += 1
        issue = f"iss_{self._count:012d}"
        self.titles[issue] = title
        self._members[issue] = []
        return issue

    def issues_merge(self, into: str, others: list[str]) -> None:
        for other in others:
            for fp in self._members.pop(other):
                self.issue_of[fp] = into
                self._members[into].append(fp)
            self.titles[into] = pattern(self.titles[into], self.titles.pop(other))

    def template_add(self, fingerprint: str, source: Source, template: str, slots: list[Slot],
                     issue: str) -> None:
        self.issue_of[fingerprint] = issue
        self._members[issue].append(fingerprint)
        self.titles[issue] = pattern(self.titles[issue], template)
        for slot in slots:
            self._slots.setdefault(slot.key, []).append((slot.word, fingerprint))

    def split(self, issue: str, fingerprints: set[str]) -> str:
        """Staff's split, as events.issues does it: both halves locked."""
        new = self.issue_new(Source(), "")
        moved = [fp for fp in self._members[issue] if fp in fingerprints]
        self._members[issue] = [fp for fp in self._members[issue] if fp not in fingerprints]
        for fp in moved:
            self.issue_of[fp] = new
            self._members[new].append(fp)
        self.locked_issues |= {issue, new}
        return new


class Grouping:
    """Messages to issues in memory, through the same fingerprint and rules as ingest. An
    event's issue is its template's issue now, not when it arrived (issues merge later)."""

    def __init__(self) -> None:
        self.store = MemoryStore()

    def add(self, message: str, source: Source = Source()) -> str:  # noqa: B008
        """Returns the message's fingerprint."""
        fp, template = fingerprint(message=message, component=source.component,
                                   service=source.service, event_type=source.event_type)
        if fp not in self.store.issue_of:
            place(self.store, fingerprint=fp, source=source, template=template)
        return fp

    def issue(self, fp: str) -> str:
        return self.store.issue_of[fp]
