"""Human review: reviewers confirm, tighten, deny or — with a reason — approve against the engine.

The engine's Decision is never changed; each review is its own record beside it, and the request's
final outcome is the reviews'. The request row is locked while a review is recorded, so when two
reviewers act at once exactly one action wins and the other is told who decided.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from decisions.audit import audit_record
from decisions.grants import grant_create
from decisions.models import AuditKind, Review
from decisions.notifications import notify_requester
from decisions.policy import BASE_CONDITIONS, Condition, Verdict
from requests.models import AccessRequest, RequestStatus

# "At least a sentence": enough words, and real ones, that the reason explains something.
MIN_OVERRIDE_REASON_WORDS = 5
MIN_OVERRIDE_REASON_CHARS = 25


def ordered_conditions(codes) -> list[str]:
    return [code for code in Condition.values if code in codes]


class ReviewAction(models.TextChoices):
    CONFIRM = "confirm", "Confirm the engine's decision"
    TIGHTEN = "tighten", "Tighten: more conditions or a shorter time"
    DENY = "deny", "Deny"
    OVERRIDE = "override", "Approve against the engine's advice"


class ReviewError(Exception):
    """Why this review cannot be recorded, in words for the reviewer."""


@dataclass(frozen=True)
class Outcome:
    verdict: str
    conditions: list[str]
    hours: int
    against_engine: bool


def review_outcome(
    *,
    action: str,
    engine_verdict: str,
    engine_conditions: list[str],
    requested_hours: int,
    extra_conditions: list[str],
    hours: int | None,
    reason: str,
) -> Outcome:
    """What a reviewer's action amounts to. Pure; raises ReviewError for an action that makes no sense.

    An override never drops below MFA and time-bound access: a person may judge the engine too strict,
    but access granted against its advice is still verified and still ends.
    """
    unknown = set(extra_conditions) - set(Condition.values)
    if unknown:
        raise ReviewError(f"Unknown condition(s): {', '.join(sorted(unknown))}.")
    if action == ReviewAction.DENY:
        return Outcome(Verdict.DENY, [], requested_hours, against_engine=False)
    if action == ReviewAction.CONFIRM:
        return Outcome(engine_verdict, list(engine_conditions), requested_hours, against_engine=False)

    # Only tightening and overriding take a duration; it can only shorten what was asked.
    hours = requested_hours if hours is None else hours
    if hours < 1 or hours > requested_hours:
        raise ReviewError(f"The duration must be between 1 and the {requested_hours} h requested.")
    if action == ReviewAction.TIGHTEN:
        if engine_verdict == Verdict.DENY:
            raise ReviewError("The engine denied this request; there is nothing to tighten. Confirm the denial.")
        if not extra_conditions and hours == requested_hours:
            raise ReviewError("To tighten, add a condition or shorten the duration.")
        merged = ordered_conditions(set(engine_conditions) | set(extra_conditions))
        verdict = Verdict.APPROVE_WITH_CONDITIONS if merged else engine_verdict
        return Outcome(verdict, merged, hours, against_engine=False)
    if action == ReviewAction.OVERRIDE:
        if len(reason.split()) < MIN_OVERRIDE_REASON_WORDS or len(reason) < MIN_OVERRIDE_REASON_CHARS:
            raise ReviewError(
                "Approving against the engine needs a reason of at least a sentence "
                f"({MIN_OVERRIDE_REASON_WORDS} words, {MIN_OVERRIDE_REASON_CHARS} characters)."
            )
        conditions = ordered_conditions(set(BASE_CONDITIONS) | set(extra_conditions))
        looser = engine_verdict == Verdict.DENY or not set(engine_conditions) <= set(conditions)
        if not looser:
            raise ReviewError("This keeps every condition the engine asked for: use Confirm or Tighten instead.")
        return Outcome(Verdict.APPROVE_WITH_CONDITIONS, conditions, hours, against_engine=True)
    raise ReviewError(f"Unknown action {action!r}.")


def decided_by(access_request: AccessRequest) -> str:
    """Who settled a request that is no longer awaiting review, for the losing reviewer's message."""
    if access_request.status == RequestStatus.EXPIRED:
        return "expiry (nobody reviewed it in time)"
    names = [review.reviewer.username for review in access_request.reviews.select_related("reviewer")]
    return ", ".join(names) if names else "the engine"


def review_blocker(access_request: AccessRequest, reviewer, *, already_reviewed: bool = False) -> str:
    """Why this reviewer may not review this request; empty when they may."""
    if already_reviewed:
        return "You have approved this request; a second, different reviewer must decide."
    identity = access_request.identity
    if access_request.requester_id == reviewer.pk or identity.user_id == reviewer.pk:
        return "You cannot review your own request."
    if identity.owner_id and identity.owner.user_id == reviewer.pk:
        return "You own the identity this request is for; another reviewer must decide."
    return ""


