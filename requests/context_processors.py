from requests.permissions import is_auditor, is_reviewer


def portal_roles(request):
    """Which sections the signed-in user may open, for the navigation bar."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"perms_reviewer": is_reviewer(user), "perms_auditor": is_auditor(user)}
