import csv
import io
from datetime import UTC, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from decisions.models import Decision
from requests.models import AccessRequest, RequestStatus
from tests.conftest import decide, make_user


@pytest.fixture
def decided(requester, roles, scenario_identities):
    """The three seed scenarios, decided by the policy."""
    return {
        "deny": decide(scenario_identities["dormant_admin"], roles["high"], requester=requester),
        "conditions": decide(scenario_identities["standard_45d"], roles["high"], requester=requester),
        "approve": decide(scenario_identities["standard_active"], roles["low"], requester=requester),
    }


@pytest.mark.parametrize(
    "url, allowed",
    [
        ("/decisions/queue/", {"reviewer"}),
        ("/decisions/history/", {"reviewer", "auditor"}),
        ("/decisions/export.csv", {"reviewer", "auditor"}),
    ],
)
def test_page_permissions(client, requester, reviewer, auditor, url, allowed):
    for user in (requester, reviewer, auditor):
        client.force_login(user)
        expected = 200 if user.username in allowed else 403
        assert client.get(url).status_code == expected, (url, user.username)


def test_queue_lists_waiting_requests_newest_first_and_latest_decisions(client, reviewer, requester, roles, decided):
    older = AccessRequest.objects.create(
        requester=requester,
        identity=requester.identity,
        role=roles["low"],
        justification="Older one.",
        duration_hours=1,
        submitted_at=timezone.now() - timedelta(minutes=5),
    )
    newer = AccessRequest.objects.create(
        requester=requester,
        identity=requester.identity,
        role=roles["medium"],
        justification="Newer one.",
        duration_hours=1,
        status=RequestStatus.FAILED,
        last_error="RuntimeError: boom",
    )
    client.force_login(reviewer)
    page = client.get("/decisions/queue/").content.decode()
    assert 'hx-trigger="every 3s"' in page
    assert page.index(f"#{newer.pk}<") < page.index(f"#{older.pk}<")
    assert "RuntimeError: boom" in page and "Evaluate again" in page
    for access_request in decided.values():
        assert f"#{access_request.pk}<" in page

    fragment = client.get("/decisions/queue/", headers={"HX-Request": "true"})
    body = fragment.content.decode()
    assert "<html" not in body and f"#{newer.pk}<" in body
    assert 'hx-trigger="every 3s"' not in body  # the poller is not re-created inside its own swap


def test_retry_puts_a_failed_request_back_in_line(client, reviewer, requester, roles):
    failed = AccessRequest.objects.create(
        requester=requester,
        identity=requester.identity,
        role=roles["low"],
        justification="x",
        duration_hours=1,
        status=RequestStatus.FAILED,
        last_error="boom",
    )
    client.force_login(requester)
    assert client.post(f"/decisions/requests/{failed.pk}/retry/").status_code == 404
    client.force_login(reviewer)
    assert client.get(f"/decisions/requests/{failed.pk}/retry/").status_code == 405
    response = client.post(f"/decisions/requests/{failed.pk}/retry/")
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == RequestStatus.PENDING


def test_history_filters_by_verdict_role_and_dates(client, auditor, decided, roles):
    client.force_login(auditor)
    page = client.get("/decisions/history/", {"verdict": "DENY"})
    ids = [d.request_id for d in page.context["page"]]
    assert ids == [decided["deny"].pk]

    page = client.get("/decisions/history/", {"role": roles["low"].slug})
    assert [d.request_id for d in page.context["page"]] == [decided["approve"].pk]

    today = timezone.now().date()
    page = client.get("/decisions/history/", {"since": today.isoformat(), "until": today.isoformat()})
    assert page.context["page"].paginator.count == 3
    page = client.get("/decisions/history/", {"until": (today - timedelta(days=1)).isoformat()})
    assert page.context["page"].paginator.count == 0
    assert "No decisions match these filters" in page.content.decode()

    page = client.get("/decisions/history/", {"since": "yesterday"})
    assert page.context["page"].paginator.count == 0
    assert "Enter a valid date" in page.content.decode()


def test_history_uses_a_constant_number_of_queries(client, auditor, requester, roles, scenario_identities):
    client.force_login(auditor)

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/decisions/history/").status_code == 200
        return len(queries)

    decide(scenario_identities["standard_active"], roles["low"], requester=requester)
    few = count_queries()
    for _ in range(12):
        decide(scenario_identities["standard_45d"], roles["medium"], requester=requester)
    assert count_queries() == few


def test_history_paginates(client, auditor, requester, roles, scenario_identities):
    for _ in range(51):
        decide(scenario_identities["standard_active"], roles["low"], requester=requester)
    client.force_login(auditor)
    first = client.get("/decisions/history/", {"verdict": "APPROVE"})
    assert len(first.context["page"]) == 50
    assert "?verdict=APPROVE&page=2" in first.content.decode()
    second = client.get("/decisions/history/", {"verdict": "APPROVE", "page": 2})
    assert len(second.context["page"]) == 1


