"""Risk scoring: a pure function from a signal snapshot to a score 0–100 and its named factors.

No ORM, no clock, no network: the snapshot carries everything, so a decision can be replayed years
later from what it recorded, and thousands of grants can be re-scored in bulk.
"""

from dataclasses import asdict, dataclass, field

# Inactivity thresholds in days. "Never active" is treated as the most inactive, never as active.
DORMANT_AFTER_DAYS = 90
IDLE_AFTER_DAYS = 30
STALE_CREDENTIAL_DAYS = 90


@dataclass(frozen=True)
class Weights:
    version: str
    privilege: dict[str, int] = field(default_factory=dict)
    role_grants_admin: int = 0
    holds_admin: int = 0
    dormant: int = 0
    idle: int = 0
    no_mfa: int = 0
    duration_over_max: int = 0
    stale_credential: int = 0
    unowned_service: int = 0
    per_recent_denial: int = 0
    max_recent_denials: int = 0


WEIGHTS = Weights(
    version="2026-12.1",
    privilege={"LOW": 0, "MEDIUM": 10, "HIGH": 30, "CRITICAL": 45},
    role_grants_admin=10,
    holds_admin=15,
    dormant=30,
    idle=10,
    no_mfa=15,
    duration_over_max=10,
    stale_credential=10,
    unowned_service=15,
    per_recent_denial=5,
    max_recent_denials=3,
)


@dataclass(frozen=True)
class Signals:
    """What the identity store and role catalogue say at the instant of evaluation."""

    identity_kind: str  # "human" or "service"
    is_admin: bool
    days_inactive: int | None  # None: never active
    mfa_enabled: bool
    has_owner: bool
    credential_age_days: int | None  # days since the credential was created or last rotated
    role_privilege: str  # LOW / MEDIUM / HIGH / CRITICAL
    role_grants_admin: bool
    role_max_hours: int
    requested_hours: int
    recent_denials: int = 0

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def is_dormant(self) -> bool:
        return self.days_inactive is None or self.days_inactive > DORMANT_AFTER_DAYS


@dataclass(frozen=True)
class Factor:
    code: str
    label: str
    points: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Score:
    value: int
    factors: tuple[Factor, ...]
    version: str


def score(signals: Signals, weights: Weights = WEIGHTS) -> Score:
    """Sum the points of every factor that applies, clipped to 0–100; factors listed largest first."""
    factors: list[Factor] = []

    def add(code: str, label: str, points: int) -> None:
        if points:
            factors.append(Factor(code, label, points))

    add(
        "ROLE_PRIVILEGE",
        f"Role privilege level is {signals.role_privilege}",
        weights.privilege.get(signals.role_privilege, max(weights.privilege.values(), default=0)),
    )
    if signals.role_grants_admin:
        add("ROLE_GRANTS_ADMIN", "Role grants administrator rights", weights.role_grants_admin)
    if signals.is_admin:
        add("HOLDS_ADMIN", "Identity already holds administrator rights", weights.holds_admin)

    if signals.days_inactive is None:
        add("NEVER_ACTIVE", "Identity has never been active", weights.dormant)
    elif signals.days_inactive > DORMANT_AFTER_DAYS:
        add("DORMANT", f"Inactive for {signals.days_inactive} days (over {DORMANT_AFTER_DAYS})", weights.dormant)
    elif signals.days_inactive > IDLE_AFTER_DAYS:
        add("IDLE", f"Inactive for {signals.days_inactive} days (over {IDLE_AFTER_DAYS})", weights.idle)

    if signals.identity_kind == "human" and not signals.mfa_enabled:
        add("NO_MFA", "No MFA enrolled", weights.no_mfa)
    if signals.identity_kind == "service":
        if not signals.has_owner:
            add("UNOWNED_SERVICE", "Non-human identity has no accountable owner", weights.unowned_service)
        if signals.credential_age_days is None or signals.credential_age_days > STALE_CREDENTIAL_DAYS:
            age = "unknown age" if signals.credential_age_days is None else f"{signals.credential_age_days} days old"
            add("STALE_CREDENTIAL", f"Credential not rotated ({age})", weights.stale_credential)

    if signals.requested_hours > signals.role_max_hours:
        add(
            "DURATION_OVER_MAX",
            f"Asked for {signals.requested_hours} h, role allows {signals.role_max_hours} h",
            weights.duration_over_max,
        )
    denials = min(signals.recent_denials, weights.max_recent_denials)
    if denials:
        add(
            "RECENT_DENIALS",
            f"{signals.recent_denials} denied request(s) in the last 30 days",
            denials * weights.per_recent_denial,
        )

    factors.sort(key=lambda f: (-f.points, f.code))
    total = max(0, min(100, sum(f.points for f in factors)))
    return Score(value=total, factors=tuple(factors), version=weights.version)
