"""Policy: from a score to the most permissive verdict allowed, and how the AI's advice combines with it.

Pure functions over plain data. The AI can only ever make a decision stricter than this bound.
"""

from dataclasses import dataclass

from django.db import models

from decisions.scoring import Score, Signals

MEDIUM_BAND_FROM = 30
HIGH_BAND_FROM = 60


class Verdict(models.TextChoices):
    APPROVE = "APPROVE", "Approve"
    APPROVE_WITH_CONDITIONS = "APPROVE_WITH_CONDITIONS", "Approve with conditions"
    DENY = "DENY", "Deny"


class Band(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class Condition(models.TextChoices):
    MFA = "MFA", "Step-up MFA at activation"
    TIME_BOUND = "TIME_BOUND", "Time-bound: expires automatically"
    MANAGER_APPROVAL = "MANAGER_APPROVAL", "Manager approval"
    SESSION_RECORDING = "SESSION_RECORDING", "Session recording"
    TICKET_REQUIRED = "TICKET_REQUIRED", "Linked change ticket"


STRICTNESS = {Verdict.APPROVE: 0, Verdict.APPROVE_WITH_CONDITIONS: 1, Verdict.DENY: 2}
BASE_CONDITIONS = (Condition.MFA, Condition.TIME_BOUND)


@dataclass(frozen=True)
class Bound:
    band: str
    verdict: str
    conditions: tuple[str, ...]
    hard_rule: str  # empty unless a hard rule decided
    explanation: str


def band_for(value: int) -> str:
    if value >= HIGH_BAND_FROM:
        return Band.HIGH
    if value >= MEDIUM_BAND_FROM:
        return Band.MEDIUM
    return Band.LOW


def hard_rule_for(signals: Signals) -> str:
    """A rule that denies outright, whatever the score and the AI say; empty when none applies."""
    privileged = signals.role_privilege in ("HIGH", "CRITICAL") or signals.role_grants_admin
    if privileged and signals.is_admin and signals.is_dormant:
        return "DORMANT_ADMIN_PRIVILEGED"
    if privileged and signals.identity_kind == "service" and not signals.has_owner:
        return "UNOWNED_SERVICE_PRIVILEGED"
    return ""


HARD_RULE_TEXT = {
    "DORMANT_ADMIN_PRIVILEGED": "a dormant administrator may not receive privileged access",
    "UNOWNED_SERVICE_PRIVILEGED": "a non-human identity without an owner may not receive privileged access",
}


def conditions_for(signals: Signals, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Conditions of a conditional approval: always MFA and TIME_BOUND, more for the riskiest roles."""
    wanted = list(BASE_CONDITIONS)
    if signals.role_privilege == "CRITICAL":
        wanted.append(Condition.MANAGER_APPROVAL)
    if signals.role_privilege == "CRITICAL" or signals.role_grants_admin:
        wanted.append(Condition.SESSION_RECORDING)
    wanted.extend(extra)
    return tuple(code for code in Condition.values if code in wanted)


def bound(signals: Signals, result: Score) -> Bound:
    """The most permissive verdict the policy allows for this score and these signals."""
    band = band_for(result.value)
    rule = hard_rule_for(signals)
    if rule:
        return Bound(band, Verdict.DENY, (), rule, f"Denied by hard rule: {HARD_RULE_TEXT[rule]}.")
    if band == Band.HIGH:
        return Bound(band, Verdict.DENY, (), "", f"Risk score {result.value} is in the high band (≥{HIGH_BAND_FROM}).")
    if band == Band.MEDIUM:
        return Bound(
            band,
            Verdict.APPROVE_WITH_CONDITIONS,
            conditions_for(signals),
            "",
            f"Risk score {result.value} is in the medium band ({MEDIUM_BAND_FROM}–{HIGH_BAND_FROM - 1}): "
            "access only with conditions.",
        )
    return Bound(band, Verdict.APPROVE, (), "", f"Risk score {result.value} is in the low band (<{MEDIUM_BAND_FROM}).")


def stricter(a: str, b: str) -> str:
    return a if STRICTNESS[Verdict(a)] >= STRICTNESS[Verdict(b)] else b


CONTROL_KEYWORDS = {
    Condition.MFA: ("mfa", "multi-factor", "multifactor", "2fa"),
    Condition.TIME_BOUND: ("time-bound", "time bound", "time_bound", "expir", "short-lived", "shorter duration"),
    Condition.MANAGER_APPROVAL: ("manager",),
    Condition.SESSION_RECORDING: ("session recording", "session_recording", "record the session", "recorded session"),
    Condition.TICKET_REQUIRED: ("ticket",),
}


def conditions_from_controls(controls: list[str]) -> tuple[str, ...]:
    """Map the AI's free-text recommended controls onto the condition codes we can enforce."""
    found = []
    for code, keywords in CONTROL_KEYWORDS.items():
        if any(k in control.lower() for control in controls for k in keywords):
            found.append(code)
    return tuple(found)


def combine(
    signals: Signals, policy: Bound, ai_verdict: str | None, ai_controls: list[str]
) -> tuple[str, tuple[str, ...]]:
    """Final verdict and conditions: the stricter of the policy bound and the AI's verdict."""
    verdict = policy.verdict if ai_verdict is None else stricter(policy.verdict, ai_verdict)
    if verdict == Verdict.DENY:
        return verdict, ()
    if verdict == Verdict.APPROVE:
        return verdict, ()
    return verdict, conditions_for(signals, extra=policy.conditions + conditions_from_controls(ai_controls))


def review_required(
    *, review_mode: str, verdict: str, band: str, used_ai: bool, two_reviewers: bool, conditions=()
) -> bool:
    """Whether a human must look before the engine's decision takes effect.

    A decision the policy reached alone (no AI) above the low band always goes to a human: the fallback
    is there to be safe, not to be final. MANAGER_APPROVAL is a condition only a person can meet, so
    it routes to review too; the other conditions travel with the grant to the enforcement point.
    """
    if review_mode == "always" or two_reviewers or Condition.MANAGER_APPROVAL in conditions:
        return True
    if not used_ai and band != Band.LOW:
        return True
    return review_mode == "conditional" and verdict == Verdict.APPROVE_WITH_CONDITIONS
