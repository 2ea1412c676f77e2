"""The scope registry: the one place that says what a legal hold over each kind of record covers.

A kind registers a `Scope`: whether a record of that kind exists (a hold on an unknown record is
a 404), and `objects(object_id)`, the object-store keys the hold must lock. Two further hooks let
apps built later join in without this module knowing them:

- `register_contents(kind, fn)`: more keys inside an existing kind's scope (documents linked to
  a case add their keys to a `case` hold);
- `register_parents(kind, fn)`: the enclosing records whose holds also cover a record (evidence
  is covered by a hold on its case, and by a hold on the verification case it belongs to).

`evidence` and `case` are registered here. Other apps register theirs in their AppConfig's
`ready()`, so the registry is complete whenever Django is set up — for instance, in
`casefile/trust/apps.py`:

    def ready(self):
        from casefile.holds import scopes
        from casefile.trust import holds  # the functions below, in the trust app

        scopes.register(scopes.Scope(
            kind="verification_case",
            exists=holds.verification_exists,          # (vrf_id) -> bool
            objects=holds.verification_object_keys,   # (vrf_id) -> keys of its evidence blobs
            resource=lambda vrf_id: f"verification:{vrf_id}",
            target_user=holds.verification_user,       # (vrf_id) -> "usr_…" | None
        ))
        # evidence referenced by a verification case is held by a hold on that case
        scopes.register_parents("evidence", holds.verification_cases_of_blob)  # -> [(kind, id)]

`documents` would register `document` and `doc_pack` the same way, and add a case's documents
to a case hold with `register_contents("case", …)`. Keys are the store's keys (as given to
`storage.get_store().put`); each must exist in the store when a hold is placed or released.

What this registry says is what `holds.selectors.active_holds_over(kind, object_id)` answers
(the question shredding, PII expiry and purges ask) and what `legal_hold_place` locks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from casefile.core.errors import NotFound, ValidationFailed
from casefile.holds.models import KINDS

Parents = Callable[[str], Iterable[tuple[str, str]]]
Contents = Callable[[str], Iterable[str]]


@dataclass(frozen=True)
class Scope:
    kind: str  # one of holds.models.KINDS
    exists: Callable[[str], bool]
    objects: Callable[[str], Iterable[str]]  # the object-store keys in scope
    # The record as the ledger names it (e.g. "evidence:evb_…"), shown with the hold.
    resource: Callable[[str], str] | None = None
    # The platform user the record is about, if any: the hold's entries name them as target.
    target_user: Callable[[str], str | None] | None = None


_SCOPES: dict[str, Scope] = {}
_CONTENTS: dict[str, list[Contents]] = {}
_PARENTS: dict[str, list[Parents]] = {}


def register(scope: Scope) -> None:
    """Register (or re-register: `ready()` may run twice) what a hold over `scope.kind` covers."""
    if scope.kind not in KINDS:
        raise ValueError(f"unknown hold scope {scope.kind!r}: add it to holds.models.KINDS")
    _SCOPES[scope.kind] = scope


def register_contents(kind: str, contents: Contents) -> None:
    if contents not in _CONTENTS.setdefault(kind, []):
        _CONTENTS[kind].append(contents)


def register_parents(kind: str, parents: Parents) -> None:
    if parents not in _PARENTS.setdefault(kind, []):
        _PARENTS[kind].append(parents)


def registered() -> list[str]:
    return [kind for kind in KINDS if kind in _SCOPES]


def scope_named(kind: str) -> Scope:
    scope = _SCOPES.get(kind)
    if scope is None:
        raise ValidationFailed(
            f"holds cannot be placed on {kind!r} records"
            + (" yet: no app has registered that scope" if kind in KINDS else ""),
            details={"kinds": registered()})
    return scope


def require_exists(kind: str, object_id: str) -> Scope:
    scope = scope_named(kind)
    if not scope.exists(object_id):
        raise NotFound(f"no {kind} {object_id}")
    return scope


def objects_of(kind: str, object_id: str) -> list[str]:
    """Every object-store key in the scope now, sorted, each once."""
    scope = scope_named(kind)
    keys = set(scope.objects(object_id))
    for contents in _CONTENTS.get(kind, []):
        keys.update(contents(object_id))
    return sorted(keys)


def resource_of(kind: str, object_id: str) -> str:
    scope = _SCOPES.get(kind)
    return scope.resource(object_id) if scope and scope.resource else f"{kind}:{object_id}"


def target_user_of(kind: str, object_id: str) -> str | None:
    scope = _SCOPES.get(kind)
    return scope.target_user(object_id) if scope and scope.target_user else None


def enclosing(kind: str, object_id: str, *, depth: int = 4) -> set[tuple[str, str]]:
    """The record itself and every record whose hold covers it (parents, theirs, …)."""
    found = {(kind, object_id)}
    frontier = [(kind, object_id)]
    for _ in range(depth):
        upper = []
        for k, oid in frontier:
            for parents in _PARENTS.get(k, []):
                for parent in parents(oid):
                    if parent not in found:
                        found.add(parent)
                        upper.append(parent)
        if not upper:
            break
        frontier = upper
    return found


# --- the scopes Casefile has today: evidence, and a case with everything it links -------------
def _evidence_exists(blob_id: str) -> bool:
    from casefile.evidence.models import EvidenceBlob

    return EvidenceBlob.objects.filter(pk=blob_id).exists()


def _evidence_objects(blob_id: str) -> list[str]:
    from casefile.evidence.models import EvidenceBlob

    row = EvidenceBlob.objects.filter(pk=blob_id).values_list("original_key",
                                                              "redacted_key").first()
    return list(row) if row else []


def _evidence_user(blob_id: str) -> str | None:
    from casefile.evidence.models import EvidenceBlob

    user = EvidenceBlob.objects.filter(pk=blob_id).values_list("platform_user_id",
                                                               flat=True).first()
    return user or None


def _evidence_case(blob_id: str) -> list[tuple[str, str]]:
    from casefile.evidence.models import EvidenceBlob

    case_id = EvidenceBlob.objects.filter(pk=blob_id).values_list("case_id", flat=True).first()
    return [("case", case_id)] if case_id else []


def _case_exists(case_id: str) -> bool:
    from casefile.cases.models import Case

    return Case.objects.filter(pk=case_id).exists()


def _case_evidence(case_id: str) -> list[str]:
    from casefile.evidence.models import EvidenceBlob

    keys: list[str] = []
    for original, redacted in EvidenceBlob.objects.filter(case_id=case_id).values_list(
            "original_key", "redacted_key"):
        keys += [original, redacted]
    return keys


def _case_user(case_id: str) -> str | None:
    from casefile.cases.models import Case

    subject = Case.objects.filter(pk=case_id).values_list("subject_user", flat=True).first()
    return subject or None


register(Scope("evidence", _evidence_exists, _evidence_objects,
               resource=lambda blob_id: f"evidence:{blob_id}", target_user=_evidence_user))
register_parents("evidence", _evidence_case)
register(Scope("case", _case_exists, _case_evidence, resource=lambda case_id: f"case:{case_id}",
               target_user=_case_user))
