"""accounts/auth.py looks a bearer token up in plain SQL: the same token and user the ORM reads,
and nothing cached, so a revoked token or a deactivated user is refused by the next request."""

from __future__ import annotations

import pytest

from casefile.accounts import services as accounts
from casefile.accounts.auth import token_lookup
from casefile.accounts.models import ApiToken, StaffUser
from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from tests.conftest import ApiClient, make_staff, token_for

pytestmark = pytest.mark.django_db


def test_the_token_and_its_user_read_as_the_orm_reads_them():
    user = make_staff(Role.ANALYST, Role.OPS)
    token = token_for(user)
    ApiClient(token).call("GET", "/api/v1/tokens")  # sets last_used_at
    found = token_lookup(token)
    expected = ApiToken.objects.select_related("user").get(key_hash=accounts.hash_token(token))
    for field in ApiToken._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name
    for field in StaffUser._meta.concrete_fields:
        assert (getattr(found.user, field.attname)
                == getattr(expected.user, field.attname)), field.name
    assert found.last_used_at is not None and found.last_used_at.tzinfo is not None
    assert found.user.is_active is True and found.user.roles == {Role.ANALYST, Role.OPS}
    assert not found._state.adding and not found.user._state.adding
    assert token_lookup(token + "x") is None


def test_a_revoked_token_and_a_deactivated_user_are_refused_at_once():
    user = make_staff(Role.ANALYST)
    token = token_for(user)
    client = ApiClient(token)
    assert client.call("GET", "/api/v1/tokens").status_code == 200
    record = ApiToken.objects.get(key_hash=accounts.hash_token(token))
    accounts.api_token_revoke(actor=Actor.staff(user), token=record, reason_code="INVESTIGATION")
    assert client.call("GET", "/api/v1/tokens").status_code == 401
    other = ApiClient(token_for(user))
    assert other.call("GET", "/api/v1/tokens").status_code == 200
    StaffUser.objects.filter(pk=user.pk).update(is_active=False)
    assert other.call("GET", "/api/v1/tokens").status_code == 401
