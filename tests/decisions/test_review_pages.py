"""The reviewer's pages, and that every object URL and fragment refuses other users' objects."""

from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.models import Decision, Grant, Review
from requests.models import AccessRequest, RequestStatus
from tests.conftest import decide, make_user


@pytest.fixture
def awaiting(requester, roles, scenario_identities):
    return decide(scenario_identities["standard_45d"], roles["high"], requester=requester, hours=4)


def test_queue_lists_requests_needing_review_riskiest_then_oldest(
    client, reviewer, requester, roles, scenario_identities
):
    older = decide(scenario_identities["standard_45d"], roles["high"], requester=requester)
    newer = decide(scenario_identities["standard_45d"], roles["high"], requester=requester)
    riskier = decide(scenario_identities["dormant_admin"], roles["high"], requester=requester)
    Decision.objects.filter(pk=older.decision.pk).update(created_at=timezone.now() - timedelta(hours=2))
    AccessRequest.objects.filter(pk=older.pk).update(submitted_at=timezone.now() - timedelta(hours=2))
    client.force_login(reviewer)
    body = client.get("/decisions/queue/").content.decode()
    section = body[body.index("Needs review") : body.index("Awaiting evaluation")]
    order = [section.index(f"#{r.pk}<") for r in (riskier, older, newer)]
    assert order == sorted(order)
    assert "DORMANT +30" in section and "Denied by hard rule" in section  # factors and reasoning on screen
    assert section.count("Confirm</button>") == 3


def test_reviewer_confirms_from_the_review_page(client, reviewer, awaiting):
    client.force_login(reviewer)
    page = client.get(f"/decisions/requests/{awaiting.pk}/review/").content.decode()
    assert "Approve with conditions" in page and "ROLE_PRIVILEGE" in page and "Approve against the engine" in page
    response = client.post(f"/decisions/requests/{awaiting.pk}/review/", {"action": "confirm"})
    assert response.status_code == 302 and response["Location"] == "/decisions/queue/"
    awaiting.refresh_from_db()
    assert awaiting.status == RequestStatus.APPROVED


def test_the_late_reviewer_sees_who_decided(client, reviewer, awaiting):
    late = make_user("late-reviewer", "reviewers")
    client.force_login(reviewer)
    client.post(f"/decisions/requests/{awaiting.pk}/review/", {"action": "deny"})
    client.force_login(late)
    response = client.post(f"/decisions/requests/{awaiting.pk}/review/", {"action": "confirm"}, follow=True)
    assert f"Request #{awaiting.pk}: Already decided by reviewer." in response.content.decode()
    assert Review.objects.count() == 1 and not Grant.objects.exists()


def test_override_without_a_reason_is_refused_on_the_page(client, reviewer, requester, roles, scenario_identities):
    denied = decide(scenario_identities["dormant_admin"], roles["high"], requester=requester)
    client.force_login(reviewer)
    response = client.post(f"/decisions/requests/{denied.pk}/review/", {"action": "override", "reason": "fine"})
    assert "at least a sentence" in response.content.decode()
    denied.refresh_from_db()
    assert denied.status == RequestStatus.NEEDS_REVIEW


def test_a_reviewer_who_approved_a_two_reviewer_request_is_told_to_wait(
    client, reviewer, requester, roles, scenario_identities
):
    roles["low"].requires_two_reviewers = True
    roles["low"].save()
    access_request = decide(scenario_identities["standard_active"], roles["low"], requester=requester)
    client.force_login(reviewer)
    response = client.post(f"/decisions/requests/{access_request.pk}/review/", {"action": "confirm"}, follow=True)
    assert "your approval is recorded; a second reviewer must approve too" in response.content.decode()
    assert "a second, different reviewer must decide" in client.get("/decisions/queue/").content.decode()
    page = client.get(f"/decisions/requests/{access_request.pk}/review/").content.decode()
    assert "a second, different reviewer must decide" in page and 'value="confirm"' not in page


def test_own_request_shows_why_it_cannot_be_reviewed(client, roles):
    reviewer = make_user("busy-reviewer", "reviewers")
    own = decide(reviewer.identity, roles["critical"], requester=reviewer)
    client.force_login(reviewer)
    assert "You cannot review your own request." in client.get("/decisions/queue/").content.decode()
    assert "You cannot review your own request." in client.get(f"/decisions/requests/{own.pk}/review/").content.decode()


def test_review_actions_need_post_and_csrf(reviewer, awaiting):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(reviewer)
    assert strict.post(f"/decisions/requests/{awaiting.pk}/review/", {"action": "confirm"}).status_code == 403
    assert strict.post(f"/decisions/requests/{awaiting.pk}/retry/").status_code == 403
    awaiting.refresh_from_db()
    assert awaiting.status == RequestStatus.NEEDS_REVIEW


