from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import DEFAULT_DB_ALIAS, connections, models

from casefile.accounts.roles import Role, sorted_roles
from casefile.core import ids


class StaffUserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class StaffUser(AbstractBaseUser):
    """A member of staff who signs in to Casefile (not a user of the platform: see `platform`)."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_stf_id,
                          editable=False)
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)  # type: ignore[assignment,misc]
    date_joined = models.DateTimeField(auto_now_add=True)
    # Who the company's identity provider says this is: found by these, never by the e-mail,
    # which can change at the IdP. Empty for local accounts.
    oidc_issuer = models.CharField(max_length=500, blank=True, default="")
    oidc_subject = models.CharField(max_length=255, blank=True, default="")

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []  # type: ignore[misc]

    objects = StaffUserManager()
    AUDIT_DIGESTED = ("password",)  # the ledger shows when it changed, never the hash

    class Meta:
        db_table = "staff_user"
        constraints = [models.UniqueConstraint(
            fields=["oidc_issuer", "oidc_subject"], condition=~models.Q(oidc_subject=""),
            name="staff_user_oidc_identity_unique")]

    def __str__(self) -> str:
        return self.email

    @property
    def roles(self) -> frozenset[Role]:
        cached = getattr(self, "_roles_cache", None)
        if cached is None:
            # Read on every API request: plain SQL, as building the ORM query cost three times
            # running it.
            with connections[self._state.db or DEFAULT_DB_ALIAS].cursor() as cursor:
                cursor.execute(f"SELECT role FROM {StaffRole._meta.db_table} "  # noqa: S608
                               "WHERE user_id = %s", [self.pk])
                cached = frozenset(Role(r) for (r,) in cursor.fetchall())
            self._roles_cache = cached
        return cached

    def forget_roles(self) -> None:
        self.__dict__.pop("_roles_cache", None)

    @property
    def role_label(self) -> str:
        """The roles as recorded in audit snapshots: most privileged first, comma-separated."""
        return ",".join(sorted_roles(self.roles))

    # Django admin (reference data only) is for administrators.
    @property
    def is_staff(self) -> bool:
        return self.is_active and Role.ADMIN in self.roles

    @property
    def is_superuser(self) -> bool:
        return self.is_staff

    def has_perm(self, perm, obj=None) -> bool:
        return self.is_staff

    def has_module_perms(self, app_label) -> bool:
        return self.is_staff


class StaffRole(models.Model):
    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="role_grants")
    role = models.CharField(max_length=20, choices=Role.choices)
    granted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "staff_role"
        constraints = [
            models.UniqueConstraint(fields=["user", "role"], name="staff_role_unique_user_role")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.role}"


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once, at creation.

    Tokens are 256-bit random strings, so a fast hash is enough: there is nothing to brute-force.
    """

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_tok_id,
                          editable=False)
    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16)  # the token's first characters, to recognise it
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    AUDIT_DIGESTED = ("key_hash",)

    class Meta:
        db_table = "staff_api_token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or self.id})"


class LoginFailure(models.Model):
    """One failed sign-in, kept for the throttling window (shared by every web process).

    `ip_address` is the client's address as recorded; `source` is what throttling counts by:
    the address itself, or its /64 network for IPv6, since one host holds a whole /64."""

    email = models.CharField(max_length=254)
    ip_address = models.CharField(max_length=45, blank=True)
    source = models.CharField(max_length=49, blank=True, default="")
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "staff_login_failure"
        indexes = [
            models.Index(fields=["email", "at"], name="login_failure_email_at"),
            models.Index(fields=["source", "at"], name="login_failure_source_at"),
            models.Index(fields=["email", "source", "at"], name="login_failure_pair_at"),
        ]

    def __str__(self) -> str:
        return f"{self.email} at {self.at}"


class KnownSignInSource(models.Model):
    """An address (or IPv6 /64) a staff member has signed in from with the right password.

    From such a place the per-account failure limit does not apply, so failures that others
    cause from elsewhere cannot lock the person out of where they usually work."""

    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=49)
    last_seen_at = models.DateTimeField()

    class Meta:
        db_table = "staff_known_sign_in_source"
        constraints = [
            models.UniqueConstraint(fields=["user", "source"], name="known_sign_in_source_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} from {self.source}"


class WebAuthnCredential(models.Model):
    """A security key (or platform authenticator) registered by a member of staff."""

    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE,
                             related_name="webauthn_credentials")
    credential_id = models.CharField(max_length=1400, unique=True)  # base64url, as registered
    public_key = models.BinaryField()  # COSE
    sign_count = models.BigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "staff_webauthn_credential"

    def __str__(self) -> str:
        return f"{self.user_id} {self.name or self.credential_id[:16]}"


class StaffSession(models.Model):
    """A console session as Casefile sees it: how it began, when it was last used, when its
    second factor was last proven. The Django session holds the cookie's data; this row lets
    the idle and absolute timeouts, step-up and "sign out everywhere" reach every session of a
    user."""

    session_key = models.CharField(primary_key=True, max_length=40)
    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="sessions")
    method = models.CharField(max_length=20)  # "password" or "oidc"
    created_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    second_factor_at = models.DateTimeField(null=True, blank=True)
    second_factor = models.CharField(max_length=40, blank=True)  # totp, webauthn, idp:<amr>
    ip_address = models.CharField(max_length=45, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)

    class Meta:
        db_table = "staff_session"
        indexes = [models.Index(fields=["user", "last_seen_at"], name="staff_session_user")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.method} {self.created_at}"
