"""Production settings are required by system checks, and `serve` refuses to start without them
(issue 10, item 2; the evidence master key, issue 11)."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from casefile.audit.signing import public_pem


@pytest.fixture
def production(settings, tmp_path):
    """Settings a production deployment would have."""
    settings.AUDIT_SIGNING_KEY = None
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "secrets" / "audit.pem"  # outside var/
    settings.AUDIT_TRUSTED_PUBLIC_KEYS = public_pem(Ed25519PrivateKey.generate().public_key())
    settings.ALLOWED_HOSTS = ["casefile.example.com"]
    settings.AUDIT_RETENTION_DAYS = 7 * 365 + 2
    settings.PLATFORM_WEBHOOK_URL = "https://platform.example.com/casefile"
    settings.PLATFORM_WEBHOOK_SECRET = "s3cret"
    settings.EVIDENCE_MASTER_KEY = None
    settings.EVIDENCE_MASTER_KEY_FILE = tmp_path / "secrets" / "evidence.key"  # outside var/
    return settings


def ours(include_deployment_checks=True) -> set[str]:
    return {m.id for m in run_checks(include_deployment_checks=include_deployment_checks)
            if m.id and m.id.startswith("casefile.")}


def test_production_settings_pass(production):
    assert ours() == set()


@pytest.mark.parametrize(("change", "error"), [
    ({"AUDIT_SIGNING_KEY_FILE": None}, "casefile.E001"),  # the default: under var/
    ({"AUDIT_TRUSTED_PUBLIC_KEYS": ""}, "casefile.E002"),
    ({"ALLOWED_HOSTS": ["*"]}, "casefile.E003"),
    ({"ALLOWED_HOSTS": []}, "casefile.E003"),
    ({"AUDIT_RETENTION_DAYS": 365}, "casefile.E004"),
    ({"PLATFORM_WEBHOOK_SECRET": ""}, "casefile.E005"),
    ({"EVIDENCE_MASTER_KEY_FILE": None}, "casefile.E006"),  # the default: under var/
])
def test_each_gap_is_named(production, change, error):
    for name, value in change.items():
        if name == "AUDIT_SIGNING_KEY_FILE":
            value = production.VAR_DIR / "audit_signing_key.pem"
        if name == "EVIDENCE_MASTER_KEY_FILE":
            value = production.VAR_DIR / "evidence_master_key"
        setattr(production, name, value)
    assert ours() == {error}


def test_the_webhook_secret_is_required_even_outside_deployment(production):
    production.PLATFORM_WEBHOOK_SECRET = ""
    assert ours(include_deployment_checks=False) == {"casefile.E005"}


def test_serve_refuses_to_start_a_production_deployment_without_them(production, monkeypatch):
    monkeypatch.setattr("casefile.core.checks.embedded_default", lambda: False)
    production.ALLOWED_HOSTS = ["*"]
    with pytest.raises(SystemCheckError, match="casefile.E003"):
        call_command("serve", "--port", "1")


def test_the_embedded_default_is_recognised(settings):
    from casefile.core.checks import embedded_default

    # The test database lives under CASEFILE_VAR_DIR, as the embedded default does.
    assert embedded_default() is (settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"))
