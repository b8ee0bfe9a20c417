from django.conf import settings
from django.db import models
from django.db.models import Q

from decisions.policy import Band, Verdict


class Decision(models.Model):
    """What the engine decided for one access request, with everything needed to replay it."""

    request = models.OneToOneField("requests.AccessRequest", on_delete=models.PROTECT, related_name="decision")
    policy_version = models.CharField(max_length=40)
    signals = models.JSONField(help_text="The signal snapshot the score was computed from.")
    risk_score = models.PositiveSmallIntegerField()
    risk_band = models.CharField(max_length=10, choices=Band.choices)
    factors = models.JSONField(default=list, help_text="[{code, label, points}], largest first.")
    hard_rule = models.CharField(max_length=60, blank=True, help_text="The hard rule that denied, if any.")
    policy_verdict = models.CharField(max_length=30, choices=Verdict.choices)
    ai_verdict = models.CharField(max_length=30, choices=Verdict.choices, blank=True)
    verdict = models.CharField(max_length=30, choices=Verdict.choices)
    engine = models.CharField(max_length=120, help_text='"policy", or "ai:<model>" when the AI was used.')
    ai_model = models.CharField(max_length=100, blank=True)
    ai_error = models.TextField(blank=True, help_text="Why the AI was not used, when it was not.")
    reasoning = models.TextField(blank=True)
    risk_drivers = models.JSONField(default=list)
    recommended_controls = models.JSONField(default=list)
    conditions = models.JSONField(default=list)
    ai_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    ai_prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    ai_completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    evaluation_ms = models.PositiveIntegerField(help_text="Wall time from claim to record.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(risk_score__lte=100), name="decision_score_0_to_100"),
            models.CheckConstraint(condition=Q(verdict__in=Verdict.values), name="decision_verdict_valid"),
            models.CheckConstraint(condition=Q(risk_band__in=Band.values), name="decision_band_valid"),
            # With the AI not used, the engine must say so and say why.
            models.CheckConstraint(
                condition=Q(engine="policy", ai_verdict="") & ~Q(ai_error="") | Q(engine__startswith="ai:"),
                name="decision_engine_explained",
            ),
        ]

    def __str__(self):
        return f"{self.verdict} ({self.risk_score}) for request #{self.request_id}"

    @property
    def used_ai(self) -> bool:
        return self.engine.startswith("ai:")


class Review(models.Model):
    """A reviewer's judgement beside the engine's decision, which it never overwrites."""

    request = models.ForeignKey("requests.AccessRequest", on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    outcome = models.CharField(max_length=30, choices=Verdict.choices)
    conditions = models.JSONField(default=list)
    duration_hours = models.PositiveIntegerField(help_text="The duration the reviewer allows.")
    reason = models.TextField(blank=True)
    against_engine = models.BooleanField(
        default=False, help_text="The reviewer approved more loosely than the engine advised."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # Two approvals must come from two different people.
            models.UniqueConstraint(fields=["request", "reviewer"], name="review_one_per_reviewer"),
            models.CheckConstraint(condition=Q(outcome__in=Verdict.values), name="review_outcome_valid"),
            models.CheckConstraint(condition=Q(duration_hours__gte=1), name="review_duration_positive"),
            models.CheckConstraint(
                condition=Q(against_engine=False) | ~Q(reason=""), name="review_override_has_reason"
            ),
        ]

    def __str__(self):
        return f"{self.outcome} by {self.reviewer} on request #{self.request_id}"


class Grant(models.Model):
    """Time-bound access actually given. One per request at most: nothing is granted twice."""

    request = models.OneToOneField("requests.AccessRequest", on_delete=models.PROTECT, related_name="grant")
    identity = models.ForeignKey("requests.Identity", on_delete=models.PROTECT, related_name="grants")
    role = models.ForeignKey("requests.Role", on_delete=models.PROTECT, related_name="grants")
    conditions = models.JSONField(default=list)
    granted_by = models.CharField(max_length=300, help_text='"engine", or the approving reviewers.')
    starts_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=models.F("starts_at")), name="grant_ends_after_start")
        ]

    def __str__(self):
        return f"{self.identity} holds {self.role.slug} until {self.expires_at:%Y-%m-%d %H:%M}Z"


class AuditKind(models.TextChoices):
    SUBMITTED = "submitted"
    EVALUATED = "evaluated"
    REVIEWED = "reviewed"
    GRANTED = "granted"
    DENIED = "denied"
    EXPIRED = "expired"
    EXPORTED = "exported"
    IMPORTED = "imported"
    ROLE_CHANGED = "role_changed"
    IDENTITY_CHANGED = "identity_changed"
    USER_CHANGED = "user_changed"


class AuditEvent(models.Model):
    """One link of the append-only, hash-chained audit trail; see decisions/audit.py."""

    seq = models.PositiveBigIntegerField(unique=True, help_text="Position in the chain, from 1, without gaps.")
    created_at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=AuditKind.choices)
    actor = models.CharField(max_length=150, help_text="Username, or a system component such as worker.")
    request = models.ForeignKey(
        "requests.AccessRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    decision = models.ForeignKey(Decision, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events")
    data = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        constraints = [models.CheckConstraint(condition=Q(kind__in=AuditKind.values), name="audit_kind_valid")]

    def __str__(self):
        return f"#{self.seq} {self.kind} by {self.actor}"

    def save(self, *args, **kwargs):
        # Append-only: only decisions/audit.py's audit_record creates rows, and nothing changes them.
        if not self._state.adding:
            raise AuditAppendOnly(f"audit event #{self.seq} is append-only: it cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditAppendOnly(f"audit event #{self.seq} is append-only: it cannot be deleted")

    @property
    def data_summary(self) -> str:
        """The data as one line of ``key: value`` pairs, empty values left out, for tables. Keys are sorted:
        PostgreSQL's jsonb does not keep their order, and an event should read the same on every database."""

        def show(value):
            if isinstance(value, dict):
                return ", ".join(f"{key}={show(item)}" for key, item in sorted(value.items())) or "none"
            if isinstance(value, list):
                return ", ".join(show(item) for item in value) or "none"
            return str(value)

        shown = sorted((key, value) for key, value in self.data.items() if value not in ("", None))
        return "; ".join(f"{key}: {show(value)}" for key, value in shown)


class AuditAppendOnly(Exception):
    """An attempt, through the ORM, to change or delete an audit event."""


class AuditChainHead(models.Model):
    """A single row holding the chain's last link; locking it serialises appends across processes."""

    seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)

    def __str__(self):
        return f"audit chain at #{self.seq}"
