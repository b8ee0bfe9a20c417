from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from decisions.pipeline import request_submit
from requests.forms import AccessRequestForm
from requests.models import OPEN_STATUSES, AccessRequest, Identity, Role
from requests.permissions import get_request_for_user, is_auditor, is_reviewer

# htmx stops polling when a response has this status (and still swaps it in).
STOP_POLLING = 286


def own_identity(user) -> Identity | None:
    return Identity.objects.filter(user=user).first()


@login_required
@require_GET
def home(request):
    if is_reviewer(request.user):
        return redirect("decisions:queue")
    if is_auditor(request.user):
        return redirect("decisions:history")
    return redirect("requests:list")


@login_required
@require_http_methods(["GET", "POST"])
def request_new(request):
    identity = own_identity(request.user)
    form = AccessRequestForm(request.POST or None, initial={"role": request.GET.get("role", "")})
    if request.method == "POST" and identity and form.is_valid():
        access_request = request_submit(
            requester=request.user,
            identity=identity,
            role=form.cleaned_data["role"],
            justification=form.cleaned_data["justification"],
            duration_hours=form.cleaned_data["duration_hours"],
        )
        return redirect(access_request)
    roles = Role.objects.only("slug", "name", "privilege_level", "max_duration_hours")
    return render(request, "requests/new.html", {"form": form, "identity": identity, "roles": roles})


@login_required
@require_GET
def role_hint(request):
    """What the chosen role is, shown under the role field as the requester types."""
    role = Role.objects.filter(slug=request.GET.get("role", "").strip()).first()
    return render(request, "requests/new.html#role-hint", {"role": role})


@login_required
@require_GET
@vary_on_headers("HX-Request")
def request_list(request):
    my_requests = AccessRequest.objects.filter(requester=request.user).select_related("role", "decision")[:100]
    waiting = any(r.status in OPEN_STATUSES for r in my_requests)
    if request.htmx:
        response = render(request, "requests/list.html#request-rows", {"access_requests": my_requests})
        if not waiting:
            response.status_code = STOP_POLLING
        return response
    return render(request, "requests/list.html", {"access_requests": my_requests, "waiting": waiting})


@login_required
@require_GET
@vary_on_headers("HX-Request")
def request_detail(request, pk: int):
    access_request = get_request_for_user(request.user, pk)
    context = {
        "access_request": access_request,
        "decision": getattr(access_request, "decision", None),
        "can_retry": is_reviewer(request.user),
        "can_review": is_reviewer(request.user),
    }
    if request.htmx:
        response = render(request, "requests/detail.html#decision-panel", context)
        if not access_request.is_open:
            response.status_code = STOP_POLLING
        return response
    return render(request, "requests/detail.html", context)
