"""Risk scoring: a pure function from a signal snapshot to a score and its named factors."""

from dataclasses import replace

import pytest

from decisions.scoring import WEIGHTS, Factor, Signals, Weights, score


def signals(**overrides) -> Signals:
    """An active human with MFA asking for a low role within its maximum: no risk factor at all."""
    base = Signals(
        identity_kind="human",
        is_admin=False,
        days_inactive=1,
        mfa_enabled=True,
        has_owner=False,
        credential_age_days=None,
        role_privilege="LOW",
        role_grants_admin=False,
        role_max_hours=8,
        requested_hours=1,
        recent_denials=0,
    )
    return replace(base, **overrides)


def codes(result) -> list[str]:
    return [factor.code for factor in result.factors]


# The seed scenarios of DESIGN.md, as the pipeline snapshots them (the seed identities have no MFA).
DORMANT_ADMIN_HIGH = signals(
    is_admin=True, days_inactive=120, mfa_enabled=False, role_privilege="HIGH", role_max_hours=4, requested_hours=2
)
STANDARD_45D_HIGH = signals(
    days_inactive=45, mfa_enabled=False, role_privilege="HIGH", role_max_hours=4, requested_hours=2
)
STANDARD_ACTIVE_LOW = signals(
    days_inactive=1, mfa_enabled=False, role_privilege="LOW", role_max_hours=24, requested_hours=2
)


def test_no_risk_factor_scores_zero():
    result = score(signals())

    assert result.value == 0
    assert result.factors == ()
    assert result.version == WEIGHTS.version == "2026-12.1"


def test_dormant_admin_asking_for_a_high_role_scores_in_the_high_band():
    result = score(DORMANT_ADMIN_HIGH)

    assert result.value == 90
    assert result.factors == (
        Factor("DORMANT", "Inactive for 120 days (over 90)", 30),
        Factor("ROLE_PRIVILEGE", "Role privilege level is HIGH", 30),
        Factor("HOLDS_ADMIN", "Identity already holds administrator rights", 15),
        Factor("NO_MFA", "No MFA enrolled", 15),
    )


def test_idle_standard_user_asking_for_a_high_role_scores_in_the_medium_band():
    result = score(STANDARD_45D_HIGH)

    assert result.value == 55
    assert result.factors == (
        Factor("ROLE_PRIVILEGE", "Role privilege level is HIGH", 30),
        Factor("NO_MFA", "No MFA enrolled", 15),
        Factor("IDLE", "Inactive for 45 days (over 30)", 10),
    )


def test_active_standard_user_asking_for_a_low_role_scores_in_the_low_band():
    result = score(STANDARD_ACTIVE_LOW)

    assert result.value == 15
    assert result.factors == (Factor("NO_MFA", "No MFA enrolled", 15),)


@pytest.mark.parametrize(
    ("days_inactive", "expected"),
    [
        (0, []),
        (30, []),
        (31, [("IDLE", 10)]),
        (90, [("IDLE", 10)]),
        (91, [("DORMANT", 30)]),
        (400, [("DORMANT", 30)]),
        (None, [("NEVER_ACTIVE", 30)]),
    ],
)
def test_inactivity_thresholds(days_inactive, expected):
    result = score(signals(days_inactive=days_inactive))

    assert [(f.code, f.points) for f in result.factors] == expected


def test_never_active_counts_as_inactive_with_the_same_points_as_dormant():
    never = score(signals(days_inactive=None))
    dormant = score(signals(days_inactive=91))
    active = score(signals(days_inactive=0))

    assert never.factors == (Factor("NEVER_ACTIVE", "Identity has never been active", WEIGHTS.dormant),)
    assert never.value == dormant.value == 30
    assert active.value == 0
    assert signals(days_inactive=None).is_dormant
    assert not signals(days_inactive=90).is_dormant
    assert signals(days_inactive=91).is_dormant


def test_a_human_without_mfa_scores_no_mfa():
    assert codes(score(signals(mfa_enabled=False))) == ["NO_MFA"]
    assert score(signals(mfa_enabled=False)).value == 15


