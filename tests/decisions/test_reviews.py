"""Human review: routing, the four actions, separation of duties, two reviewers, races and expiry."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from decisions.models import AuditEvent, Decision, Grant, Review
from decisions.policy import review_required
from decisions.reviews import ReviewError, review_outcome, review_submit, reviews_expire
from requests.models import AccessRequest, Identity, IdentityKind, RequestStatus, ReviewMode
from tests.conftest import decide, make_user

# -- routing (a pure function) --------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, verdict, band, used_ai, two, expected",
    [
        ("never", "APPROVE", "low", True, False, False),
        ("never", "APPROVE_WITH_CONDITIONS", "medium", True, False, False),
        ("conditional", "APPROVE_WITH_CONDITIONS", "medium", True, False, True),
        ("conditional", "APPROVE", "low", True, False, False),
        ("always", "APPROVE", "low", True, False, True),
        ("never", "APPROVE", "low", True, True, True),  # two reviewers always means review
        # The policy alone (no AI) above the low band always goes to a human, whatever the role says.
        ("never", "APPROVE_WITH_CONDITIONS", "medium", False, False, True),
        ("never", "DENY", "high", False, False, True),
        ("never", "APPROVE", "low", False, False, False),
    ],
)
def test_review_routing(mode, verdict, band, used_ai, two, expected):
    assert review_required(review_mode=mode, verdict=verdict, band=band, used_ai=used_ai, two_reviewers=two) is expected


def test_critical_roles_default_to_always_and_high_to_conditional(roles):
    assert roles["critical"].effective_review_mode == ReviewMode.ALWAYS
    assert roles["high"].effective_review_mode == ReviewMode.CONDITIONAL
    assert roles["low"].effective_review_mode == ReviewMode.NEVER
    roles["low"].review_mode = ReviewMode.ALWAYS
    assert roles["low"].effective_review_mode == ReviewMode.ALWAYS


def test_low_band_policy_decision_on_a_never_role_is_granted_without_review(requester, roles, scenario_identities):
    access_request = decide(scenario_identities["standard_active"], roles["low"], requester=requester, hours=3)
    assert access_request.status == RequestStatus.APPROVED
    grant = access_request.grant
    assert (grant.granted_by, grant.conditions) == ("engine", [])
    assert grant.expires_at - grant.starts_at == timedelta(hours=3)


# -- the actions ------------------------------------------------------------------------------------


@pytest.fixture
def awaiting(requester, roles, scenario_identities):
    """A medium-band request the policy decided alone: APPROVE_WITH_CONDITIONS, waiting for a human."""
    access_request = decide(scenario_identities["standard_45d"], roles["high"], requester=requester, hours=4)
    assert access_request.status == RequestStatus.NEEDS_REVIEW
    assert access_request.decision.verdict == "APPROVE_WITH_CONDITIONS"
    return access_request


def test_confirm_grants_with_the_engines_conditions(awaiting, reviewer):
    review = review_submit(request_id=awaiting.pk, reviewer=reviewer, action="confirm")
    awaiting.refresh_from_db()
    assert (review.outcome, review.conditions, review.duration_hours) == (
        "APPROVE_WITH_CONDITIONS",
        ["MFA", "TIME_BOUND"],
        4,
    )
    assert awaiting.status == RequestStatus.APPROVED
    grant = Grant.objects.get(request=awaiting)
    assert grant.conditions == ["MFA", "TIME_BOUND"]
    assert grant.granted_by == "reviewer"
    assert grant.expires_at - grant.starts_at == timedelta(hours=4)
    assert awaiting.expires_at == grant.expires_at


def test_tighten_adds_conditions_and_shortens_the_grant(awaiting, reviewer):
    review_submit(
        request_id=awaiting.pk, reviewer=reviewer, action="tighten", extra_conditions=["SESSION_RECORDING"], hours=1
    )
    grant = Grant.objects.get(request=awaiting)
    assert grant.conditions == ["MFA", "TIME_BOUND", "SESSION_RECORDING"]
    assert grant.expires_at - grant.starts_at == timedelta(hours=1)


def test_tighten_cannot_lengthen_or_do_nothing(awaiting, reviewer):
    with pytest.raises(ReviewError, match="between 1 and the 4 h requested"):
        review_submit(request_id=awaiting.pk, reviewer=reviewer, action="tighten", hours=5)
    with pytest.raises(ReviewError, match="add a condition or shorten"):
        review_submit(request_id=awaiting.pk, reviewer=reviewer, action="tighten")
    assert not Review.objects.exists()


def test_deny_closes_the_request_and_grants_nothing(awaiting, reviewer):
    review_submit(request_id=awaiting.pk, reviewer=reviewer, action="deny", reason="No ticket linked.")
    awaiting.refresh_from_db()
    assert awaiting.status == RequestStatus.DENIED
    assert not Grant.objects.exists()


def test_engine_decision_is_never_overwritten_by_a_review(awaiting, reviewer):
    before = Decision.objects.filter(pk=awaiting.decision.pk).values().get()
    review_submit(request_id=awaiting.pk, reviewer=reviewer, action="deny")
    assert Decision.objects.filter(pk=awaiting.decision.pk).values().get() == before


def test_approving_against_the_engine_needs_a_sentence(awaiting, reviewer):
    for reason in ["ok", "a b c d e", "   "]:
        with pytest.raises(ReviewError, match="at least a sentence"):
            review_submit(request_id=awaiting.pk, reviewer=reviewer, action="override", reason=reason)
    assert not Review.objects.exists()


def test_an_override_drops_conditions_but_never_mfa_or_the_time_limit(requester, reviewer, roles):
    critical = decide(requester.identity, roles["critical"], requester=requester)
    engine = critical.decision
    assert engine.conditions == ["MFA", "TIME_BOUND", "MANAGER_APPROVAL", "SESSION_RECORDING"]
    reason = "The on-call manager approved this by phone during incident INC-7."
    review = review_submit(request_id=critical.pk, reviewer=reviewer, action="override", reason=reason)
    critical.refresh_from_db()
    assert (review.outcome, review.against_engine, review.reason) == ("APPROVE_WITH_CONDITIONS", True, reason)
    assert critical.status == RequestStatus.APPROVED
    assert Grant.objects.get(request=critical).conditions == ["MFA", "TIME_BOUND"]
    assert Decision.objects.get(pk=engine.pk).conditions == engine.conditions  # the engine's advice stays on record


def test_overruling_a_hard_rule_takes_two_reviewers(requester, reviewer, roles, scenario_identities):
    denied = decide(scenario_identities["dormant_admin"], roles["high"], requester=requester)
    assert (denied.status, denied.decision.verdict, denied.decision.hard_rule) == (
        RequestStatus.NEEDS_REVIEW,
        "DENY",
        "DORMANT_ADMIN_PRIVILEGED",
    )
    reason = "Incident INC-204 needs the break-glass admin back for one hour."
    review_submit(request_id=denied.pk, reviewer=reviewer, action="override", reason=reason, hours=1)
    denied.refresh_from_db()
    assert denied.status == RequestStatus.NEEDS_REVIEW and not Grant.objects.exists()

    second = make_user("second-reviewer", "reviewers")
    review_submit(
        request_id=denied.pk, reviewer=second, action="override", reason=reason, extra_conditions=["SESSION_RECORDING"]
    )
    denied.refresh_from_db()
    assert denied.status == RequestStatus.APPROVED
    grant = Grant.objects.get(request=denied)
    assert grant.conditions == ["MFA", "TIME_BOUND", "SESSION_RECORDING"]
    assert grant.expires_at - grant.starts_at == timedelta(hours=1)
    assert denied.decision.verdict == "DENY"


def test_override_must_actually_be_looser(awaiting, reviewer):
    with pytest.raises(ReviewError, match="keeps every condition the engine asked for"):
        review_submit(
            request_id=awaiting.pk,
            reviewer=reviewer,
            action="override",
            reason="I want to approve this with the same conditions again.",
            extra_conditions=["MFA"],
        )


def test_a_denial_ignores_the_duration_field(awaiting, reviewer):
    review_submit(request_id=awaiting.pk, reviewer=reviewer, action="deny", hours=99)
    awaiting.refresh_from_db()
    assert awaiting.status == RequestStatus.DENIED


def test_review_outcome_rejects_unknown_conditions_and_actions():
    common = dict(
        engine_verdict="APPROVE_WITH_CONDITIONS", engine_conditions=["MFA"], requested_hours=2, hours=None, reason=""
    )
    with pytest.raises(ReviewError, match="Unknown condition"):
        review_outcome(action="tighten", extra_conditions=["PINKY_PROMISE"], **common)
    with pytest.raises(ReviewError, match="Unknown action"):
        review_outcome(action="approve-everything", extra_conditions=[], **common)


# -- separation of duties --------------------------------------------------------------------------


def test_nobody_reviews_their_own_request(roles, scenario_identities):
    reviewer = make_user("self-reviewer", "reviewers")
    own = decide(reviewer.identity, roles["critical"], requester=reviewer)
    assert own.status == RequestStatus.NEEDS_REVIEW
    with pytest.raises(ReviewError, match="your own request"):
        review_submit(request_id=own.pk, reviewer=reviewer, action="confirm")
    assert not Review.objects.exists()


def test_nobody_reviews_a_request_for_their_own_identity_made_by_someone_else(requester, roles):
    reviewer = make_user("identity-holder", "reviewers")
    for_them = decide(reviewer.identity, roles["critical"], requester=requester)
    with pytest.raises(ReviewError, match="your own request"):
        review_submit(request_id=for_them.pk, reviewer=reviewer, action="deny")


def test_nobody_reviews_a_request_for_an_identity_they_own(requester, reviewer, roles):
    service = Identity.objects.create(
        username="deploy-bot",
        kind=IdentityKind.SERVICE,
        owner=reviewer.identity,
        last_activity=timezone.now(),
        credential_rotated_at=timezone.now(),
    )
    access_request = decide(service, roles["critical"], requester=requester)
    assert access_request.status == RequestStatus.NEEDS_REVIEW
    with pytest.raises(ReviewError, match="You own the identity"):
        review_submit(request_id=access_request.pk, reviewer=reviewer, action="confirm")
    other = make_user("other-reviewer", "reviewers")
    review_submit(request_id=access_request.pk, reviewer=other, action="deny")


# -- two reviewers ---------------------------------------------------------------------------------


@pytest.fixture
def two_reviewer_request(requester, roles, scenario_identities):
    role = roles["low"]
    role.requires_two_reviewers = True
    role.save()
    access_request = decide(scenario_identities["standard_active"], role, requester=requester, hours=2)
    assert (access_request.status, access_request.decision.verdict) == (RequestStatus.NEEDS_REVIEW, "APPROVE")
    return access_request


def test_two_reviewer_roles_need_two_distinct_approvals(two_reviewer_request, reviewer):
    second = make_user("second-reviewer", "reviewers")
    review_submit(request_id=two_reviewer_request.pk, reviewer=reviewer, action="confirm")
    two_reviewer_request.refresh_from_db()
    assert two_reviewer_request.status == RequestStatus.NEEDS_REVIEW
    assert not Grant.objects.exists()

    with pytest.raises(ReviewError, match="different second reviewer"):
        review_submit(request_id=two_reviewer_request.pk, reviewer=reviewer, action="confirm")

    review_submit(request_id=two_reviewer_request.pk, reviewer=second, action="tighten", hours=1)
    two_reviewer_request.refresh_from_db()
    assert two_reviewer_request.status == RequestStatus.APPROVED
    grant = Grant.objects.get(request=two_reviewer_request)
    assert grant.granted_by == "reviewer, second-reviewer"
    assert grant.expires_at - grant.starts_at == timedelta(hours=1)  # the stricter of the two


def test_one_denial_denies_a_two_reviewer_request(two_reviewer_request, reviewer):
    second = make_user("second-reviewer", "reviewers")
    review_submit(request_id=two_reviewer_request.pk, reviewer=reviewer, action="confirm")
    review_submit(request_id=two_reviewer_request.pk, reviewer=second, action="deny")
    two_reviewer_request.refresh_from_db()
    assert two_reviewer_request.status == RequestStatus.DENIED
    assert not Grant.objects.exists()


# -- two reviewers at once ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_reviewers_acting_at_once_one_wins_and_nothing_is_granted_twice(requester, roles, scenario_identities):
    access_request = decide(scenario_identities["standard_45d"], roles["high"], requester=requester)
    reviewers = [make_user(f"racer-{n}", "reviewers") for n in range(2)]
    start = threading.Barrier(2)
    results: dict[str, str] = {}

    def act(user):
        try:
            start.wait()
            review_submit(request_id=access_request.pk, reviewer=user, action="confirm")
            results[user.username] = "won"
        except ReviewError as exc:
            results[user.username] = str(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=act, args=(user,)) for user in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    winners = [name for name, result in results.items() if result == "won"]
    assert len(winners) == 1, results
    (loser,) = set(results) - set(winners)
    assert results[loser] == f"Already decided by {winners[0]}."
    assert Grant.objects.filter(request=access_request).count() == 1
    assert Review.objects.filter(request=access_request).count() == 1


# -- expiry ---------------------------------------------------------------------------------------


def test_a_request_left_unreviewed_expires_never_approved(awaiting, requester, roles, scenario_identities, settings):
    settings.JIT_REVIEW_TIMEOUT_HOURS = 24
    fresh = decide(scenario_identities["standard_45d"], roles["high"], requester=requester)
    Decision.objects.filter(pk=awaiting.decision.pk).update(created_at=timezone.now() - timedelta(hours=25))

    assert reviews_expire(now=timezone.now()) == 1

    awaiting.refresh_from_db()
    fresh.refresh_from_db()
    assert awaiting.status == RequestStatus.EXPIRED
    assert fresh.status == RequestStatus.NEEDS_REVIEW
    assert not Grant.objects.filter(request=awaiting).exists()
    assert AuditEvent.objects.filter(kind="expired", request=awaiting).count() == 1
    assert reviews_expire(now=timezone.now()) == 0  # idempotent


def test_a_reviewer_arriving_after_expiry_is_told(awaiting, reviewer, settings):
    Decision.objects.filter(pk=awaiting.decision.pk).update(created_at=timezone.now() - timedelta(days=2))
    reviews_expire(now=timezone.now())
    with pytest.raises(ReviewError, match="Already decided by expiry"):
        review_submit(request_id=awaiting.pk, reviewer=reviewer, action="confirm")


def test_expiry_timeout_is_configurable(awaiting, settings):
    Decision.objects.filter(pk=awaiting.decision.pk).update(created_at=timezone.now() - timedelta(hours=3))
    settings.JIT_REVIEW_TIMEOUT_HOURS = 4
    assert reviews_expire(now=timezone.now()) == 0
    settings.JIT_REVIEW_TIMEOUT_HOURS = 2
    assert reviews_expire(now=timezone.now()) == 1


# -- notifications --------------------------------------------------------------------------------


def test_reviewers_are_told_when_a_request_enters_the_queue_and_the_requester_when_it_is_decided(
    requester, reviewer, roles, scenario_identities, settings, django_capture_on_commit_callbacks
):
    settings.JIT_BASE_URL = "https://jit.example.com"
    requester.email, reviewer.email = "req@example.com", "rev@example.com"
    requester.save()
    reviewer.save()

    with django_capture_on_commit_callbacks(execute=True):
        access_request = decide(scenario_identities["standard_45d"], roles["high"], requester=requester)
    (to_reviewers,) = mail.outbox
    assert to_reviewers.to == ["rev@example.com"]
    assert f"https://jit.example.com/decisions/requests/{access_request.pk}/review/" in to_reviewers.body

    with django_capture_on_commit_callbacks(execute=True):
        review_submit(request_id=access_request.pk, reviewer=reviewer, action="confirm")
    to_requester = mail.outbox[1]
    assert to_requester.to == ["req@example.com"]
    assert "Approved" in to_requester.subject
    assert f"https://jit.example.com/requests/{access_request.pk}/" in to_requester.body


# -- the audit trail records each step -----------------------------------------------------------


def test_each_step_is_an_audit_event(awaiting, reviewer):
    review_submit(request_id=awaiting.pk, reviewer=reviewer, action="confirm")
    kinds = list(AuditEvent.objects.filter(request=awaiting).order_by("seq").values_list("kind", "actor"))
    assert kinds == [("evaluated", "worker"), ("reviewed", "reviewer"), ("granted", "reviewer")]
    evaluated = AuditEvent.objects.get(request=awaiting, kind="evaluated")
    assert evaluated.data["engine"] == "policy" and evaluated.decision_id == awaiting.decision.pk


def test_submitting_through_the_form_is_an_audit_event(client, requester, roles):
    client.force_login(requester)
    client.post(
        "/requests/new/",
        {"role": roles["low"].slug, "justification": "Check the nightly job logs.", "duration_hours": 1},
    )
    access_request = AccessRequest.objects.get()
    event = AuditEvent.objects.get(kind="submitted")
    assert (event.actor, event.request_id, event.data["role"]) == ("requester", access_request.pk, roles["low"].slug)


def test_manager_approval_is_met_by_a_person_not_by_the_engine():
    # An AI-backed conditional approval on a role that needs no review would be granted at once,
    # unless one of its conditions is a person's approval.
    common = dict(
        review_mode="never", verdict="APPROVE_WITH_CONDITIONS", band="medium", used_ai=True, two_reviewers=False
    )
    assert review_required(**common, conditions=["MFA", "TIME_BOUND"]) is False
    assert review_required(**common, conditions=["MFA", "TIME_BOUND", "MANAGER_APPROVAL"]) is True
