from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from decisions.export import export_rows
from decisions.forms import HistoryFilterForm
from decisions.models import Decision
from decisions.pipeline import request_retry
from requests.models import OPEN_STATUSES, AccessRequest
from requests.permissions import auditor_required, get_request_for_user, reviewer_required

HISTORY_PAGE_SIZE = 50


@login_required
@reviewer_required
@require_GET
@vary_on_headers("HX-Request")
def queue(request):
    """Requests awaiting evaluation (or failed and retryable), newest first, and the latest decisions."""
    waiting = (
        AccessRequest.objects.filter(status__in=OPEN_STATUSES)
        .select_related("identity", "role", "requester")
        .order_by("-submitted_at", "-id")[:200]
    )
    recent = Decision.objects.select_related("request__identity", "request__role", "request__requester")[:15]
    context = {"waiting": waiting, "recent": recent, "now": timezone.now()}
    template = "decisions/queue.html#queue-body" if request.htmx else "decisions/queue.html"
    return render(request, template, context)


@login_required
@reviewer_required
@require_POST
def request_retry_view(request, pk: int):
    access_request = get_request_for_user(request.user, pk)
    if request_retry(access_request=access_request):
        messages.success(request, f"Request #{pk} is queued for evaluation again.")
    else:
        messages.info(request, f"Request #{pk} already has a decision.")
    return redirect(request.POST.get("next") or "decisions:queue")


@login_required
@auditor_required
@require_GET
def history(request):
    form = HistoryFilterForm(request.GET or None)
    decisions = Decision.objects.select_related("request__identity", "request__role", "request__requester")
    if form.is_bound and not form.is_valid():
        decisions = decisions.none()
    elif form.is_bound:
        decisions = form.filter(decisions)
    page = Paginator(decisions, HISTORY_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "decisions/history.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "filtered": bool(form.is_bound and form.is_valid() and form.active_filters()),
        },
    )


@login_required
@auditor_required
@require_GET
def export_csv(request):
    form = HistoryFilterForm(request.GET)
    if not form.is_valid():
        errors = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items())
        return HttpResponseBadRequest(f"Invalid filter: {errors}\n", content_type="text/plain")
    response = StreamingHttpResponse(
        export_rows(form.filter(Decision.objects.all())), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="jit-decisions-{stamp}.csv"'
    return response
