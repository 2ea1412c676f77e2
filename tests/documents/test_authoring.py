"""Clauses and templates: versions only grow, published versions never change (by service and
by trigger), bodies and their variables checked at save, and legs upserted idempotently."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction

from casefile.audit.models import AuditEntry
from casefile.core.errors import Conflict, PermissionDenied, ValidationFailed
from casefile.documents import services
from casefile.documents.models import Clause
from tests.documents import helpers
from tests.documents.helpers import BASE_SCHEMA, REASON

pytestmark = pytest.mark.django_db(transaction=True)


def test_versions_only_grow_and_each_write_is_audited_with_before_and_after():
    author = helpers.legal()
    v1 = helpers.clause(author, name="Base terms")
    v2 = services.clause_new_version(actor=author, clause=v1, body_markdown="New {{ rate }}",
                                     variables_json={"type": "object", "properties": {
                                         "rate": {"type": "number"}}}, reason_code=REASON)
    v3 = services.clause_new_version(actor=author, clause=v1, body_markdown="Newer",
                                     variables_json={"type": "object"}, reason_code=REASON)
    assert [v1.version, v2.version, v3.version] == [1, 2, 3]
    with pytest.raises(Conflict):
        helpers.clause(author, name="Base terms")
    entry = AuditEntry.objects.filter(action="CLAUSE_DRAFTED",
                                      resource=f"clause:{v3.id}").get()
    assert entry.details["before"]["version"] == 2 and entry.details["after"]["version"] == 3
    published = AuditEntry.objects.get(action="CLAUSE_PUBLISHED", resource=f"clause:{v1.id}")
    assert published.details["before"]["published_at"] is None
    assert published.details["after"]["published_at"]


def test_a_published_version_never_changes():
    author = helpers.legal()
    clause = helpers.clause(author)
    with pytest.raises(Conflict):
        services.clause_publish(actor=author, clause=clause, reason_code=REASON)
    with pytest.raises(DatabaseError), transaction.atomic():
        Clause.objects.filter(pk=clause.pk).update(body_markdown="rewritten")
    clause.body_markdown = "rewritten"
    with pytest.raises(DatabaseError), transaction.atomic():
        clause.save()
    template = helpers.template(clause, actor=author)
    with pytest.raises(Conflict):
        services.template_publish(actor=author, template=template, reason_code=REASON)
    services.template_set_active(actor=author, template=template, active=False,
                                 reason_code=REASON)


@pytest.mark.parametrize(("body", "schema", "named"), [
    ("Hello {{ name }", {"type": "object"}, "line 1"),
    ("Hello {{ name }}", {"type": "object", "properties": {}}, "name"),
    ("Hello", {"type": "object", "properties": {"x": {"type": "nope"}}}, "JSON Schema"),
    ("Hello", {"type": "array"}, '"type": "object"'),
])
def test_bodies_compile_and_use_only_declared_variables(body, schema, named):
    with pytest.raises(ValidationFailed) as caught:
        services.clause_create(actor=helpers.legal(), name="Bad", body_markdown=body,
                               variables_json=schema, reason_code=REASON)
    assert named in caught.value.message


def test_templates_pin_published_clause_versions_and_check_their_layout():
    author = helpers.legal()
    draft = helpers.clause(author, publish=False)
    with pytest.raises(ValidationFailed) as caught:
        helpers.template(draft, actor=author)
    assert "not published" in caught.value.message
    with pytest.raises(ValidationFailed) as caught:
        helpers.template(helpers.clause(author), actor=author,
                         layout={"page_size": "A3", "colour": "red"})
    fields = {d["field"] for d in caught.value.details}
    assert {"page_size", "colour"} <= fields


def test_only_legal_and_admins_author():
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor
    from tests.conftest import make_staff

    for role in (Role.SUPPORT, Role.ANALYST, Role.PLATFORM):
        with pytest.raises(PermissionDenied):
            services.clause_create(actor=Actor.staff(make_staff(role)), name="x",
                                   body_markdown="x", variables_json=BASE_SCHEMA,
                                   reason_code=REASON)


def test_the_sandbox_refuses_unsafe_templates():
    author = helpers.legal()
    clause = helpers.clause(author, body="{{ leg.__class__.__mro__ }}",
                            schema={"type": "object", "properties": {"leg": {}}})
    helpers.template(clause, actor=author)
    with pytest.raises(ValidationFailed) as caught:
        services.doc_pack_generate(actor=author, leg=helpers.leg(), reason_code=REASON)
    assert caught.value.details["variables"]


def test_substituted_values_cannot_add_markdown_structure():
    from casefile.documents import templating

    text = templating.render_body("Name: {{ name }}", {"name": "**Evil**\n# Heading"})
    assert text == r"Name: \*\*Evil\*\* \# Heading"


def test_a_leg_upsert_is_idempotent_and_audited_only_when_it_changes():
    leg = helpers.leg(leg_id="leg-idem")
    count = AuditEntry.objects.filter(resource="leg:leg-idem").count()
    helpers.leg(leg_id="leg-idem")
    assert AuditEntry.objects.filter(resource="leg:leg-idem").count() == count == 1
    helpers.leg(leg_id="leg-idem", facts={"rate": 200})
    assert AuditEntry.objects.filter(resource="leg:leg-idem").count() == 2
    assert leg.city == "NYC"
    with pytest.raises(ValidationFailed):
        helpers.leg(facts={"buyer": "me"})  # a fact may not hide a party
    with pytest.raises(ValidationFailed):
        helpers.leg(parties={"boss": {"email": "b@example.com"}})
    with pytest.raises(PermissionDenied):
        services.booking_leg_upsert(actor=helpers.legal(), leg_id="x", city="NYC",
                                    provider_role="model", parties={}, facts={})


def test_preview_renders_with_sample_variables():
    author = helpers.legal()
    template = helpers.template(actor=author)
    pdf = services.template_preview(actor=author, template=template)
    assert pdf.startswith(b"%PDF")
    with pytest.raises(ValidationFailed) as caught:
        services.template_preview(actor=author, template=template, variables={"rate": "x"})
    assert {p["field"] for p in caught.value.details["variables"]} == {
        "buyer", "talent", "rate", "leg"}
