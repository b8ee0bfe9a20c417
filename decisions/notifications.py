"""E-mail notifications through Django's mail backend (the console in `make demo`).

Sent after the transaction commits, so nobody is told about something that was rolled back; a mail
failure is logged and never undoes a decision.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail, send_mass_mail
from django.db.models import Q
from django.urls import reverse

from requests.models import AccessRequest
from requests.permissions import ADMINS, REVIEWERS

logger = logging.getLogger(__name__)


def absolute(path: str) -> str:
    return settings.JIT_BASE_URL.rstrip("/") + path


def notify_requester(access_request_id: int) -> None:
    access_request = AccessRequest.objects.select_related("requester", "role").get(pk=access_request_id)
    if not access_request.requester.email:
        return
    subject = (
        f"[JIT] Request #{access_request.pk} for {access_request.role.name}: {access_request.get_status_display()}"
    )
    body = (
        f"Your request #{access_request.pk} for {access_request.role.name} is now: "
        f"{access_request.get_status_display()}.\n\n"
        f"Details: {absolute(access_request.get_absolute_url())}\n"
    )
    try:
        send_mail(subject, body, None, [access_request.requester.email])
    except Exception:
        logger.exception("Could not e-mail the requester of request %s", access_request_id)


def notify_reviewers(access_request_id: int) -> None:
    access_request = AccessRequest.objects.select_related("requester", "identity", "role").get(pk=access_request_id)
    reviewers = (
        get_user_model()
        .objects.filter(Q(groups__name__in=[REVIEWERS, ADMINS]) | Q(is_superuser=True), is_active=True)
        .exclude(email="")
        .exclude(pk=access_request.requester_id)
        .distinct()
    )
    subject = (
        f"[JIT] Review needed: #{access_request.pk} {access_request.identity.username} → {access_request.role.name}"
    )
    body = (
        f"Request #{access_request.pk} by {access_request.requester.username} for {access_request.role.name} "
        f"({access_request.role.privilege_level}) is waiting for a reviewer.\n\n"
        f"Review it: {absolute(reverse('decisions:review', args=[access_request.pk]))}\n"
        f"Queue: {absolute(reverse('decisions:queue'))}\n"
    )
    messages = [(subject, body, None, [user.email]) for user in reviewers]
    try:
        send_mass_mail(messages)
    except Exception:
        logger.exception("Could not e-mail reviewers about request %s", access_request_id)
