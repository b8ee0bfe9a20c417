from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class PrivilegeLevel(models.TextChoices):
    LOW = "LOW", "Low"
    MEDIUM = "MEDIUM", "Medium"
    HIGH = "HIGH", "High"
    CRITICAL = "CRITICAL", "Critical"


class ReviewMode(models.TextChoices):
    NEVER = "never", "Never: the engine decides"
    CONDITIONAL = "conditional", "When the decision has conditions"
    ALWAYS = "always", "Always"


# When a human must look, unless an admin says otherwise: the riskier the role, the sooner.
DEFAULT_REVIEW_MODE = {
    "LOW": ReviewMode.NEVER,
    "MEDIUM": ReviewMode.NEVER,
    "HIGH": ReviewMode.CONDITIONAL,
    "CRITICAL": ReviewMode.ALWAYS,
}


class Role(models.Model):
    slug = models.SlugField(max_length=140, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    privilege_level = models.CharField(max_length=10, choices=PrivilegeLevel.choices)
    grants_admin = models.BooleanField(
        default=False, help_text="Holding this role makes the identity an administrator."
    )
    max_duration_hours = models.PositiveIntegerField(default=8)
    review_mode = models.CharField(
        max_length=12,
        choices=ReviewMode.choices,
        blank=True,
        help_text="When a human must review. Left empty, it follows the privilege level (CRITICAL: always).",
    )
    requires_two_reviewers = models.BooleanField(
        default=False, help_text="Two different reviewers must approve before access is granted."
    )
    source = models.CharField(max_length=200, blank=True, help_text="Where this role came from (import file or admin).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_duration_hours__gte=1) & Q(max_duration_hours__lte=720),
                name="role_max_duration_1h_to_30d",
            ),
            models.CheckConstraint(
                condition=Q(privilege_level__in=PrivilegeLevel.values), name="role_privilege_level_valid"
            ),
            models.CheckConstraint(
                condition=Q(review_mode__in=[*ReviewMode.values, ""]), name="role_review_mode_valid"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def effective_review_mode(self) -> str:
        """The admin's choice, or the default for the privilege level (which follows a re-import)."""
        return self.review_mode or DEFAULT_REVIEW_MODE[self.privilege_level]


class IdentityKind(models.TextChoices):
    HUMAN = "human", "Human"
    SERVICE = "service", "Non-human (service account / access key)"


class Identity(models.Model):
    """The subject of access: a person or a non-human principal, as the identity store knows it."""

    # Kept exactly as the source spells it: "000417" and "417" are different people.
    username = models.CharField(max_length=150, unique=True)
    display_name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=10, choices=IdentityKind.choices, default=IdentityKind.HUMAN)
    is_admin = models.BooleanField(default=False, help_text="Holds administrator rights today.")
    last_activity = models.DateTimeField(null=True, blank=True, help_text="Empty means never active.")
    mfa_enabled = models.BooleanField(default=False)
    owner = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_identities",
        help_text="The person accountable for a non-human identity.",
    )
    credential_created_at = models.DateTimeField(null=True, blank=True)
    credential_rotated_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=200, blank=True, help_text="Where this record came from.")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="identity",
        verbose_name="portal login",
        help_text="The portal login of this identity, if it has one.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["username"]
        verbose_name_plural = "identities"
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=IdentityKind.values), name="identity_kind_valid"),
            models.CheckConstraint(condition=~Q(owner=models.F("id")), name="identity_not_own_owner"),
        ]

    def __str__(self):
        return self.username

    @property
    def is_human(self) -> bool:
        return self.kind == IdentityKind.HUMAN


class RequestStatus(models.TextChoices):
    PENDING = "PENDING", "Awaiting evaluation"
    EVALUATING = "EVALUATING", "Evaluating"
    NEEDS_REVIEW = "NEEDS_REVIEW", "Awaiting review"
    APPROVED = "APPROVED", "Approved"
    DENIED = "DENIED", "Denied"
    EXPIRED = "EXPIRED", "Expired unreviewed"
    FAILED = "FAILED", "Evaluation failed"


# Requests without an outcome yet: the requester's pages keep polling while any is in one of these.
OPEN_STATUSES = (
    RequestStatus.PENDING,
    RequestStatus.EVALUATING,
    RequestStatus.FAILED,
    RequestStatus.NEEDS_REVIEW,
)
AWAITING_EVALUATION = (RequestStatus.PENDING, RequestStatus.EVALUATING, RequestStatus.FAILED)


class AccessRequest(models.Model):
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="access_requests")
    identity = models.ForeignKey(Identity, on_delete=models.PROTECT, related_name="access_requests")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="access_requests")
    justification = models.TextField()
    duration_hours = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    # Set when a worker claims the request, so a second delivery of the task can tell it is taken.
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    submitted_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="When granted access ends.")

    class Meta:
        ordering = ["-submitted_at", "-id"]
        indexes = [models.Index(fields=["status", "-submitted_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(duration_hours__gte=1), name="request_duration_positive"),
            models.CheckConstraint(condition=Q(status__in=RequestStatus.values), name="request_status_valid"),
        ]

    def __str__(self):
        return f"#{self.pk} {self.identity} → {self.role.slug}"

    def get_absolute_url(self):
        return reverse("requests:detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_waiting_long(self) -> bool:
        """Still without a decision half a minute after submission: worth telling the requester why."""
        return self.status in AWAITING_EVALUATION and (timezone.now() - self.submitted_at).total_seconds() > 30

    @property
    def is_access_active(self) -> bool:
        return (
            self.status == RequestStatus.APPROVED and self.expires_at is not None and self.expires_at > timezone.now()
        )
