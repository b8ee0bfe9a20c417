"""Policy: from a score to the most permissive verdict allowed, and how the AI's advice combines with it."""

import pytest

from decisions.policy import (
    Band,
    Condition,
    Verdict,
    band_for,
    bound,
    combine,
    conditions_for,
    conditions_from_controls,
    hard_rule_for,
    stricter,
)
from decisions.scoring import WEIGHTS, Score, score
from tests.decisions.test_scoring import DORMANT_ADMIN_HIGH, STANDARD_45D_HIGH, STANDARD_ACTIVE_LOW, signals

APPROVE, CONDITIONAL, DENY = Verdict.APPROVE, Verdict.APPROVE_WITH_CONDITIONS, Verdict.DENY
MFA, TIME_BOUND = Condition.MFA, Condition.TIME_BOUND


def score_of(value: int) -> Score:
    return Score(value=value, factors=(), version=WEIGHTS.version)


@pytest.mark.parametrize(
    ("value", "band"),
    [(0, Band.LOW), (29, Band.LOW), (30, Band.MEDIUM), (59, Band.MEDIUM), (60, Band.HIGH), (100, Band.HIGH)],
)
def test_band_boundaries(value, band):
    assert band_for(value) == band


def test_dormant_admin_asking_for_a_high_role_is_denied_by_a_hard_rule():
    result = bound(DORMANT_ADMIN_HIGH, score(DORMANT_ADMIN_HIGH))

    assert result.band == Band.HIGH
    assert result.verdict == DENY
    assert result.hard_rule == "DORMANT_ADMIN_PRIVILEGED"
    assert result.conditions == ()
    assert result.explanation == "Denied by hard rule: a dormant administrator may not receive privileged access."


def test_idle_user_asking_for_a_high_role_is_approved_with_mfa_and_time_bound():
    result = bound(STANDARD_45D_HIGH, score(STANDARD_45D_HIGH))

    assert result.band == Band.MEDIUM
    assert result.verdict == CONDITIONAL
    assert result.conditions == (MFA, TIME_BOUND)
    assert result.hard_rule == ""
    assert result.explanation == "Risk score 55 is in the medium band (30–59): access only with conditions."


def test_active_user_asking_for_a_low_role_is_approved():
    result = bound(STANDARD_ACTIVE_LOW, score(STANDARD_ACTIVE_LOW))

    assert (result.band, result.verdict, result.conditions, result.hard_rule) == (Band.LOW, APPROVE, (), "")
    assert result.explanation == "Risk score 15 is in the low band (<30)."


def test_high_band_without_a_hard_rule_is_denied_by_the_score():
    high = signals(days_inactive=45, mfa_enabled=False, role_privilege="CRITICAL", role_grants_admin=True)

    result = bound(high, score(high))

    assert (result.band, result.verdict, result.hard_rule) == (Band.HIGH, DENY, "")
    assert result.explanation == "Risk score 80 is in the high band (≥60)."


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"is_admin": True, "days_inactive": 91, "role_privilege": "HIGH"}, "DORMANT_ADMIN_PRIVILEGED"),
        ({"is_admin": True, "days_inactive": 91, "role_privilege": "CRITICAL"}, "DORMANT_ADMIN_PRIVILEGED"),
        (
            {"is_admin": True, "days_inactive": 91, "role_privilege": "MEDIUM", "role_grants_admin": True},
            "DORMANT_ADMIN_PRIVILEGED",
        ),
        # Never active is the most dormant of all.
        ({"is_admin": True, "days_inactive": None, "role_privilege": "HIGH"}, "DORMANT_ADMIN_PRIVILEGED"),
        ({"is_admin": True, "days_inactive": 90, "role_privilege": "HIGH"}, ""),
        ({"is_admin": True, "days_inactive": 120, "role_privilege": "MEDIUM"}, ""),
        ({"is_admin": False, "days_inactive": 120, "role_privilege": "CRITICAL"}, ""),
        ({"identity_kind": "service", "has_owner": False, "role_privilege": "HIGH"}, "UNOWNED_SERVICE_PRIVILEGED"),
        (
            {"identity_kind": "service", "has_owner": False, "role_privilege": "LOW", "role_grants_admin": True},
            "UNOWNED_SERVICE_PRIVILEGED",
        ),
        ({"identity_kind": "service", "has_owner": True, "role_privilege": "CRITICAL"}, ""),
        ({"identity_kind": "service", "has_owner": False, "role_privilege": "MEDIUM"}, ""),
        # A human's missing owner means nothing.
        ({"identity_kind": "human", "has_owner": False, "role_privilege": "CRITICAL"}, ""),
    ],
)
def test_hard_rules(overrides, rule):
    assert hard_rule_for(signals(**overrides)) == rule


