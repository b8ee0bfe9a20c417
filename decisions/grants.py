"""Granting access: the only place a Grant is created, so every grant is time-bound and recorded."""

from datetime import datetime, timedelta

from decisions.audit import audit_record
from decisions.models import AuditKind, Grant
from requests.models import AccessRequest, RequestStatus


def grant_create(
    *, access_request: AccessRequest, conditions: list[str], hours: int, granted_by: str, actor, now: datetime
) -> Grant:
    """Give the access (never beyond the role's maximum) and mark the request approved. Call inside a
    transaction; the one-grant-per-request constraint makes a second grant fail rather than double up."""
    hours = min(hours, access_request.role.max_duration_hours)
    grant = Grant.objects.create(
        request=access_request,
        identity_id=access_request.identity_id,
        role_id=access_request.role_id,
        conditions=conditions,
        granted_by=granted_by,
        starts_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    AccessRequest.objects.filter(pk=access_request.pk).update(
        status=RequestStatus.APPROVED, decided_at=now, expires_at=grant.expires_at
    )
    audit_record(
        kind=AuditKind.GRANTED,
        actor=actor,
        request=access_request,
        data={
            "grant_id": grant.pk,
            "role": access_request.role.slug,
            "identity": access_request.identity.username,
            "conditions": conditions,
            "hours": hours,
            "expires_at": grant.expires_at.isoformat(),
            "granted_by": granted_by,
        },
    )
    return grant
