"""Settings, all from the environment, with an embedded default that needs no set-up.

| variable | default |
|---|---|
| DATABASE_URL | sqlite:///<CASEFILE_VAR_DIR>/casefile.sqlite3 |
| OBJECT_STORE_URL | file://<CASEFILE_VAR_DIR>/objects |
| SECRET_KEY | generated once into <CASEFILE_VAR_DIR>/secret_key |
| CASEFILE_VAR_DIR | ./var |
| DEBUG | off |
See the README's configuration table for the rest.
"""

import json
import os
import secrets
from pathlib import Path

import dj_database_url


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


PACKAGE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("CASEFILE_VAR_DIR", Path.cwd() / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = _env_bool("DEBUG")
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "*").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",  # authenticator apps (accounts.factors)
    "ninja",  # serves Swagger UI from its own static files (no CDN, so the CSP holds)
    "casefile.core",
    "casefile.accounts",
    "casefile.audit",
    "casefile.storage",
    "casefile.events",
    "casefile.cases",
    "casefile.platform",
    "casefile.evidence",
    "casefile.holds",
    "casefile.webhooks",
    "casefile.trust",
    "casefile.documents",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "casefile.core.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "casefile.accounts.sessions.StaffSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "casefile.core.middleware.SecurityHeadersMiddleware",
    "casefile.accounts.factors.SecondFactorMiddleware",  # after htmx: it answers htmx requests
]

ROOT_URLCONF = "casefile.urls"
WSGI_APPLICATION = "casefile.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "casefile.core.console.navigation",
            ]
        },
    }
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'casefile.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # Every transaction takes the write lock at BEGIN, so a transaction that reads then
        # writes (the audit chain head) never fails half-way with "database is locked".
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests that span processes (the ledger's concurrency test) need a file, not :memory:.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-casefile.sqlite3")}

# The analytics index's INCLUDE columns are a PostgreSQL covering index; SQLite builds a plain
# index on the key, which is what it needs.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts -------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.StaffUser"
AUTHENTICATION_BACKENDS = ["casefile.accounts.backends.ThrottledEmailBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Failed sign-ins within the window before refusal (casefile.accounts.services): per account
# and client address; per client address over all accounts; per account from addresses it has
# not signed in from before.
LOGIN_FAILURE_LIMIT = _env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_ADDRESS_LIMIT = _env_int("LOGIN_FAILURE_ADDRESS_LIMIT", 20)
LOGIN_FAILURE_ACCOUNT_LIMIT = _env_int("LOGIN_FAILURE_ACCOUNT_LIMIT", 100)
LOGIN_FAILURE_WINDOW_SECONDS = _env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900)
LOGIN_KNOWN_ADDRESS_DAYS = _env_int("LOGIN_KNOWN_ADDRESS_DAYS", 90)
# Reverse proxies whose X-Forwarded-For is believed (casefile.audit.actor.client_ip): how many
# every request passes through, or their addresses/networks, comma-separated. Unset: the socket
# peer is the client and X-Forwarded-For is ignored.
_proxies = os.environ.get("TRUSTED_PROXIES", "").strip()
TRUSTED_PROXIES: int | list[str] | None = (
    int(_proxies) if _proxies.isdigit()
    else [p for p in _proxies.replace(" ", ",").split(",") if p] or None
)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Browsers keep Secure cookies on http://localhost and 127.0.0.1 too, so only DEBUG turns it off.
SESSION_COOKIE_SECURE = _env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = _env_int("SESSION_HOURS", 10) * 3600  # the absolute timeout
SESSION_IDLE_MINUTES = _env_int("SESSION_IDLE_MINUTES", 30)
# CRITICAL actions need a second factor proven this recently (accounts.sessions).
STEP_UP_SECONDS = _env_int("STEP_UP_SECONDS", 300)
# Second factors (accounts.factors, docs/sign-in.md). Security keys: the relying party id (the
# console's host name when empty) and the origins a browser may answer from (comma-separated;
# when empty, the request's own scheme and host: set it behind a proxy that changes either).
WEBAUTHN_RP_ID = os.environ.get("WEBAUTHN_RP_ID", "")
WEBAUTHN_RP_NAME = os.environ.get("WEBAUTHN_RP_NAME", "Casefile")
WEBAUTHN_ORIGINS = [o.strip() for o in os.environ.get("WEBAUTHN_ORIGINS", "").split(",")
                    if o.strip()]
# Authenticator apps: the name they show; after each wrong code the app's codes are refused for
# 1, 2, 4, 8… seconds times this factor (django-otp's throttling).
OTP_TOTP_ISSUER = os.environ.get("TOTP_ISSUER", "Casefile")
OTP_TOTP_THROTTLE_FACTOR = _env_int("TOTP_THROTTLE_FACTOR", 1)
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # Django admin never shows a TOTP secret
# The links `casefile user add` prints: how long one works (it works once), and the console's
# address they start with (e.g. https://casefile.example.com; empty: a path on this site).
ENROLMENT_LINK_HOURS = _env_int("ENROLMENT_LINK_HOURS", 72)
CASEFILE_BASE_URL = os.environ.get("CASEFILE_BASE_URL", "")
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "accounts:login"
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# The console runs no inline script or style and loads nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)

# OpenID Connect sign-in for the console (accounts.oidc, docs/sign-in.md). Off unless OIDC_ISSUER
# is set; the local form stays for break-glass either way.
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "").strip()  # exactly as discovery states it
OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "openid email profile groups")
OIDC_GROUPS_CLAIM = os.environ.get("OIDC_GROUPS_CLAIM", "groups")
# IdP group → Casefile role, e.g. "cf-admins=admin,cf-analysts=analyst" (a group may appear
# more than once for several roles). Roles follow it at every sign-in.
OIDC_ROLE_MAP = os.environ.get("OIDC_ROLE_MAP", "")
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "your identity provider")
# acr values that mean the IdP proved a second factor (comma-separated); amr is read too.
OIDC_MFA_ACR = os.environ.get("OIDC_MFA_ACR", "")
# A boolean claim that, when the IdP sends it as false, refuses the sign-in (empty: none).
OIDC_ACTIVE_CLAIM = os.environ.get("OIDC_ACTIVE_CLAIM", "active")
# The callback URL registered at the IdP, when the one built from the request is not it (a
# proxy that does not pass the scheme or host).
OIDC_REDIRECT_URI = os.environ.get("OIDC_REDIRECT_URI", "")
OIDC_TIMEOUT_SECONDS = _env_int("OIDC_TIMEOUT_SECONDS", 10)

