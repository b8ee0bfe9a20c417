"""The pipeline end to end: a real Celery worker, on a real Redis, takes a request to its decision.

The worker runs in a thread of the test process with its own database connection, so these tests
commit their data (`transactional_db`, through the `celery_worker` fixture) and poll the database
for the outcome, as the request page does.
"""

import time
from datetime import timedelta

from celery.worker import state as worker_state
from django.db import connection
from django.utils import timezone

from decisions import pipeline
from decisions.models import Decision
from requests.models import AccessRequest, RequestStatus

WAIT_SECONDS = 30


def wait_until(condition, what: str):
    """Poll until `condition()` is truthy and return it; fail after WAIT_SECONDS saying what never happened."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"after {WAIT_SECONDS} s, still waiting for {what}")


def wait_for_decision(request_id: int) -> Decision:
    return wait_until(lambda: Decision.objects.filter(request_id=request_id).first(), f"a decision on #{request_id}")


def answer(verdict: str, *controls: str) -> dict:
    return {"verdict": verdict, "reasoning": "Checked.", "risk_drivers": [], "recommended_controls": list(controls)}


def post_request(client, role_slug: str, hours: int):
    return client.post(
        "/requests/new/",
        {
            "role": role_slug,
            "justification": "Rotate the IAM keys of the audit pipeline, CHG-3141.",
            "duration_hours": hours,
        },
    )


def test_a_request_submitted_through_the_form_is_decided_by_the_worker(
    client, requester, roles, ai_settings, fake_openai, celery_worker
):
    fake_openai.answer_verdict(answer("APPROVE_WITH_CONDITIONS", "MFA", "time-bound access", "manager approval"))
    client.force_login(requester)

    response = post_request(client, "iam-full-access", 2)

    access_request = AccessRequest.objects.get(requester=requester)
    assert response.status_code == 302
    assert response["Location"] == f"/requests/{access_request.pk}/"
    decision = wait_for_decision(access_request.pk)
    access_request.refresh_from_db()
    # Active, enrolled in MFA, asking for a HIGH role: 30 points, the medium band.
    assert (decision.risk_score, decision.risk_band) == (30, "medium")
    assert decision.verdict == "APPROVE_WITH_CONDITIONS"
    assert decision.engine == "ai:test-model"
    assert decision.conditions == ["MFA", "TIME_BOUND", "MANAGER_APPROVAL"]
    # A HIGH role with conditions waits for a human before anything is granted.
    assert access_request.status == RequestStatus.NEEDS_REVIEW
    assert access_request.attempts == 1
    assert access_request.expires_at is None
    assert len(fake_openai.chat_requests) == 1


def test_seed_scenario_dormant_admin_asking_for_a_high_role_is_denied(
    requester, roles, scenario_identities, no_ai, celery_worker
):
    access_request = pipeline.request_submit(
        requester=requester,
        identity=scenario_identities["dormant_admin"],
        role=roles["high"],
        justification="Emergency fix on the IAM policies.",
        duration_hours=2,
    )

    decision = wait_for_decision(access_request.pk)

    access_request.refresh_from_db()
    assert (decision.risk_score, decision.risk_band) == (90, "high")
    assert decision.verdict == "DENY"
    assert decision.hard_rule == "DORMANT_ADMIN_PRIVILEGED"
    assert decision.engine == "policy"
    assert decision.ai_error == "hard rule DORMANT_ADMIN_PRIVILEGED denies outright, so the AI was not asked"
    assert decision.conditions == []
    # Reached without the AI above the low band: a human confirms even a denial; nothing is granted.
    assert access_request.status == RequestStatus.NEEDS_REVIEW
    assert access_request.expires_at is None


def test_seed_scenario_idle_user_asking_for_a_high_role_gets_mfa_and_time_bound(
    requester, roles, scenario_identities, no_ai, celery_worker
):
    access_request = pipeline.request_submit(
        requester=requester,
        identity=scenario_identities["standard_45d"],
        role=roles["high"],
        justification="Quarterly IAM clean-up, ticket OPS-77.",
        duration_hours=3,
    )

    decision = wait_for_decision(access_request.pk)

    access_request.refresh_from_db()
    assert (decision.risk_score, decision.risk_band) == (55, "medium")
    assert decision.verdict == "APPROVE_WITH_CONDITIONS"
    assert decision.conditions == ["MFA", "TIME_BOUND"]
    assert decision.engine == "policy"
    assert decision.ai_error == "no OPENAI_API_KEY configured"
    assert access_request.status == RequestStatus.NEEDS_REVIEW
    assert access_request.expires_at is None


def test_seed_scenario_active_user_asking_for_a_low_role_is_approved(
    requester, roles, scenario_identities, no_ai, celery_worker
):
    access_request = pipeline.request_submit(
        requester=requester,
        identity=scenario_identities["standard_active"],
        role=roles["low"],
        justification="Read the billing dashboards for the monthly report.",
        duration_hours=8,
    )

    decision = wait_for_decision(access_request.pk)

    access_request.refresh_from_db()
    assert (decision.risk_score, decision.risk_band) == (15, "low")
    assert decision.verdict == "APPROVE"
    assert decision.conditions == []
    assert access_request.status == RequestStatus.APPROVED
    assert access_request.expires_at == access_request.decided_at + timedelta(hours=8)


def test_a_task_delivered_twice_records_one_decision_and_asks_the_model_once(
    requester, roles, ai_settings, fake_openai, celery_worker
):
    fake_openai.answer_verdict(answer("APPROVE"))
    task_name = "decisions.tasks.evaluate_request_task"
    finished_before = worker_state.total_count[task_name]
    access_request = pipeline.request_submit(
        requester=requester,
        identity=requester.identity,
        role=roles["low"],
        justification="Read the billing dashboards for the monthly report.",
        duration_hours=1,
    )

    assert pipeline.request_enqueue(access_request.pk) is True

    wait_until(lambda: worker_state.total_count[task_name] - finished_before >= 2, "both deliveries to finish")
    access_request.refresh_from_db()
    assert Decision.objects.filter(request=access_request).count() == 1
    assert access_request.status == RequestStatus.APPROVED
    assert access_request.attempts == 1
    assert len(fake_openai.chat_requests) == 1


def refuse_decision_writes(refuse: bool) -> None:
    """Make the database itself refuse to store decisions (a trigger), as a full disk or a revoked
    grant would: a failure from outside our code, not a stand-in for it."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            if refuse:
                cursor.execute(
                    "CREATE TRIGGER refuse_decisions BEFORE INSERT ON decisions_decision "
                    "BEGIN SELECT RAISE(ABORT, 'decisions are read-only'); END"
                )
            else:
                cursor.execute("DROP TRIGGER refuse_decisions")
        elif refuse:
            cursor.execute(
                "CREATE FUNCTION refuse_decisions() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'decisions are read-only'; END $$"
            )
            cursor.execute(
                "CREATE TRIGGER refuse_decisions BEFORE INSERT ON decisions_decision "
                "FOR EACH ROW EXECUTE FUNCTION refuse_decisions()"
            )
        else:
            cursor.execute("DROP TRIGGER refuse_decisions ON decisions_decision")
            cursor.execute("DROP FUNCTION refuse_decisions()")


