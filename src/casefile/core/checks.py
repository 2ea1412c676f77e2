"""What a production deployment must have, as Django system checks.

`casefile check --deploy` lists them; `casefile serve` runs them and refuses to start on an
error unless it runs the embedded default (SQLite under CASEFILE_VAR_DIR), which exists to try
Casefile on one machine. The webhook check holds everywhere: a webhook with no secret would send
unsigned commands.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, register

SEVEN_YEARS_DAYS = 7 * 365 + 2  # two leap days at least


@register(Tags.security, deploy=True)
def production_settings(app_configs, **kwargs) -> list[Error]:
    errors = []
    if not settings.AUDIT_SIGNING_KEY and _inside(Path(settings.AUDIT_SIGNING_KEY_FILE),
                                                  Path(settings.VAR_DIR)):
        errors.append(Error(
            "the audit signing key lives in CASEFILE_VAR_DIR, beside the data it vouches for",
            hint="set AUDIT_SIGNING_KEY (from a secret manager) or AUDIT_SIGNING_KEY_FILE "
                 "outside CASEFILE_VAR_DIR", id="casefile.E001"))
    if not settings.AUDIT_TRUSTED_PUBLIC_KEYS.strip():
        errors.append(Error(
            "no public key is pinned: verify would trust whatever key the store recorded first",
            hint="set AUDIT_TRUSTED_PUBLIC_KEYS to the PEM public key(s) of the signing key",
            id="casefile.E002"))
    if not settings.ALLOWED_HOSTS or "*" in settings.ALLOWED_HOSTS:
        errors.append(Error("ALLOWED_HOSTS accepts any host",
                            hint="set ALLOWED_HOSTS to the names Casefile is served under",
                            id="casefile.E003"))
    if settings.AUDIT_RETENTION_DAYS < SEVEN_YEARS_DAYS:
        errors.append(Error(
            f"AUDIT_RETENTION_DAYS is {settings.AUDIT_RETENTION_DAYS}: the ledger's write-once "
            "copy must be kept at least seven years",
            hint=f"set AUDIT_RETENTION_DAYS to {SEVEN_YEARS_DAYS} or more", id="casefile.E004"))
    if not settings.EVIDENCE_MASTER_KEY and _inside(Path(settings.EVIDENCE_MASTER_KEY_FILE),
                                                   Path(settings.VAR_DIR)):
        errors.append(Error(
            "the evidence master key lives in CASEFILE_VAR_DIR, beside the ciphertexts it "
            "unwraps: whoever copies the directory reads every original, and crypto-shredding "
            "proves nothing",
            hint="set EVIDENCE_MASTER_KEY (from a secret manager or KMS) or "
                 "EVIDENCE_MASTER_KEY_FILE outside CASEFILE_VAR_DIR", id="casefile.E006"))
    return errors


@register(Tags.security)
def webhook_is_signed(app_configs, **kwargs) -> list[Error]:
    if settings.PLATFORM_WEBHOOK_URL and not settings.PLATFORM_WEBHOOK_SECRET:
        return [Error("PLATFORM_WEBHOOK_URL is set without PLATFORM_WEBHOOK_SECRET: commands to "
                      "the platform would go out unsigned",
                      hint="set PLATFORM_WEBHOOK_SECRET", id="casefile.E005")]
    return []


def embedded_default() -> bool:
    """The zero-set-up default: SQLite under CASEFILE_VAR_DIR, one machine, for trying out."""
    database = settings.DATABASES["default"]
    return database["ENGINE"] == "django.db.backends.sqlite3" and _inside(
        Path(str(database["NAME"])), Path(settings.VAR_DIR))


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


@register(Tags.security)
def oidc_is_configured(app_configs, **kwargs) -> list[Error]:
    """With OIDC_ISSUER set, the rest must hold together: a wrong role map would refuse
    everyone at the door, or give people a machine role."""
    from casefile.accounts import oidc

    return [Error(f"OpenID Connect sign-in: {problem}", hint="see docs/sign-in.md",
                  id="casefile.E007") for problem in oidc.problems()]