# --- Object store and audit -----------------------------------------------------------------
OBJECT_STORE_URL = os.environ.get("OBJECT_STORE_URL") or f"file://{VAR_DIR / 'objects'}"
OBJECT_STORE_ENDPOINT_URL = os.environ.get("OBJECT_STORE_ENDPOINT_URL") or None
OBJECT_STORE_REGION = os.environ.get("OBJECT_STORE_REGION", "us-east-1")
AUDIT_RETENTION_DAYS = _env_int("AUDIT_RETENTION_DAYS", 7 * 365 + 2)
AUDIT_SEGMENT_MAX_ENTRIES = _env_int("AUDIT_SEGMENT_MAX_ENTRIES", 50_000)
# Ed25519 private key (PEM) that signs checkpoints; generated under var/ when not given.
AUDIT_SIGNING_KEY = os.environ.get("AUDIT_SIGNING_KEY") or None
AUDIT_SIGNING_KEY_FILE = Path(
    os.environ.get("AUDIT_SIGNING_KEY_FILE", VAR_DIR / "audit_signing_key.pem")
)
# The public keys (PEM, one after another) verify trusts; when empty, the first key recorded in
# the write-once store (see audit/signing.py). Production requires them (core/checks.py).
AUDIT_TRUSTED_PUBLIC_KEYS = os.environ.get("AUDIT_TRUSTED_PUBLIC_KEYS", "")
# How often the worker's sequencer chains newly committed entries (milliseconds): an entry waits
# about this long for its seq and hash (docs/audit-ledger.md, "Order under concurrency").
AUDIT_SEQUENCE_MS = _env_int("AUDIT_SEQUENCE_MS", 200)
# How often the worker ships new entries (seconds): the write-once copy trails the database by
# about this much, which is the window in which unshipped entries could be changed unseen.
AUDIT_SHIP_SECONDS = _env_int("AUDIT_SHIP_SECONDS", 5)
# How often the shipped head is signed again even when nothing changed, so a write-once copy
# that stopped early is visibly stale (verify reports a heartbeat older than three of these).
AUDIT_CHECKPOINT_SECONDS = _env_int("AUDIT_CHECKPOINT_SECONDS", 60)
# Independent places every checkpoint is also written to (comma-separated): object stores in
# another account (file://…, s3://…) or HTTP witnesses that check consistency and countersign.
AUDIT_WITNESS_URLS = os.environ.get("AUDIT_WITNESS_URLS", "")

