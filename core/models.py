from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from simple_history import register

from core.audit import AuditedHistoricalRecords


class ApiToken(models.Model):
    """A bearer token for the REST API. Only the SHA-256 of the secret is stored.

    A token is issued to the person who will use it (by themselves, or by an
    operator at the shell for a service account): nobody is ever shown a secret
    minted for someone else. `created_by` is who issued it; four eyes on
    promotions looks at it too (see registry.releases).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'CI pipeline'.")
    prefix = models.CharField(max_length=12, editable=False, help_text="First characters, to recognise a token.")
    # Authentication looks a token up by this digest; unique gives the index.
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who issued it. Empty: an operator at the shell (see issued_via).",
    )
    issued_via = models.CharField(
        max_length=200, blank=True, help_text="Where it was issued: admin, API, or the command line and by whom."
    )
    # Every token expires (a check constraint): nullable only because history rows written
    # before expiry existed have none, and history is never rewritten.
    expires_at = models.DateTimeField(null=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Bookkeeping, not governance: written at most once an hour per token and kept out of the history.
    last_used_at = models.DateTimeField(null=True, blank=True)
    expiry_notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the owner was told by email that the token expires soon."
    )

    history = AuditedHistoricalRecords(excluded_fields=["last_used_at"])

    class Meta:
        verbose_name = "API token"
        indexes = [
            # The daily expiry reminder: live tokens expiring soon that nobody was told about.
            models.Index(fields=["expires_at"], name="apitoken_expires_at"),
        ]
        constraints = [models.CheckConstraint(condition=models.Q(expires_at__isnull=False), name="apitoken_expires")]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name}, {self.user})"


class IdempotencyRecord(models.Model):
    """The first successful answer to a request sent with an Idempotency-Key header."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    # The purge task deletes by age.
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_unique_user_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.user_id})"


class _UserHistoricalRecords(AuditedHistoricalRecords):
    """simple-history records m2m changes made from the user's side only; a change
    made from the group's side (`group.user_set.add(user)`) is recorded on each user too."""

    def m2m_changed(self, instance, action, attr, pk_set, reverse, **kwargs):
        if not reverse:
            return super().m2m_changed(instance, action, attr, pk_set, reverse, **kwargs)
        if action == "pre_clear":
            instance._users_before_clear = list(instance.user_set.values_list("pk", flat=True))
            return None
        if action == "post_clear":
            pk_set = instance.__dict__.pop("_users_before_clear", [])
        elif action not in ("post_add", "post_remove"):
            return None
        for user in User.objects.filter(pk__in=pk_set or []):
            self.create_historical_record(user, "~")
        return None


# Who holds which role is governed too: every change of a user, their groups
# included, leaves a history row like any registry record. The password hash
# stays out of the history (an old hash kept forever would be a liability).
register(
    User,
    app="core",
    records_class=_UserHistoricalRecords,
    m2m_fields=["groups"],
    excluded_fields=["password"],
)


class TaskLease(models.Model):
    """A named lease that expires: one holder at a time, e.g. one sync tick at once."""

    name = models.CharField(max_length=100, primary_key=True)
    holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'} until {self.expires_at}"


class ReferenceSequence(models.Model):
    """The last number handed out for a reference prefix (RISK-0042, INC-0007).

    A counter row per prefix, incremented under a row lock: numbers are never
    reused, because the row is never decremented or deleted.
    """

    prefix = models.CharField(max_length=16, primary_key=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.prefix}: {self.last_number}"


