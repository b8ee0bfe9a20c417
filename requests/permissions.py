"""Who may see what. Every view that reads a request goes through `get_request_for_user`, so that no
view can forget the check, and another user's request answers 404 rather than revealing it exists."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from requests.models import AccessRequest

REQUESTERS, REVIEWERS, AUDITORS, ADMINS = "requesters", "reviewers", "auditors", "admins"


def in_group(user, *names: str) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_superuser:
        return True
    # Cached on the user object: a page asks several times (nav, view, template).
    if not hasattr(user, "_jit_groups"):
        user._jit_groups = set(user.groups.values_list("name", flat=True))
    return any(name in user._jit_groups for name in names)


def is_reviewer(user) -> bool:
    return in_group(user, REVIEWERS, ADMINS)


def is_auditor(user) -> bool:
    return in_group(user, AUDITORS, REVIEWERS, ADMINS)


def get_request_for_user(user, pk: int, *, to_review: bool = False) -> AccessRequest:
    """The request, if this user may see it: their own, or any for reviewers and auditors.

    With `to_review`, only reviewers get it. Everyone else gets a 404 — for another user's request as
    for one that does not exist, so the answer reveals nothing.
    """
    queryset = AccessRequest.objects.select_related("identity__owner", "role", "requester", "decision", "grant")
    if to_review and not is_reviewer(user):
        queryset = queryset.none()
    elif not is_auditor(user):
        queryset = queryset.filter(requester=user)
    return get_object_or_404(queryset, pk=pk)


def group_required(check):
    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


reviewer_required = group_required(is_reviewer)
auditor_required = group_required(is_auditor)