# --- Events ---------------------------------------------------------------------------------
EVENT_RETENTION_DAYS = _env_int("EVENT_RETENTION_DAYS", 90)

# --- Cases ----------------------------------------------------------------------------------
# JSON: {"kind": [hours for priority 1, …, 5]} overriding casefile.cases.policy.DEFAULT_SLA_HOURS
CASE_SLA_HOURS = json.loads(os.environ.get("CASE_SLA_HOURS", "{}"))

# --- Evidence vault (docs/evidence.md) -------------------------------------------------------
# The master key that wraps every blob's data key: 32 bytes, base64 (or 64 hex digits). When not
# given, a key is generated once into EVIDENCE_MASTER_KEY_FILE (0600) and never overwritten:
# losing that file makes every original unreadable, so back it up or use a KMS in production.
EVIDENCE_MASTER_KEY = os.environ.get("EVIDENCE_MASTER_KEY") or None
EVIDENCE_MASTER_KEY_FILE = Path(
    os.environ.get("EVIDENCE_MASTER_KEY_FILE", VAR_DIR / "evidence_master_key")
)
# Write-once retention of originals and redacted copies (crypto-shredding erases before then).
EVIDENCE_RETENTION_DAYS = _env_int("EVIDENCE_RETENTION_DAYS", 7 * 365 + 2)
# The largest original accepted (413 above it); below MAX_REQUEST_BYTES, which bounds the body.
EVIDENCE_MAX_BYTES = _env_int("EVIDENCE_MAX_BYTES", 8 * 1024 * 1024)
# Images larger than this many pixels are refused rather than decoded (decompression bombs).
EVIDENCE_MAX_PIXELS = _env_int("EVIDENCE_MAX_PIXELS", 40_000_000)

# --- Trust profiles and verification (docs/trust.md) ----------------------------------------
# Payouts need a risk score below this (0–100); at or above it a profile is in the finance queue.
FINANCE_RISK_THRESHOLD = _env_int("FINANCE_RISK_THRESHOLD", 70)
# A decided verification case's PII (its evidence, captured name and birth date) is
# crypto-shredded and blanked this many days after the decision.
VERIFICATION_PII_DAYS = _env_int("VERIFICATION_PII_DAYS", 30)
# DSA statements of reasons (docs/trust.md, "Statements of reasons"): the Transparency
# Database's base URL (its API is `{url}/api/v1/statements`) and the platform's API token.
# Empty URL: nothing is submitted; statements wait as pending, nothing is lost.
DSA_TDB_URL = os.environ.get("DSA_TDB_URL", "")
DSA_TDB_TOKEN = os.environ.get("DSA_TDB_TOKEN", "")
# Comma-separated EU/EEA country codes every statement's `territorial_scope` lists; empty: the
# field is left out (the API accepts that).
DSA_TERRITORIAL_SCOPE = [code.strip().upper() for code in
                         os.environ.get("DSA_TERRITORIAL_SCOPE", "").split(",") if code.strip()]
DSA_MAX_ATTEMPTS = _env_int("DSA_MAX_ATTEMPTS", 8)  # failed calls before a statement is dead
DSA_TIMEOUT_SECONDS = _env_int("DSA_TIMEOUT_SECONDS", 30)

# --- Documents (docs/documents.md) ---------------------------------------------------------
# Which deployment this is: it names the documents' place in the store (TD-71's docs/prod/).
CASEFILE_ENVIRONMENT = os.environ.get("CASEFILE_ENVIRONMENT") or ("dev" if DEBUG else "prod")
# Where packs are written in the object store; `{environment}` is CASEFILE_ENVIRONMENT.
DOCUMENTS_PREFIX = (os.environ.get("DOCUMENTS_PREFIX") or "docs/{environment}/").format(
    environment=CASEFILE_ENVIRONMENT)
