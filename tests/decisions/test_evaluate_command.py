import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from decisions.models import Decision
from requests.models import AccessRequest, RequestStatus


def evaluate_json(*args) -> dict:
    out = StringIO()
    call_command("evaluate", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_dormant_admin_asking_for_high_role_is_denied(roles, scenario_identities):
    result = evaluate_json("--identity", "dormant-admin", "--role", roles["high"].slug, "--hours", "2")
    assert result["verdict"] == "DENY"
    assert result["risk_band"] == "high"
    assert result["risk_score"] == 90
    assert result["engine"] == "policy"
    assert result["ai_error"] == "hard rule DORMANT_ADMIN_PRIVILEGED denies outright, so the AI was not asked"
    assert [f["code"] for f in result["factors"]] == ["DORMANT", "ROLE_PRIVILEGE", "HOLDS_ADMIN", "NO_MFA"]
    assert all(set(f) >= {"code", "label", "points"} for f in result["factors"])
    assert result["conditions"] == []
    access_request = AccessRequest.objects.get(pk=result["request_id"])
    # The policy decided alone above the low band: a human confirms the denial; nothing is granted.
    assert access_request.status == RequestStatus.NEEDS_REVIEW
    assert access_request.expires_at is None
    assert access_request.requester.username == "cli"
    assert Decision.objects.get(request=access_request).verdict == "DENY"


def test_standard_user_idle_45_days_gets_conditions(roles, scenario_identities):
    result = evaluate_json("--identity", "standard-45d", "--role", roles["high"].slug)
    assert result["verdict"] == "APPROVE_WITH_CONDITIONS"
    assert result["conditions"] == ["MFA", "TIME_BOUND"]
    assert result["risk_score"] == 55  # HIGH role 30 + idle 10 + no MFA 15 (the fixture has no MFA)
    assert result["engine"] == "policy"
    assert result["ai_error"] == "no OPENAI_API_KEY configured"
    for key in ("reasoning", "risk_drivers", "recommended_controls"):
        assert result[key], key


def test_active_standard_user_asking_for_low_role_is_approved(roles, scenario_identities):
    result = evaluate_json("--identity", "standard-active", "--role", roles["low"].slug, "--hours", "8")
    assert (result["verdict"], result["risk_band"]) == ("APPROVE", "low")
    assert result["expires_at"] is not None


def test_plain_output_lists_factors(roles, scenario_identities):
    out = StringIO()
    call_command("evaluate", "--identity", "standard-45d", "--role", roles["high"].slug, stdout=out)
    text = out.getvalue()
    assert "APPROVE_WITH_CONDITIONS (score 55, medium band, engine policy)" in text
    assert "+ 30  ROLE_PRIVILEGE" in text and "conditions: MFA, TIME_BOUND" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--identity", "nobody", "--role", "read-only-access"], "No identity with username 'nobody'"),
        (["--identity", "standard-active", "--role", "nope"], "No role with slug 'nope'"),
        (["--identity", "standard-active", "--role", "read-only-access", "--hours", "0"], "--hours must be at least 1"),
    ],
)
def test_bad_arguments_are_explained(roles, scenario_identities, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("evaluate", *args)
    assert AccessRequest.objects.count() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_json_output_stays_one_object_when_notifications_print_to_the_console(
    roles, scenario_identities, reviewer, settings, capsys
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    reviewer.email = "rev@example.com"
    reviewer.save()
    call_command("evaluate", "--identity", "standard-45d", "--role", roles["high"].slug, "--json")
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["status"] == "NEEDS_REVIEW"
    assert "is waiting for a reviewer" in captured.err  # the reviewers' e-mail, on stderr