def approvals_needed(access_request: AccessRequest, approvals) -> int:
    """Two distinct approvals for roles that say so, and to overrule a hard rule (break-glass):
    one person alone cannot undo a rule written to deny outright."""
    overrules_hard_rule = access_request.decision.hard_rule and any(r.against_engine for r in approvals)
    return 2 if access_request.role.requires_two_reviewers or overrules_hard_rule else 1


def review_submit(
    *,
    request_id: int,
    reviewer,
    action: str,
    extra_conditions: list[str] = (),
    hours: int | None = None,
    reason: str = "",
) -> Review:
    """Record one review and apply its outcome.

    1. Lock the request; it must still be awaiting review (else: "already decided by …").
    2. Refuse self-review and review by the identity's owner, and a second review by the same person.
    3. Work out the outcome and record the Review beside the engine's Decision.
    4. A denial denies at once; an approval grants once enough distinct reviewers have approved
       (two for roles that require it), with the strictest conditions and shortest time among them.
    """
    now = timezone.now()
    with transaction.atomic():
        access_request = (
            AccessRequest.objects.select_for_update(of=("self",))
            .select_related("identity__owner", "role", "decision")
            .get(pk=request_id)
        )
        if access_request.status != RequestStatus.NEEDS_REVIEW:
            raise ReviewError(f"Already decided by {decided_by(access_request)}.")
        blocker = review_blocker(access_request, reviewer)
        if blocker:
            raise ReviewError(blocker)
        if access_request.reviews.filter(reviewer=reviewer).exists():
            raise ReviewError("You have already approved this request; it needs a different second reviewer.")

        decision = access_request.decision
        outcome = review_outcome(
            action=action,
            engine_verdict=decision.verdict,
            engine_conditions=decision.conditions,
            requested_hours=access_request.duration_hours,
            extra_conditions=list(extra_conditions),
            hours=hours,
            reason=reason.strip(),
        )
        review = Review.objects.create(
            request=access_request,
            reviewer=reviewer,
            outcome=outcome.verdict,
            conditions=outcome.conditions,
            duration_hours=outcome.hours,
            reason=reason.strip(),
            against_engine=outcome.against_engine,
        )
        audit_record(
            kind=AuditKind.REVIEWED,
            actor=reviewer,
            request=access_request,
            decision=decision,
            data={
                "action": action,
                "outcome": outcome.verdict,
                "engine_verdict": decision.verdict,
                "conditions": outcome.conditions,
                "hours": outcome.hours,
                "against_engine": outcome.against_engine,
                "reason": review.reason,
            },
        )

        if outcome.verdict == Verdict.DENY:
            AccessRequest.objects.filter(pk=access_request.pk).update(status=RequestStatus.DENIED, decided_at=now)
            audit_record(kind=AuditKind.DENIED, actor=reviewer, request=access_request, data={"by": reviewer.username})
            transaction.on_commit(lambda: notify_requester(access_request.pk))
            return review

        approvals = list(access_request.reviews.exclude(outcome=Verdict.DENY).select_related("reviewer"))
        needed = approvals_needed(access_request, approvals)
        if len(approvals) >= needed:
            conditions = ordered_conditions({c for r in approvals for c in r.conditions})
            grant_create(
                access_request=access_request,
                conditions=conditions,
                hours=min(r.duration_hours for r in approvals),
                granted_by=", ".join(r.reviewer.username for r in approvals),
                actor=reviewer,
                now=now,
            )
            transaction.on_commit(lambda: notify_requester(access_request.pk))
    return review


def reviews_expire(*, now: datetime) -> int:
    """Expire requests left unreviewed past the configured time: EXPIRED, never approved."""
    cutoff = now - timedelta(hours=settings.JIT_REVIEW_TIMEOUT_HOURS)
    stale = AccessRequest.objects.filter(status=RequestStatus.NEEDS_REVIEW, decision__created_at__lt=cutoff)
    expired = 0
    for access_request in stale.only("pk"):
        with transaction.atomic():
            # The status guard loses cleanly to a reviewer who acts at the same moment.
            if AccessRequest.objects.filter(pk=access_request.pk, status=RequestStatus.NEEDS_REVIEW).update(
                status=RequestStatus.EXPIRED, decided_at=now
            ):
                audit_record(
                    kind=AuditKind.EXPIRED,
                    actor="system",
                    request=access_request,
                    data={"after_hours": settings.JIT_REVIEW_TIMEOUT_HOURS},
                )
                transaction.on_commit(lambda pk=access_request.pk: notify_requester(pk))
                expired += 1
    return expired