# Write-once retention of a pack's objects, counted from the booking leg's end (DESIGN 9.5).
DOCUMENTS_RETENTION_DAYS = _env_int("DOCUMENTS_RETENTION_DAYS", 7 * 365 + 2)

# --- Vendor webhooks (docs/webhooks.md) ------------------------------------------------------
# JSON {"vendor": ["secret", …]}: each vendor's webhook secrets (Checkr: its API key), every one
# accepted, so a secret is rotated by listing the new one beside the old, then dropping the old.
# A vendor with no secret is refused (404): an unsigned delivery is never accepted.
WEBHOOK_SECRETS = json.loads(os.environ.get("WEBHOOK_SECRETS", "{}"))
# Larger webhook bodies get 413 before their signature is checked (within MAX_REQUEST_BYTES).
WEBHOOK_MAX_BYTES = _env_int("WEBHOOK_MAX_BYTES", 1024 * 1024)

# --- Signing (docs/documents.md, "Signing") -------------------------------------------------
# How long a `local` provider's signing link stays open after the pack is sent.
DOCUMENT_SIGNING_LINK_HOURS = _env_int("DOCUMENT_SIGNING_LINK_HOURS", 72)
# Prefixed to the signing links handed out (e.g. https://casefile.example.com); blank: the
# links are paths on this site.
DOCUMENT_SIGNING_BASE_URL = os.environ.get("DOCUMENT_SIGNING_BASE_URL", "")

# --- E-signature providers (docs/documents.md, "E-signature providers") ---------------------
# JSON {"docusign": {"base_url", "account_id", "access_token", "webhook_secrets": [...]},
#       "dropbox_sign": {"base_url", "api_key", "webhook_secrets": [...]},
#       "docuseal": {"base_url", "api_key", "webhook_secrets": [...]}}. A vendor not listed is
# not used (404); the built-in `local` provider needs no entry.
ESIGN_PROVIDERS = json.loads(os.environ.get("ESIGN_PROVIDERS", "{}"))

# --- Background work ------------------------------------------------------------------------
# django-tasks with its database backend: no broker. At scale, an RQ/Redis backend is a settings
# change here (django-tasks-rq).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# JSON {"job name": seconds} overriding the periods of casefile.core.schedule.PERIODIC.
PERIODIC_JOB_SECONDS = json.loads(os.environ.get("PERIODIC_JOB_SECONDS", "{}"))
# Finished task results (django-tasks' rows) are kept this long, then pruned.
TASK_RESULT_RETENTION_DAYS = _env_int("TASK_RESULT_RETENTION_DAYS", 7)

# --- Platform operations ------------------------------------------------------------------
# Credits above this (in cents) need a second staff member's approval, like CRITICAL actions.
FOUR_EYES_CREDIT_CENTS = _env_int("FOUR_EYES_CREDIT_CENTS", 50_000)
# Refunds above this (in cents, whatever the currency) need a second person's approval too.
FOUR_EYES_REFUND_CENTS = _env_int("FOUR_EYES_REFUND_CENTS", 50_000)
APPROVAL_TTL_MINUTES = _env_int("APPROVAL_TTL_MINUTES", 60 * 24)
IMPERSONATION_MAX_MINUTES = _env_int("IMPERSONATION_MAX_MINUTES", 60)
# Outbound commands to the platform: HMAC-SHA256-signed POSTs (see docs/platform.md).
PLATFORM_WEBHOOK_URL = os.environ.get("PLATFORM_WEBHOOK_URL", "")
PLATFORM_WEBHOOK_SECRET = os.environ.get("PLATFORM_WEBHOOK_SECRET", "")
OUTBOX_MAX_ATTEMPTS = _env_int("OUTBOX_MAX_ATTEMPTS", 8)
OUTBOX_TIMEOUT_SECONDS = _env_int("OUTBOX_TIMEOUT_SECONDS", 10)

# --- HTTP -----------------------------------------------------------------------------------
MAX_REQUEST_BYTES = _env_int("MAX_REQUEST_BYTES", 10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
API_TOKEN_TOUCH_SECONDS = 60  # how stale a token's last-used time may get before it is rewritten

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"botocore": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}