def test_requester_page_shows_review_and_grant(client, requester, reviewer, awaiting):
    client.force_login(reviewer)
    client.post(f"/decisions/requests/{awaiting.pk}/review/", {"action": "tighten", "conditions": ["TICKET_REQUIRED"]})
    client.force_login(requester)
    fragment = client.get(f"/requests/{awaiting.pk}/", headers={"HX-Request": "true"})
    body = fragment.content.decode()
    assert fragment.status_code == 286
    assert (
        "Reviewed by <strong>reviewer</strong>" in body and "TICKET_REQUIRED" in body and "Granted by reviewer" in body
    )


# -- IDOR: every object URL and fragment --------------------------------------------------------


def object_urls(pk: int) -> list[tuple[str, str]]:
    return [
        ("get", f"/requests/{pk}/"),
        ("get-htmx", f"/requests/{pk}/"),
        ("get", f"/decisions/requests/{pk}/review/"),
        ("post", f"/decisions/requests/{pk}/review/"),
        ("post", f"/decisions/requests/{pk}/retry/"),
    ]


def fetch(client, method: str, url: str):
    if method == "get":
        return client.get(url)
    if method == "get-htmx":
        return client.get(url, headers={"HX-Request": "true"})
    return client.post(url, {"action": "override", "reason": "Let me in, I am very important and in a hurry."})


def test_another_requesters_objects_answer_404_everywhere(client, other_requester, awaiting):
    client.force_login(other_requester)
    for method, url in object_urls(awaiting.pk):
        response = fetch(client, method, url)
        assert response.status_code == 404, (method, url)
        assert awaiting.justification.encode() not in response.content
    awaiting.refresh_from_db()
    assert awaiting.status == RequestStatus.NEEDS_REVIEW and not Review.objects.exists()


def test_a_requester_cannot_review_even_their_own_request(client, requester, awaiting):
    client.force_login(requester)
    assert client.get(f"/decisions/requests/{awaiting.pk}/review/").status_code == 404
    assert client.post(f"/decisions/requests/{awaiting.pk}/review/", {"action": "confirm"}).status_code == 404
    assert client.get(f"/requests/{awaiting.pk}/").status_code == 200


def test_an_auditor_reads_but_cannot_review(client, auditor, awaiting):
    client.force_login(auditor)
    assert client.get(f"/requests/{awaiting.pk}/").status_code == 200
    assert client.post(f"/decisions/requests/{awaiting.pk}/review/", {"action": "confirm"}).status_code == 404
    awaiting.refresh_from_db()
    assert awaiting.status == RequestStatus.NEEDS_REVIEW


def test_missing_objects_answer_404_like_forbidden_ones(client, reviewer):
    client.force_login(reviewer)
    for method, url in object_urls(999_999):
        assert fetch(client, method, url).status_code == 404, (method, url)


def test_the_export_shows_what_people_decided_beside_the_engine(client, reviewer, auditor, requester, roles):
    import csv
    import io

    critical = decide(requester.identity, roles["critical"], requester=requester)
    client.force_login(reviewer)
    reason = "The on-call manager approved this by phone during incident INC-7."
    client.post(f"/decisions/requests/{critical.pk}/review/", {"action": "override", "reason": reason})
    client.force_login(auditor)
    body = b"".join(client.get("/decisions/export.csv").streaming_content).decode()
    (row,) = csv.DictReader(io.StringIO(body))
    assert row["verdict"] == "APPROVE_WITH_CONDITIONS"  # the engine's
    assert row["conditions"] == "MFA;TIME_BOUND;MANAGER_APPROVAL;SESSION_RECORDING"  # the engine's
    assert row["reviews"] == "reviewer: APPROVE_WITH_CONDITIONS (against the engine)"
    assert row["overridden"] == "true"
    assert (row["granted_conditions"], row["granted_by"], row["status"]) == ("MFA;TIME_BOUND", "reviewer", "APPROVED")


def test_a_refused_override_keeps_what_the_reviewer_typed(client, reviewer, awaiting):
    client.force_login(reviewer)
    response = client.post(
        f"/decisions/requests/{awaiting.pk}/review/",
        {"action": "override", "reason": "too short", "conditions": ["TICKET_REQUIRED"]},
    )
    body = response.content.decode()
    assert "at least a sentence" in body
    assert ">too short</textarea>" in body
    assert 'value="TICKET_REQUIRED" checked' in body