def test_a_hard_rule_denies_whatever_the_score():
    unowned = signals(identity_kind="service", has_owner=False, role_privilege="HIGH")

    result = bound(unowned, score_of(0))

    assert (result.band, result.verdict, result.hard_rule) == (Band.LOW, DENY, "UNOWNED_SERVICE_PRIVILEGED")
    assert result.explanation == (
        "Denied by hard rule: a non-human identity without an owner may not receive privileged access."
    )


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ({"role_privilege": "LOW"}, (MFA, TIME_BOUND)),
        ({"role_privilege": "MEDIUM"}, (MFA, TIME_BOUND)),
        ({"role_privilege": "HIGH"}, (MFA, TIME_BOUND)),
        ({"role_privilege": "MEDIUM", "role_grants_admin": True}, (MFA, TIME_BOUND, Condition.SESSION_RECORDING)),
        ({"role_privilege": "CRITICAL"}, (MFA, TIME_BOUND, Condition.MANAGER_APPROVAL, Condition.SESSION_RECORDING)),
    ],
)
@pytest.mark.parametrize("value", [30, 45, 59])
def test_the_medium_band_always_asks_for_mfa_and_time_bound(role, expected, value):
    result = bound(signals(**role), score_of(value))

    assert result.verdict == CONDITIONAL
    assert result.conditions == expected


def test_conditions_are_listed_in_a_fixed_order_without_duplicates():
    critical = signals(role_privilege="CRITICAL")

    assert conditions_for(critical, extra=(Condition.TICKET_REQUIRED, MFA, Condition.SESSION_RECORDING)) == (
        MFA,
        TIME_BOUND,
        Condition.MANAGER_APPROVAL,
        Condition.SESSION_RECORDING,
        Condition.TICKET_REQUIRED,
    )


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (APPROVE, APPROVE, APPROVE),
        (APPROVE, CONDITIONAL, CONDITIONAL),
        (APPROVE, DENY, DENY),
        (CONDITIONAL, APPROVE, CONDITIONAL),
        (CONDITIONAL, CONDITIONAL, CONDITIONAL),
        (CONDITIONAL, DENY, DENY),
        (DENY, APPROVE, DENY),
        (DENY, CONDITIONAL, DENY),
        (DENY, DENY, DENY),
    ],
)
def test_stricter(a, b, expected):
    assert stricter(a, b) == expected
    # Plain strings, as the AI's answer and the database hold them, work the same.
    assert stricter(str(a.value), str(b.value)) == expected


def test_combine_without_the_ai_keeps_the_policy_bound():
    medium = bound(STANDARD_45D_HIGH, score(STANDARD_45D_HIGH))
    low = bound(STANDARD_ACTIVE_LOW, score(STANDARD_ACTIVE_LOW))

    assert combine(STANDARD_45D_HIGH, medium, None, []) == (CONDITIONAL, (MFA, TIME_BOUND))
    assert combine(STANDARD_ACTIVE_LOW, low, None, []) == (APPROVE, ())


def test_combine_an_ai_stricter_than_the_policy_wins():
    low = bound(STANDARD_ACTIVE_LOW, score(STANDARD_ACTIVE_LOW))
    medium = bound(STANDARD_45D_HIGH, score(STANDARD_45D_HIGH))

    assert combine(STANDARD_ACTIVE_LOW, low, "DENY", ["MFA"]) == (DENY, ())
    assert combine(STANDARD_45D_HIGH, medium, "DENY", []) == (DENY, ())
    # Conditions the AI asks for on a low-band request come on top of the base ones.
    assert combine(STANDARD_ACTIVE_LOW, low, "APPROVE_WITH_CONDITIONS", ["Record the session"]) == (
        CONDITIONAL,
        (MFA, TIME_BOUND, Condition.SESSION_RECORDING),
    )


def test_combine_an_ai_looser_than_the_policy_cannot_loosen_it():
    medium = bound(STANDARD_45D_HIGH, score(STANDARD_45D_HIGH))
    denied = bound(DORMANT_ADMIN_HIGH, score(DORMANT_ADMIN_HIGH))

    assert combine(STANDARD_45D_HIGH, medium, "APPROVE", []) == (CONDITIONAL, (MFA, TIME_BOUND))
    assert combine(DORMANT_ADMIN_HIGH, denied, "APPROVE", []) == (DENY, ())
    assert combine(DORMANT_ADMIN_HIGH, denied, "APPROVE_WITH_CONDITIONS", ["MFA"]) == (DENY, ())


def test_combine_adds_the_ais_enforceable_controls_to_a_conditional_approval():
    medium = bound(STANDARD_45D_HIGH, score(STANDARD_45D_HIGH))

    verdict, conditions = combine(
        STANDARD_45D_HIGH, medium, "APPROVE_WITH_CONDITIONS", ["Link a change ticket", "manager approval", "coffee"]
    )

    assert verdict == CONDITIONAL
    assert conditions == (MFA, TIME_BOUND, Condition.MANAGER_APPROVAL, Condition.TICKET_REQUIRED)


@pytest.mark.parametrize(
    ("controls", "expected"),
    [
        (["MFA"], (MFA,)),
        (["Require multi-factor authentication"], (MFA,)),
        (["step-up 2FA"], (MFA,)),
        (["time-bound access"], (TIME_BOUND,)),
        (["Access should expire after 2 hours"], (TIME_BOUND,)),
        (["short-lived credentials"], (TIME_BOUND,)),
        (["Manager approval"], (Condition.MANAGER_APPROVAL,)),
        (["SESSION RECORDING"], (Condition.SESSION_RECORDING,)),
        (["change ticket"], (Condition.TICKET_REQUIRED,)),
        (["Session recording", "MFA", "ticket", "manager sign-off", "time bound"], tuple(Condition)),
        (["a strongly worded e-mail"], ()),
        ([], ()),
    ],
)
def test_conditions_from_controls(controls, expected):
    assert conditions_from_controls(controls) == expected
