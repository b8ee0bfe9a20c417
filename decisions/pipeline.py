"""The decision pipeline (DESIGN.md, steps 1–7): submit, snapshot, score, bound, advise, combine, record.

A request is claimed before it is evaluated, so that a second delivery of the task neither evaluates it
twice nor calls the model twice, and the `Decision` row is unique per request in the database, so that
even a race between two workers records exactly one outcome.
"""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from decisions import advisor, policy, scoring
from decisions.audit import audit_record
from decisions.grants import grant_create
from decisions.models import AuditKind, Decision
from decisions.notifications import notify_requester, notify_reviewers
from decisions.policy import Condition, Verdict
from requests.models import AccessRequest, Identity, RequestStatus, Role

logger = logging.getLogger(__name__)

RECENT_DENIALS_DAYS = 30


def signals_snapshot(
    *, identity: Identity, role: Role, requested_hours: int, recent_denials: int, now: datetime
) -> scoring.Signals:
    """The signals at this instant, from the identity store and the role catalogue only."""

    def days_since(moment):
        return None if moment is None else max(0, (now - moment).days)

    credential_moment = identity.credential_rotated_at or identity.credential_created_at
    return scoring.Signals(
        identity_kind=identity.kind,
        is_admin=identity.is_admin,
        days_inactive=days_since(identity.last_activity),
        mfa_enabled=identity.mfa_enabled,
        has_owner=identity.owner_id is not None,
        credential_age_days=days_since(credential_moment),
        role_privilege=role.privilege_level,
        role_grants_admin=role.grants_admin,
        role_max_hours=role.max_duration_hours,
        requested_hours=requested_hours,
        recent_denials=recent_denials,
    )


def request_submit(
    *, requester, identity: Identity, role: Role, justification: str, duration_hours: int
) -> AccessRequest:
    """Save the request and enqueue its evaluation once (and only once) the row is committed."""
    with transaction.atomic():
        access_request = AccessRequest.objects.create(
            requester=requester,
            identity=identity,
            role=role,
            justification=justification,
            duration_hours=duration_hours,
        )
        audit_record(
            kind=AuditKind.SUBMITTED,
            actor=requester,
            request=access_request,
            data={
                "identity": identity.username,
                "role": role.slug,
                "duration_hours": duration_hours,
                "justification": justification,
            },
        )
        transaction.on_commit(lambda: request_enqueue(access_request.pk))
    return access_request


def request_enqueue(request_id: int) -> bool:
    """Hand the request to a worker. A broker outage loses nothing: the row stays PENDING and the
    beat sweep, or a reviewer's "Evaluate again", enqueues it later."""
    from decisions.tasks import evaluate_request_task

    try:
        evaluate_request_task.delay(request_id)
    except Exception:
        logger.exception("Could not enqueue request %s; it stays pending until the broker is back", request_id)
        return False
    return True


def request_claim(*, request_id: int, now: datetime) -> bool:
    """Atomically mark the request as being evaluated; False when it is decided or another worker holds it."""
    stale_before = now - timedelta(seconds=settings.JIT_EVALUATION_STALE_SECONDS)
    claimable = Q(status=RequestStatus.PENDING) | Q(status=RequestStatus.EVALUATING, claimed_at__lt=stale_before)
    updated = AccessRequest.objects.filter(claimable, pk=request_id, decision__isnull=True).update(
        status=RequestStatus.EVALUATING, claimed_at=now, last_error="", attempts=F("attempts") + 1
    )
    return updated == 1


def request_evaluate(*, request_id: int) -> Decision | None:
    """Evaluate one request end to end and record its decision.

    1. Return the existing decision if there is one (tasks may run twice).
    2. Claim the request; if another worker holds it, return without doing anything.
    3. Snapshot the signals, score them and compute the policy bound (pure functions).
    4. Ask the AI advisor, unless the bound is already DENY; any AI failure leaves the policy alone.
    5. Combine (stricter wins) and record the decision and the request's outcome in one transaction.
    """
    existing = Decision.objects.filter(request_id=request_id).first()
    if existing:
        return existing
    started = time.monotonic()
    now = timezone.now()
    if not request_claim(request_id=request_id, now=now):
        return Decision.objects.filter(request_id=request_id).first()

    access_request = AccessRequest.objects.select_related("identity", "role").get(pk=request_id)
    recent_denials = Decision.objects.filter(
        request__identity_id=access_request.identity_id,
        verdict=Verdict.DENY,
        created_at__gte=now - timedelta(days=RECENT_DENIALS_DAYS),
    ).count()
    signals = signals_snapshot(
        identity=access_request.identity,
        role=access_request.role,
        requested_hours=access_request.duration_hours,
        recent_denials=recent_denials,
        now=now,
    )
    result = scoring.score(signals)
    bound = policy.bound(signals, result)

    advice = None
    if bound.hard_rule:
        ai_error = f"hard rule {bound.hard_rule} denies outright, so the AI was not asked"
    elif bound.verdict == Verdict.DENY:
        ai_error = "the policy bound is DENY and the AI can only be stricter, so it was not asked"
    else:
        try:
            advice = advisor.advise(
                signals=signals,
                result=result,
                policy=bound,
                role_name=access_request.role.name,
                justification=access_request.justification,
            )
            ai_error = ""
        except advisor.AdvisorError as exc:
            ai_error = str(exc)
            logger.debug("AI advisor not used for request %s: %s", request_id, ai_error)

    verdict, conditions = policy.combine(
        signals, bound, advice.verdict if advice else None, advice.recommended_controls if advice else []
    )
    if advice:
        reasoning, drivers, controls = advice.reasoning, advice.risk_drivers, advice.recommended_controls
        if verdict != advice.verdict:
            reasoning = f"{reasoning}\n\nPolicy bound {bound.verdict} is stricter than the AI's {advice.verdict}: {bound.explanation}"
    else:
        reasoning = bound.explanation
        drivers = [factor.label for factor in result.factors]
        controls = [Condition(code).label for code in conditions]

    return decision_record(
        access_request=access_request,
        fields=dict(
            policy_version=result.version,
            signals=signals.as_dict(),
            risk_score=result.value,
            risk_band=bound.band,
            factors=[factor.as_dict() for factor in result.factors],
            hard_rule=bound.hard_rule,
            policy_verdict=bound.verdict,
            ai_verdict=advice.verdict if advice else "",
            verdict=verdict,
            engine=f"ai:{advice.model}" if advice else "policy",
            ai_model=advice.model if advice else "",
            ai_error=ai_error,
            reasoning=reasoning,
            risk_drivers=drivers,
            recommended_controls=controls,
            conditions=list(conditions),
            ai_latency_ms=advice.latency_ms if advice else None,
            ai_prompt_tokens=advice.prompt_tokens if advice else None,
            ai_completion_tokens=advice.completion_tokens if advice else None,
            evaluation_ms=round((time.monotonic() - started) * 1000),
        ),
    )