def iso(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_export_has_one_row_per_decision_with_iso_utc_timestamps(client, auditor, decided):
    client.force_login(auditor)
    response = client.get("/decisions/export.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="jit-decisions-')
    rows = read_csv(response)
    assert len(rows) == 3
    by_request = {int(row["request_id"]): row for row in rows}

    deny = by_request[decided["deny"].pk]
    decision = Decision.objects.get(request=decided["deny"])
    assert deny["decision_id"] == str(decision.pk)
    assert deny["identity"] == "dormant-admin"
    assert deny["role"] == "iam-full-access"
    assert deny["verdict"] == "DENY"
    assert deny["engine"] == "policy"
    assert deny["risk_score"] == str(decision.risk_score)
    assert deny["factors"] == "DORMANT +30; ROLE_PRIVILEGE +30; HOLDS_ADMIN +15; NO_MFA +15"
    assert deny["decided_at"] == decision.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert deny["submitted_at"].endswith("Z") and "T" in deny["submitted_at"]
    assert deny["reasoning"].startswith("Denied by hard rule")

    conditions = by_request[decided["conditions"].pk]
    assert conditions["verdict"] == "APPROVE_WITH_CONDITIONS"
    assert conditions["conditions"] == "MFA;TIME_BOUND"
    assert conditions["status"] == "NEEDS_REVIEW"
    assert conditions["expires_at"] == ""  # nothing granted until a reviewer confirms
    approve = by_request[decided["approve"].pk]
    assert approve["status"] == "APPROVED"
    assert approve["expires_at"] == iso(AccessRequest.objects.get(pk=decided["approve"].pk).expires_at)


def test_export_honours_the_history_filters(client, auditor, decided, roles):
    client.force_login(auditor)
    rows = read_csv(client.get("/decisions/export.csv", {"verdict": "APPROVE_WITH_CONDITIONS"}))
    assert [int(r["request_id"]) for r in rows] == [decided["conditions"].pk]
    rows = read_csv(client.get("/decisions/export.csv", {"role": roles["critical"].slug}))
    assert rows == []
    bad = client.get("/decisions/export.csv", {"verdict": "MAYBE"})
    assert bad.status_code == 400
    assert b"verdict" in bad.content


def test_export_neutralises_formulas_in_text_cells(client, auditor, requester, roles):
    decide(requester.identity, roles["low"], requester=requester, justification='=HYPERLINK("http://evil","x")')
    client.force_login(auditor)
    (row,) = read_csv(client.get("/decisions/export.csv"))
    assert row["justification"] == '\'=HYPERLINK("http://evil","x")'


def test_a_far_future_until_is_a_validation_error_not_a_crash(client, auditor):
    client.force_login(auditor)
    page = client.get("/decisions/history/", {"until": "9999-12-31"})
    assert page.status_code == 200
    assert "Pick an earlier date." in page.content.decode()
    assert "Fix the filters above" in page.content.decode()
    assert client.get("/decisions/export.csv", {"until": "9999-12-31"}).status_code == 400


def test_requesters_get_a_page_that_explains_a_refusal(client, requester):
    client.force_login(requester)
    response = client.get("/decisions/history/")
    assert response.status_code == 403
    assert "ask an administrator" in response.content.decode()


def test_admins_cannot_delete_access_requests(client, requester, roles):
    from django.contrib.auth.models import User

    admin = User.objects.create_superuser("root-admin", password="pw-for-tests-only")
    access_request = decide(requester.identity, roles["low"], requester=requester)
    client.force_login(admin)
    assert client.get(f"/admin/requests/accessrequest/{access_request.pk}/delete/").status_code == 403
    assert client.get(f"/admin/requests/accessrequest/{access_request.pk}/change/").status_code == 200


FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r"]


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_export_neutralises_formulas_in_every_text_column(client, auditor, roles, settings, fake_openai, start):
    """Usernames, identity names and role slugs come from imports; the justification from the requester;
    reasoning, drivers and controls from the model. Every text cell is shown as text, whatever it starts with."""
    from decisions.export import COLUMNS

    settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "test-key", f"{fake_openai.url}/v1"
    settings.JIT_AI_MODEL = f"{start}model"
    fake_openai.answer_verdict(
        {
            "verdict": "APPROVE",
            "reasoning": f"{start}reasoning",
            "risk_drivers": [f"{start}driver"],
            "recommended_controls": [f"{start}control"],
        }
    )
    requester = make_user(f"{start}requester", "requesters")
    requester.identity.username = f"{start}identity"
    requester.identity.save()
    roles["low"].slug = f"{start}role"
    roles["low"].save()
    decide(requester.identity, roles["low"], requester=requester, justification=f"{start}justification")
    client.force_login(auditor)
    (row,) = read_csv(client.get("/decisions/export.csv"))

    expected = {
        "requester": "requester",
        "identity": "identity",
        "role": "role",
        "justification": "justification",
        "engine": "ai:" + start + "model",  # starts with "ai:", already safe
        "reasoning": "reasoning",
        "risk_drivers": "driver",
        "recommended_controls": "control",
    }
    if start.isspace():
        expected["reasoning"] = None  # the advisor strips the model's reasoning: nothing left to neutralise
        assert row["reasoning"] == "reasoning"
    for column, text in expected.items():
        if column == "engine":
            assert row[column] == text
        elif text is not None:
            assert row[column] == f"'{start}{text}", column
    # Nothing else in the row begins like a formula either.
    for column in COLUMNS:
        assert not row[column].startswith(tuple(FORMULA_STARTS)), column
