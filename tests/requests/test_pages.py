from django.urls import reverse

from requests.models import AccessRequest, RequestStatus
from tests.conftest import decide


def test_pages_need_login(client, db):
    for url in [
        "/requests/",
        "/requests/new/",
        "/requests/1/",
        "/decisions/queue/",
        "/decisions/history/",
        "/decisions/export.csv",
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/"), url


def test_request_form_saves_a_pending_request_for_own_identity(client, requester, roles):
    client.force_login(requester)
    response = client.post(
        "/requests/new/",
        {"role": roles["low"].slug, "justification": "Investigate ticket OPS-42 on prod.", "duration_hours": 2},
    )
    access_request = AccessRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/requests/{access_request.pk}/"
    assert access_request.identity == requester.identity
    assert access_request.requester == requester
    assert (access_request.role, access_request.duration_hours) == (roles["low"], 2)


def test_request_form_caps_duration_at_role_max(client, requester, roles):
    client.force_login(requester)
    response = client.post(
        "/requests/new/",
        {"role": roles["high"].slug, "justification": "Rotate the deploy keys today.", "duration_hours": 5},
    )
    assert response.status_code == 200
    assert "at most 4 hours" in response.content.decode()
    assert AccessRequest.objects.count() == 0


def test_request_form_rejects_unknown_role(client, requester, roles):
    client.force_login(requester)
    response = client.post(
        "/requests/new/", {"role": "no-such-role", "justification": "Needed for OPS-1 work.", "duration_hours": 1}
    )
    assert "No role with this identifier" in response.content.decode()
    assert AccessRequest.objects.count() == 0


def test_request_form_lists_the_catalogue_and_explains_missing_identity(client, roles, db):
    from tests.conftest import make_user

    unlinked = make_user("newcomer", "requesters", identity=False)
    client.force_login(unlinked)
    response = client.get("/requests/new/")
    assert "not linked to an identity" in response.content.decode()
    response = client.post(
        "/requests/new/", {"role": roles["low"].slug, "justification": "x" * 20, "duration_hours": 1}
    )
    assert AccessRequest.objects.count() == 0


def test_role_hint_describes_the_role(client, requester, roles):
    client.force_login(requester)
    response = client.get("/requests/roles/hint/", {"role": roles["critical"].slug})
    body = response.content.decode()
    assert "AdministratorAccess" in body and "grants admin" in body and "at most 1 h" in body


def test_detail_polls_until_decided_then_stops(client, requester, roles):
    client.force_login(requester)
    pending = AccessRequest.objects.create(
        requester=requester,
        identity=requester.identity,
        role=roles["low"],
        justification="Check logs.",
        duration_hours=1,
    )
    page = client.get(f"/requests/{pending.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' in page

    fragment = client.get(f"/requests/{pending.pk}/", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert "Scoring and deciding" in fragment.content.decode()
    assert "<html" not in fragment.content.decode()
    assert "HX-Request" in fragment["Vary"]

    decided = decide(requester.identity, roles["low"], requester=requester)
    fragment = client.get(f"/requests/{decided.pk}/", headers={"HX-Request": "true"})
    assert fragment.status_code == 286  # htmx: swap this in and stop polling
    body = fragment.content.decode()
    assert "Approve" in body and "engine <code>policy</code>" in body
    page = client.get(f"/requests/{decided.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' not in page


def test_my_requests_shows_only_mine_and_polls_while_waiting(client, requester, other_requester, roles):
    mine = AccessRequest.objects.create(
        requester=requester, identity=requester.identity, role=roles["low"], justification="Mine.", duration_hours=1
    )
    theirs = decide(other_requester.identity, roles["medium"], requester=other_requester)
    client.force_login(requester)
    page = client.get("/requests/").content.decode()
    assert f"#{mine.pk}<" in page and f"#{theirs.pk}<" not in page
    assert 'hx-trigger="every 2s"' in page
    assert client.get("/requests/", headers={"HX-Request": "true"}).status_code == 200

    AccessRequest.objects.filter(pk=mine.pk).update(status=RequestStatus.DENIED)
    assert client.get("/requests/", headers={"HX-Request": "true"}).status_code == 286


def test_another_users_request_is_not_found(client, requester, other_requester, roles):
    theirs = decide(other_requester.identity, roles["low"], requester=other_requester)
    client.force_login(requester)
    assert client.get(f"/requests/{theirs.pk}/").status_code == 404
    assert client.get(f"/requests/{theirs.pk}/", headers={"HX-Request": "true"}).status_code == 404


def test_reviewers_and_auditors_can_read_any_request(client, requester, reviewer, auditor, roles):
    access_request = decide(requester.identity, roles["low"], requester=requester)
    for user in (reviewer, auditor):
        client.force_login(user)
        assert client.get(reverse("requests:detail", args=[access_request.pk])).status_code == 200


def test_signing_in_to_the_portal_does_not_count_as_activity(client, requester):
    """Dormancy is about the identity in the target systems; a portal login must not reset it, or a
    dormant administrator could sign in and slip past the hard rule."""
    from datetime import timedelta

    from django.utils import timezone

    dormant_since = timezone.now() - timedelta(days=200)
    requester.identity.last_activity = dormant_since
    requester.identity.save()
    assert client.login(username="requester", password="pw-for-tests-only")
    requester.identity.refresh_from_db()
    assert requester.identity.last_activity == dormant_since


def test_request_form_accepts_a_role_id_as_well_as_its_slug(client, requester, roles):
    client.force_login(requester)
    client.post(
        "/requests/new/", {"role": str(roles["medium"].pk), "justification": "Upload the report.", "duration_hours": 1}
    )
    assert AccessRequest.objects.get().role == roles["medium"]