def decision_record(*, access_request: AccessRequest, fields: dict) -> Decision:
    """Store the decision and act on it, all in one transaction (DESIGN.md step 8).

    The unique constraint keeps it to one decision per request. Then: a human must review (the
    request waits in the queue), or an approval becomes a time-bound grant, or a denial closes it.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            decision = Decision.objects.create(request=access_request, **fields)
            audit_record(
                kind=AuditKind.EVALUATED,
                actor="worker",
                request=access_request,
                decision=decision,
                data={
                    "verdict": decision.verdict,
                    "policy_verdict": decision.policy_verdict,
                    "risk_score": decision.risk_score,
                    "risk_band": decision.risk_band,
                    "engine": decision.engine,
                    "model": decision.ai_model,
                    "ai_error": decision.ai_error,
                    "policy_version": decision.policy_version,
                    "conditions": decision.conditions,
                },
            )
            role = access_request.role
            if policy.review_required(
                review_mode=role.effective_review_mode,
                verdict=decision.verdict,
                band=decision.risk_band,
                used_ai=decision.used_ai,
                two_reviewers=role.requires_two_reviewers,
                conditions=decision.conditions,
            ):
                AccessRequest.objects.filter(pk=access_request.pk).update(
                    status=RequestStatus.NEEDS_REVIEW, last_error=""
                )
                transaction.on_commit(lambda: notify_reviewers(access_request.pk))
            elif decision.verdict == Verdict.DENY:
                AccessRequest.objects.filter(pk=access_request.pk).update(
                    status=RequestStatus.DENIED, decided_at=now, last_error=""
                )
                audit_record(kind=AuditKind.DENIED, actor="engine", request=access_request, data={"by": "engine"})
                transaction.on_commit(lambda: notify_requester(access_request.pk))
            else:
                grant_create(
                    access_request=access_request,
                    conditions=decision.conditions,
                    hours=access_request.duration_hours,
                    granted_by="engine",
                    actor="engine",
                    now=now,
                )
                transaction.on_commit(lambda: notify_requester(access_request.pk))
    except IntegrityError:
        # Another worker recorded first and theirs stands; any other integrity error is a real failure.
        existing = Decision.objects.filter(request=access_request).first()
        if existing is None:
            raise
        return existing
    return decision


def request_release(*, request_id: int) -> None:
    """Give up a claim without an outcome, so the next attempt can claim the request at once."""
    AccessRequest.objects.filter(pk=request_id, decision__isnull=True, status=RequestStatus.EVALUATING).update(
        status=RequestStatus.PENDING, claimed_at=None
    )


def request_mark_failed(*, request_id: int, error: str) -> None:
    """Leave an undecided request visibly failed, with the reason, so a reviewer can retry it."""
    AccessRequest.objects.filter(pk=request_id, decision__isnull=True).update(
        status=RequestStatus.FAILED, last_error=error[:2000]
    )


def request_retry(*, access_request: AccessRequest) -> bool:
    """Put a failed or stuck request back in line. Returns False if it already has a decision."""
    with transaction.atomic():
        updated = AccessRequest.objects.filter(
            pk=access_request.pk, decision__isnull=True, status__in=[RequestStatus.FAILED, RequestStatus.PENDING]
        ).update(status=RequestStatus.PENDING, claimed_at=None)
        if updated:
            transaction.on_commit(lambda: request_enqueue(access_request.pk))
    return bool(updated)


def requests_requeue_stuck(*, now: datetime, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Enqueue requests that have waited too long: the broker was down, or a worker died mid-task."""
    stale_before = now - timedelta(seconds=settings.JIT_EVALUATION_STALE_SECONDS)
    stuck = AccessRequest.objects.filter(
        Q(status=RequestStatus.PENDING, submitted_at__lt=now - older_than)
        | Q(status=RequestStatus.EVALUATING, claimed_at__lt=stale_before),
        decision__isnull=True,
    ).values_list("pk", flat=True)
    return sum(request_enqueue(pk) for pk in stuck)