def test_mfa_is_not_asked_of_a_service_identity():
    result = score(signals(identity_kind="service", mfa_enabled=False, has_owner=True, credential_age_days=10))

    assert result.factors == ()


def test_duration_beyond_the_role_maximum_scores():
    over = score(signals(requested_hours=9, role_max_hours=8))
    at_max = score(signals(requested_hours=8, role_max_hours=8))

    assert over.factors == (Factor("DURATION_OVER_MAX", "Asked for 9 h, role allows 8 h", 10),)
    assert at_max.factors == ()


def test_holding_admin_and_a_role_that_grants_admin_both_score():
    result = score(signals(is_admin=True, role_privilege="CRITICAL", role_grants_admin=True))

    assert result.factors == (
        Factor("ROLE_PRIVILEGE", "Role privilege level is CRITICAL", 45),
        Factor("HOLDS_ADMIN", "Identity already holds administrator rights", 15),
        Factor("ROLE_GRANTS_ADMIN", "Role grants administrator rights", 10),
    )
    assert result.value == 70


@pytest.mark.parametrize(("level", "points"), [("LOW", 0), ("MEDIUM", 10), ("HIGH", 30), ("CRITICAL", 45)])
def test_role_privilege_points(level, points):
    assert score(signals(role_privilege=level)).value == points


def test_an_unknown_privilege_level_scores_as_the_highest():
    result = score(signals(role_privilege="ROOT"))

    assert result.factors == (Factor("ROLE_PRIVILEGE", "Role privilege level is ROOT", 45),)


def test_unowned_service_with_a_stale_credential():
    result = score(signals(identity_kind="service", mfa_enabled=False, has_owner=False, credential_age_days=91))

    assert result.factors == (
        Factor("UNOWNED_SERVICE", "Non-human identity has no accountable owner", 15),
        Factor("STALE_CREDENTIAL", "Credential not rotated (91 days old)", 10),
    )


def test_a_service_credential_of_unknown_age_is_stale_and_a_recent_one_is_not():
    unknown = score(signals(identity_kind="service", has_owner=True, credential_age_days=None))
    recent = score(signals(identity_kind="service", has_owner=True, credential_age_days=90))

    assert unknown.factors == (Factor("STALE_CREDENTIAL", "Credential not rotated (unknown age)", 10),)
    assert recent.factors == ()


def test_recent_denials_score_up_to_a_cap():
    assert score(signals(recent_denials=2)).factors == (
        Factor("RECENT_DENIALS", "2 denied request(s) in the last 30 days", 10),
    )
    assert score(signals(recent_denials=7)).factors == (
        Factor("RECENT_DENIALS", "7 denied request(s) in the last 30 days", 15),
    )


def test_score_is_clipped_at_100():
    worst = signals(
        is_admin=True,
        days_inactive=None,
        mfa_enabled=False,
        role_privilege="CRITICAL",
        role_grants_admin=True,
        role_max_hours=1,
        requested_hours=24,
        recent_denials=3,
    )

    result = score(worst)

    assert sum(f.points for f in result.factors) == 140
    assert result.value == 100


def test_factors_are_listed_largest_first_then_by_code():
    result = score(
        signals(is_admin=True, days_inactive=45, mfa_enabled=False, role_privilege="MEDIUM", requested_hours=9)
    )

    assert [(f.code, f.points) for f in result.factors] == [
        ("HOLDS_ADMIN", 15),
        ("NO_MFA", 15),
        ("DURATION_OVER_MAX", 10),
        ("IDLE", 10),
        ("ROLE_PRIVILEGE", 10),
    ]


def test_the_weights_are_a_versioned_parameter():
    lenient = Weights(version="test-1", privilege={"HIGH": 5}, no_mfa=1)

    result = score(STANDARD_45D_HIGH, lenient)

    assert result.version == "test-1"
    assert [(f.code, f.points) for f in result.factors] == [("ROLE_PRIVILEGE", 5), ("NO_MFA", 1)]
    assert result.value == 6