class SecurityEvent(models.Model):
    """What the defences did: an account or an address locked out after repeated failures.

    Append-only: rows are created, never changed (the admin shows them read-only).
    """

    class Kind(models.TextChoices):
        ADMIN_LOCKOUT = "admin_lockout", "Admin login locked out"
        API_AUTH_LOCKOUT = "api_auth_lockout", "API authentication locked out"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    username = models.CharField(max_length=150, blank=True, help_text="The username that was tried, if any.")
    detail = models.TextField(blank=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        who = self.username or self.ip_address or ""
        return f"{self.get_kind_display()} {who} at {self.occurred_at:%Y-%m-%d %H:%M}"


class ChainHead(models.Model):
    """The audit chain's last link (core.chain): one row, moved on by every transaction that writes history.

    It is bookkeeping, not evidence: the verifier checks that the chain ends where it
    says, and the off-box checkpoints are what expose a head rolled back with the rows.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    row_hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16, blank=True)

    class Meta:
        verbose_name = "audit chain head"

    def __str__(self) -> str:
        return f"link {self.seq} ({self.row_hash[:12]}…)"


class AuditCheckpoint(models.Model):
    """A signed statement of the chain head at a moment, also written outside the database.

    The copy outside (a directory or an S3 bucket, never overwritten) is the one that
    counts: this row is the index of what was written where.
    """

    seq = models.BigIntegerField(help_text="The chain's last link when the checkpoint was made.")
    row_hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=16)
    rows = models.BigIntegerField(help_text="History rows in the chain at that link.")
    made_at = models.DateTimeField()
    signature = models.CharField(max_length=64, help_text="HMAC-SHA256 of the checkpoint's document under the key.")
    location = models.CharField(max_length=500, help_text="Where it was written: a file path or s3://bucket/key.")
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-seq", "-id"]

    def __str__(self) -> str:
        return f"checkpoint at link {self.seq}, {self.made_at:%Y-%m-%d %H:%M} UTC"


class AuditVerification(models.Model):
    """One run of the verifier (manage.py audit_verify, or the beat task): what it walked and what it found."""

    class Scope(models.TextChoices):
        FULL = "full", "Whole chain"
        SINCE = "since", "Since a checkpoint"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    since = models.ForeignKey(
        AuditCheckpoint,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The checkpoint the walk started from (scope 'since').",
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    rows_checked = models.BigIntegerField(default=0)
    last_seq = models.BigIntegerField("last good link", default=0, help_text="The last link checked and found intact.")
    ok = models.BooleanField("passed")
    problem = models.TextField(blank=True, help_text="The first broken link, in words.")
    break_table = models.CharField("broken link's table", max_length=100, blank=True)
    break_row_id = models.BigIntegerField("broken link's history id", null=True, blank=True)
    break_object_id = models.CharField("broken link's record id", max_length=100, blank=True)
    break_seq = models.BigIntegerField("broken link", null=True, blank=True)
    expected_hash = models.CharField(
        max_length=64, blank=True, help_text="The hash the row's columns and the previous link give under the key."
    )
    found_hash = models.CharField(max_length=64, blank=True, help_text="The hash stored in the row.")
    incident_reference = models.CharField(
        max_length=16, blank=True, help_text="The incident a failure opened in the risk register."
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["ok", "started_at"], name="auditverification_ok_started")]

    def __str__(self) -> str:
        return f"{'passed' if self.ok else 'FAILED'} {self.started_at:%Y-%m-%d %H:%M} ({self.rows_checked} rows)"

    @property
    def summary(self) -> str:
        """The problem without the two hashes (core.verifier.Break.describe puts them last): for banners and lists."""
        return self.problem.split("; expected ", 1)[0]


class AuditExport(models.Model):
    """An auditor's export (manage.py audit_export or the admin): who took which rows, when, and its SHA-256."""

    period_from = models.DateTimeField()
    period_to = models.DateTimeField(help_text="Exclusive.")
    first_seq = models.BigIntegerField(null=True, blank=True)
    last_seq = models.BigIntegerField(null=True, blank=True)
    rows = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the ZIP file.")
    size = models.BigIntegerField(default=0)
    file_name = models.CharField(max_length=300, blank=True, help_text="Where the ZIP was kept, under var/exports.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    history = AuditedHistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"audit export {self.period_from:%Y-%m-%d} to {self.period_to:%Y-%m-%d}"


class AuthEpoch(models.Model):
    """One row whose `n` changes whenever anything API authentication depends on changes.

    Written only by database triggers (core.auth_cache.triggers_install) on API tokens,
    users, group memberships and groups; read by every authenticated request, which
    drops its process's cache of tokens when the value differs (core.auth_cache).
    """

    n = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "authentication epoch"

    def __str__(self) -> str:
        return f"authentication epoch {self.n}"
