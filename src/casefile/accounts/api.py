from datetime import datetime
from typing import Annotated

from django.http import HttpRequest
from ninja import Router, Status
from pydantic import Field

from casefile.accounts import selectors, services
from casefile.accounts.access import actor_of, require
from casefile.accounts.models import ApiToken, StaffUser
from casefile.accounts.permissions import Perm, has_perm, permissions_of
from casefile.accounts.roles import Role, sorted_roles
from casefile.core.errors import NotFound
from casefile.core.schemas import Column, Email, ReasonCode, Schema, StaffId, TokenId

router = Router(tags=["staff"])


class StaffOut(Schema):
    id: str
    email: str
    name: str
    is_active: bool
    roles: list[str]
    date_joined: datetime

    @staticmethod
    def of(user: StaffUser) -> "StaffOut":
        return StaffOut(id=user.id, email=user.email, name=user.name, is_active=user.is_active,
                        roles=sorted_roles(g.role for g in user.role_grants.all()),
                        date_joined=user.date_joined)


class MeOut(StaffOut):
    permissions: list[str]


class StaffIn(Schema):
    email: Email
    name: Annotated[str, Column(StaffUser, "name")] = ""
    roles: list[Role] = Field(min_length=1, max_length=len(Role))
    reason_code: ReasonCode


class RoleChangeIn(Schema):
    role: Role
    reason_code: ReasonCode


class TokenOut(Schema):
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @staticmethod
    def of(token: ApiToken) -> "TokenOut":
        return TokenOut(id=token.id, name=token.name, prefix=token.prefix,
                        created_at=token.created_at, last_used_at=token.last_used_at,
                        revoked_at=token.revoked_at)


class TokenCreatedOut(TokenOut):
    token: str  # shown this once


class TokenIn(Schema):
    name: Annotated[str, Column(ApiToken, "name")] = ""
    reason_code: ReasonCode


@router.get("/me", response=MeOut, summary="Who the token belongs to, with roles and permissions")
def me(request: HttpRequest):
    user = require(request, Perm.PROFILE_VIEW).staff_user
    return MeOut(**StaffOut.of(user).model_dump(), permissions=permissions_of(user.roles))


@router.get("/tokens", response=list[TokenOut], summary="Your API tokens")
def tokens_list(request: HttpRequest):
    actor = require(request, Perm.TOKEN_MANAGE_OWN)
    return [TokenOut.of(t) for t in selectors.api_tokens_of(actor.staff_user)]


@router.post("/tokens", response={201: TokenCreatedOut}, summary="Create an API token for you")
def tokens_create(request: HttpRequest, body: TokenIn):
    actor = require(request, Perm.TOKEN_MANAGE_OWN)
    token, secret = services.api_token_create(actor=actor, owner=actor.staff_user, name=body.name,
                                              reason_code=body.reason_code)
    return Status(201, TokenCreatedOut(**TokenOut.of(token).model_dump(), token=secret))


@router.delete("/tokens/{token_id}", response=TokenOut, summary="Revoke an API token")
def tokens_revoke(request: HttpRequest, token_id: TokenId, reason_code: ReasonCode):
    actor = actor_of(request)
    if not has_perm(actor.roles, Perm.TOKEN_MANAGE_ANY):
        actor.require(Perm.TOKEN_MANAGE_OWN)  # 403 for machines before any token is looked up
    token = selectors.api_token_get(token_id)
    if token.user_id != actor.staff_user.pk and not has_perm(actor.roles, Perm.TOKEN_MANAGE_ANY):
        raise NotFound(f"no API token {token_id}")  # others' tokens are not even confirmed
    return TokenOut.of(services.api_token_revoke(actor=actor, token=token,
                                                 reason_code=reason_code))


@router.get("/staff", response=list[StaffOut], summary="Staff users")
def staff_list(request: HttpRequest):
    require(request, Perm.STAFF_VIEW)
    return [StaffOut.of(u) for u in selectors.staff_users()]


@router.post("/staff", response={201: StaffOut}, summary="Create a staff user")
def staff_create(request: HttpRequest, body: StaffIn):
    actor = require(request, Perm.STAFF_MANAGE)
    user = services.staff_user_create(actor=actor, email=body.email, name=body.name,
                                      roles=body.roles, reason_code=body.reason_code)
    return Status(201, StaffOut.of(user))


class SignedOutOut(Schema):
    sessions: int  # console sessions ended
    tokens: int  # API tokens revoked


class SignOutEverywhereIn(Schema):
    reason_code: ReasonCode | None = None  # required when it is someone else's account


@router.post("/staff/{user_id}/sign-out-everywhere", response=SignedOutOut,
             summary="End every console session and revoke every API token of a member of "
                     "staff (yourself, or anyone as an admin)")
def staff_sign_out_everywhere(request: HttpRequest, user_id: StaffId, body: SignOutEverywhereIn):
    from casefile.accounts.sessions import staff_sign_out_everywhere

    actor = require(request, Perm.PROFILE_VIEW)
    user = selectors.staff_user_get(user_id=user_id)
    return staff_sign_out_everywhere(actor=actor, user=user, reason_code=body.reason_code)


@router.post("/staff/{user_id}/roles", response=StaffOut, summary="Grant a role")
def staff_role_grant(request: HttpRequest, user_id: StaffId, body: RoleChangeIn):
    actor = require(request, Perm.STAFF_MANAGE)
    user = selectors.staff_user_get(user_id=user_id)
    services.staff_role_grant(actor=actor, user=user, role=body.role,
                              reason_code=body.reason_code)
    return StaffOut.of(selectors.staff_user_get(user_id=user_id))


@router.delete("/staff/{user_id}/roles/{role}", response=StaffOut, summary="Revoke a role")
def staff_role_revoke(request: HttpRequest, user_id: StaffId, role: Role,
                      reason_code: ReasonCode):
    actor = require(request, Perm.STAFF_MANAGE)
    user = selectors.staff_user_get(user_id=user_id)
    services.staff_role_revoke(actor=actor, user=user, role=role, reason_code=reason_code)
    return StaffOut.of(selectors.staff_user_get(user_id=user_id))