def test_an_unexpected_error_leaves_the_request_failed_and_a_reviewer_can_retry_it(
    client, requester, reviewer, roles, ai_settings, fake_openai, celery_worker
):
    fake_openai.answer_verdict(answer("APPROVE"))
    refuse_decision_writes(True)
    access_request = pipeline.request_submit(
        requester=requester,
        identity=requester.identity,
        role=roles["low"],
        justification="Read the billing dashboards for the monthly report.",
        duration_hours=1,
    )

    wait_until(
        lambda: AccessRequest.objects.filter(pk=access_request.pk, status=RequestStatus.FAILED).exists(),
        "the request to be marked failed",
    )
    access_request.refresh_from_db()
    assert "decisions are read-only" in access_request.last_error
    assert access_request.attempts == 1
    assert not Decision.objects.filter(request=access_request).exists()
    client.force_login(requester)
    assert "Evaluation failed" in client.get(access_request.get_absolute_url()).content.decode()

    refuse_decision_writes(False)
    client.force_login(reviewer)
    response = client.post(f"/decisions/requests/{access_request.pk}/retry/")

    assert response.status_code == 302
    assert response["Location"] == "/decisions/queue/"
    decision = wait_for_decision(access_request.pk)
    access_request.refresh_from_db()
    assert decision.verdict == "APPROVE"
    assert decision.engine == "ai:test-model"
    assert access_request.status == RequestStatus.APPROVED
    assert access_request.last_error == ""
    assert access_request.attempts == 2
    assert len(fake_openai.chat_requests) == 2


def test_a_broker_outage_loses_no_request_and_the_sweep_enqueues_it_later(
    client, requester, roles, no_ai, broker_switch, caplog
):
    broker_switch.down()
    client.force_login(requester)

    response = post_request(client, "read-only-access", 4)

    access_request = AccessRequest.objects.get(requester=requester)
    assert response.status_code == 302
    assert response["Location"] == f"/requests/{access_request.pk}/"
    assert access_request.status == RequestStatus.PENDING
    assert access_request.attempts == 0
    assert (
        f"Could not enqueue request {access_request.pk}; it stays pending until the broker is back" in caplog.messages
    )
    assert not Decision.objects.filter(request=access_request).exists()

    broker_switch.up()
    requeued = pipeline.requests_requeue_stuck(now=timezone.now() + timedelta(minutes=2))

    assert requeued == 1
    decision = wait_for_decision(access_request.pk)
    access_request.refresh_from_db()
    assert decision.verdict == "APPROVE"
    assert access_request.status == RequestStatus.APPROVED
    assert access_request.expires_at == access_request.decided_at + timedelta(hours=4)
