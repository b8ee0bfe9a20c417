from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from decisions.audit import audit_record
from decisions.export import export_rows
from decisions.forms import AuditFilterForm, HistoryFilterForm, ReviewForm
from decisions.models import AuditEvent, AuditKind, Decision
from decisions.pipeline import request_retry
from decisions.policy import Condition, Verdict
from decisions.reviews import ReviewError, review_blocker, review_submit
from requests.models import AWAITING_EVALUATION, AccessRequest, RequestStatus
from requests.permissions import auditor_required, get_request_for_user, reviewer_required

HISTORY_PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 50


@login_required
@reviewer_required
@require_GET
@vary_on_headers("HX-Request")
def queue(request):
    """What needs a human (riskiest and oldest first), what awaits the engine, and the latest decisions."""
    needs_review = list(
        AccessRequest.objects.filter(status=RequestStatus.NEEDS_REVIEW)
        .select_related("identity__owner", "role", "requester", "decision")
        .annotate(
            approvals=Count("reviews", filter=~Q(reviews__outcome=Verdict.DENY)),
            mine=Count("reviews", filter=Q(reviews__reviewer=request.user)),
        )
        .order_by("-decision__risk_score", "submitted_at", "id")[:200]
    )
    for access_request in needs_review:
        access_request.blocker = review_blocker(access_request, request.user, already_reviewed=access_request.mine > 0)
    waiting = (
        AccessRequest.objects.filter(status__in=AWAITING_EVALUATION)
        .select_related("identity", "role", "requester")
        .order_by("-submitted_at", "-id")[:200]
    )
    recent = Decision.objects.select_related("request__identity", "request__role", "request__requester")[:15]
    context = {"needs_review": needs_review, "waiting": waiting, "recent": recent, "now": timezone.now()}
    template = "decisions/queue.html#queue-body" if request.htmx else "decisions/queue.html"
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def review(request, pk: int):
    """One request under review: the engine's decision in full, earlier reviews, and the actions."""
    access_request = get_request_for_user(request.user, pk, to_review=True)
    form = ReviewForm(request.POST or None, requested_hours=access_request.duration_hours)
    if request.method == "POST" and form.is_valid():
        try:
            review_submit(
                request_id=access_request.pk,
                reviewer=request.user,
                action=form.cleaned_data["action"],
                extra_conditions=form.cleaned_data["conditions"],
                hours=form.cleaned_data["hours"],
                reason=form.cleaned_data["reason"],
            )
        except ReviewError as exc:
            messages.error(request, f"Request #{pk}: {exc}")
            if request.POST.get("from") == "queue":
                return redirect("decisions:queue")
        else:
            access_request.refresh_from_db()
            if access_request.status == RequestStatus.NEEDS_REVIEW:
                messages.success(
                    request, f"Request #{pk}: your approval is recorded; a second reviewer must approve too."
                )
            else:
                messages.success(request, f"Request #{pk} reviewed: {access_request.get_status_display().lower()}.")
            return redirect("decisions:queue")
    context = {
        "access_request": access_request,
        "decision": getattr(access_request, "decision", None),
        "reviews": access_request.reviews.select_related("reviewer"),
        "form": form,
        "blocker": review_blocker(
            access_request,
            request.user,
            already_reviewed=access_request.reviews.filter(reviewer=request.user).exists(),
        ),
        "condition_choices": Condition.choices,
    }
    return render(request, "decisions/review.html", context)


@login_required
@require_POST
def request_retry_view(request, pk: int):
    access_request = get_request_for_user(request.user, pk, to_review=True)
    if request_retry(access_request=access_request):
        messages.success(request, f"Request #{pk} is queued for evaluation again.")
    else:
        messages.info(request, f"Request #{pk} already has a decision.")
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("decisions:queue")


@login_required
@auditor_required
@require_GET
def history(request):
    decisions = Decision.objects.select_related("request__identity", "request__role", "request__requester")
    context = filtered_page(request, HistoryFilterForm, decisions, HISTORY_PAGE_SIZE)
    return render(request, "decisions/history.html", context)


@login_required
@auditor_required
@require_GET
def export_csv(request):
    form = HistoryFilterForm(request.GET)
    if not form.is_valid():
        errors = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items())
        return HttpResponseBadRequest(f"Invalid filter: {errors}\n", content_type="text/plain")
    decisions = form.filter(Decision.objects.all())
    # Recorded before the first byte goes out: a download cut short was still an export.
    audit_record(
        kind=AuditKind.EXPORTED,
        actor=request.user,
        data={"filters": form.active_filters(), "rows": decisions.count()},
    )
    response = StreamingHttpResponse(export_rows(decisions), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="jit-decisions-{stamp}.csv"'
    return response


@login_required
@auditor_required
@require_GET
def audit_trail(request):
    """The audit trail, newest first, filtered by kind of event and by request."""
    context = filtered_page(request, AuditFilterForm, AuditEvent.objects.order_by("-seq"), AUDIT_PAGE_SIZE)
    return render(request, "decisions/audit.html", context)


def filtered_page(request, form_class, queryset, page_size: int) -> dict:
    """The context of a filtered, paginated list: the form, the page, and the query string without
    `page` for the pager's links. Invalid filters show nothing rather than everything."""
    form = form_class(request.GET or None)
    if form.is_bound and not form.is_valid():
        queryset = queryset.none()
    elif form.is_bound:
        queryset = form.filter(queryset)
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "form": form,
        "page": Paginator(queryset, page_size).get_page(request.GET.get("page")),
        "query": query.urlencode(),
        "filtered": bool(form.is_bound and form.is_valid() and form.active_filters()),
    }
