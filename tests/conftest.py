"""Shared fixtures. State is set up through the real services (staff, tokens, audit entries)."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection
from django.test import Client

from casefile.accounts import services as accounts
from casefile.accounts.roles import Role
from casefile.audit import ledger
from casefile.audit import triggers as ledger_triggers
from casefile.audit.actor import Actor
from casefile.documents import triggers as document_triggers
from casefile.holds import triggers as hold_triggers
from casefile.trust import triggers as trust_triggers
from casefile.webhooks import triggers as webhook_triggers
from tests.storage_fixtures import *  # noqa: F401,F403

pytest_plugins = ["tests.browser"]  # the browser fixtures, one Playwright for every directory


def _flush_past_triggers(original):
    """Transactional tests end with a flush (TRUNCATE/DELETE), which the append-only tables'
    triggers refuse. The test database's owner lifts them for the flush, like a DBA would."""

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        statements = original(self, style, tables, reset_sequences=reset_sequences,
                              allow_cascade=allow_cascade)
        vendor = self.connection.vendor
        for guarded in (ledger_triggers, webhook_triggers, hold_triggers, trust_triggers,
                        document_triggers):
            if set(guarded.APPEND_ONLY_TABLES) & set(tables):
                statements = [*guarded.uninstall_sql(vendor), *statements,
                              *guarded.install_sql(vendor)]
        return statements

    return sql_flush


_ops = type(connection.ops)
_ops.sql_flush = _flush_past_triggers(_ops.sql_flush)

CLI = Actor.system("tests")
_emails = itertools.count(1)


def _force_login_in_full(original):
    """`force_login` stands for a sign-in completed in full: password, then the second factor
    the console asks of administrators and of anyone with one — proven just now, so also within
    the step-up window of CRITICAL actions. Tests of the second factor and of step-up sign in
    through the pages, or move `second_factor_at` (tests/accounts/helpers.py)."""

    def force_login(self, user, backend=None):
        from tests.accounts.helpers import prove_second_factor

        original(self, user, backend)
        prove_second_factor(self)

    return force_login


Client.force_login = _force_login_in_full(Client.force_login)  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _isolated_object_store(settings, tmp_path):
    from casefile.storage import get_store

    settings.OBJECT_STORE_URL = f"file://{tmp_path / 'objects'}"
    get_store.cache_clear()
    yield
    get_store.cache_clear()


def make_staff(*roles: Role, email: str | None = None, password: str | None = None):
    return accounts.staff_user_create(
        actor=CLI, email=email or f"staff{next(_emails)}@example.com",
        roles=list(roles) or [Role.VIEWER], password=password,
        reason_code="ACCOUNT_PROVISIONING",
    )


def token_for(user) -> str:
    return accounts.api_token_create(actor=CLI, owner=user, name="test")[1]


class CommittingClient(Client):
    """A test client whose requests see, and leave, the ledger as the worker's sequencer would.

    In production the worker chains committed audit entries every AUDIT_SEQUENCE_MS; a test
    runs no worker, so the sequencer (`ledger.chain_pending`) runs here: before a request, for
    what the test set up (long since chained, in production), and after it, for what the
    request recorded."""

    def request(self, **request):
        ledger.chain_pending()
        response = super().request(**request)
        ledger.chain_pending()
        return response


@pytest.fixture
def client() -> CommittingClient:
    return CommittingClient()


class ApiClient(CommittingClient):
    """A test client that speaks JSON and carries a bearer token."""

    def __init__(self, token: str | None = None):
        super().__init__()
        self.token = token

    def call(self, method: str, path: str, body=None, **extra):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        kwargs = {"content_type": "application/json"} if body is not None else {}
        return getattr(self, method.lower())(path, body, headers=headers, **kwargs, **extra)


@pytest.fixture
def staff_factory(db):
    return make_staff


@pytest.fixture
def admin(db):
    return make_staff(Role.ADMIN)


@pytest.fixture
def api_as(db):
    """`api_as(Role.ANALYST)` → an ApiClient authenticated as a new user with that role."""

    def build(*roles: Role) -> ApiClient:
        return ApiClient(token_for(make_staff(*roles)))

    return build
