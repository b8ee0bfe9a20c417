"""The append-only audit trail: every state change as one link of a SHA-256 hash chain.

Each event stores the hash of the event before it and its own hash over its content, so that editing,
deleting or reordering any row in the database breaks the chain where it happened; `audit_verify` (and
`manage.py verify_audit`) finds the first broken link. A single `AuditChainHead` row, locked for every
append, serialises writers across processes and remembers the newest link, which is how deleting the
newest event is noticed too.

The hash is not keyed: someone who can write to the database and recompute every later hash, head
included, can rewrite history unnoticed. The chain proves the application (and a careless hand in a SQL
console) did not change the record; it is meant to be paired with off-site copies of the head's hash.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC
from enum import StrEnum

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from decisions.models import AuditChainHead, AuditEvent, AuditKind, Decision, Grant

GENESIS_HASH = "0" * 64
HEAD_PK = 1


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)


def content_hash(*, seq, created_at, kind, actor, request_id, decision_id, data, prev_hash) -> str:
    content = {
        "seq": seq,
        "created_at": created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "kind": str(kind),
        "actor": actor,
        "request_id": request_id,
        "decision_id": decision_id,
        "data": data,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def event_content_hash(event: AuditEvent) -> str:
    """The hash an event's stored content should have; equal to ``event.hash`` unless someone edited it."""
    return content_hash(
        seq=event.seq,
        created_at=event.created_at,
        kind=event.kind,
        actor=event.actor,
        request_id=event.request_id,
        decision_id=event.decision_id,
        data=event.data,
        prev_hash=event.prev_hash,
    )


def actor_name(actor) -> str:
    """A user's username, or a component's name as given ("worker", "system", "cli")."""
    name = actor if isinstance(actor, str) else actor.get_username()
    if not name:
        raise ValueError("an audit event needs an actor")
    return name


def chain_head_lock() -> AuditChainHead:
    """The head row, locked until the caller's transaction ends; created (at the genesis) on first use.

    get_or_create tolerates two processes creating it at once (the loser's insert fails on the primary key
    and it reads the winner's row); the lock is taken afterwards, on the row that surely exists.
    """
    AuditChainHead.objects.get_or_create(pk=HEAD_PK, defaults={"seq": 0, "last_hash": GENESIS_HASH})
    return AuditChainHead.objects.select_for_update().get(pk=HEAD_PK)


def audit_record(*, kind: AuditKind | str, actor, request=None, decision=None, data=None) -> AuditEvent:
    """Append one event to the chain and return it.

    Call it inside the transaction that makes the change it records, so that both are committed or
    neither is. ``request`` defaults to the decision's request. ``data`` must be JSON-serialisable; it is
    stored exactly as hashed (round-tripped through JSON first, so dates become ISO strings).
    """
    kind = AuditKind(kind)
    data = json.loads(canonical_json(data or {}))
    request_id = request.pk if request is not None else getattr(decision, "request_id", None)
    decision_id = decision.pk if decision is not None else None
    actor = actor_name(actor)
    with transaction.atomic():
        head = chain_head_lock()
        seq = head.seq + 1
        # Hashed with microseconds: every supported database keeps them, so the stored value hashes alike.
        created_at = timezone.now()
        event = AuditEvent.objects.create(
            seq=seq,
            created_at=created_at,
            kind=kind,
            actor=actor,
            request_id=request_id,
            decision_id=decision_id,
            data=data,
            prev_hash=head.last_hash,
            hash=content_hash(
                seq=seq,
                created_at=created_at,
                kind=kind,
                actor=actor,
                request_id=request_id,
                decision_id=decision_id,
                data=data,
                prev_hash=head.last_hash,
            ),
        )
        head.seq, head.last_hash = seq, event.hash
        head.save(update_fields=["seq", "last_hash"])
    return event


# ------------------------------------------------------------------------------------------ verifying


class Problem(StrEnum):
    CONTENT = "content does not match its hash"
    LINK = "its link to the previous event is broken (prev_hash does not match)"
    GAP = "out of sequence: events are missing or reordered before it"
    HEAD = "the chain head does not match the last event"
    UNRECORDED = "a record disagrees with the audit trail"


@dataclass(frozen=True)
class VerifyResult:
    """``count`` events checked; when the chain is broken, where (``seq``, ``event_id``) and ``problem``."""

    count: int
    problem: str = ""
    seq: int | None = None
    event_id: int | None = None
    detail: str = ""

    @property
    def intact(self) -> bool:
        return not self.problem

    def message(self) -> str:
        if self.intact:
            return f"audit trail intact: {self.count} event{'s' if self.count != 1 else ''}"
        where = "" if self.seq is None else f" at event #{self.seq} (id {self.event_id})"
        if self.problem == Problem.HEAD:
            where = " after the last event" if self.seq is None else f" after event #{self.seq} (id {self.event_id})"
        detail = f" ({self.detail})" if self.detail else ""
        return f"audit trail broken{where}: {self.problem}{detail}"


def audit_verify() -> VerifyResult:
    """Walk the chain and report the first event that no longer matches.

    1. Events are read in ``seq`` order, in chunks, so memory stays flat however long the chain.
    2. The n-th event must carry seq n: a deleted row leaves a gap, a reordered one a wrong number.
    3. Its content, rehashed, must equal its stored hash: an edited row fails here.
    4. Its ``prev_hash`` must equal the previous event's hash (the genesis hash for the first).
    5. Finally the head must point at the last event: deleting the newest rows leaves a valid but
       shorter chain, which only the head can tell.
    """
    expected_prev, count, last = GENESIS_HASH, 0, None
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        expected_seq = count + 1
        if event.seq != expected_seq:
            return VerifyResult(count, Problem.GAP, event.seq, event.pk, f"expected #{expected_seq}")
        if event_content_hash(event) != event.hash:
            return VerifyResult(count, Problem.CONTENT, event.seq, event.pk)
        if event.prev_hash != expected_prev:
            return VerifyResult(count, Problem.LINK, event.seq, event.pk)
        expected_prev, count, last = event.hash, expected_seq, event
    head = AuditChainHead.objects.filter(pk=HEAD_PK).first()
    head_seq, head_hash = (head.seq, head.last_hash) if head else (0, GENESIS_HASH)
    if head is None and last is not None:
        return VerifyResult(count, Problem.HEAD, last.seq, last.pk, "the chain head row is missing")
    if (head_seq, head_hash) != (count, expected_prev):
        detail = f"the head records #{head_seq}, hash {head_hash[:12]}"
        missing = head_seq - count
        if missing == 1:
            detail += ": the newest event was deleted"
        elif missing > 1:
            detail += f": the newest {missing} events were deleted"
        return VerifyResult(count, Problem.HEAD, last.seq if last else None, last.pk if last else None, detail)
    return records_match_trail(count)


def records_match_trail(count: int) -> VerifyResult:
    """Cross-check the records the trail vouches for, so that wiping the trail, or editing a decision or
    a grant behind its back, is noticed too.

    6. Every decision has its `evaluated` event.
    7. Every grant ends when its `granted` event says it ends.
    """
    unrecorded = Decision.objects.exclude(audit_events__kind=AuditKind.EVALUATED).order_by("pk").first()
    if unrecorded:
        detail = f"decision {unrecorded.pk} (request #{unrecorded.request_id}) has no evaluated event"
        return VerifyResult(count, Problem.UNRECORDED, detail=detail)
    recorded_end = AuditEvent.objects.filter(kind=AuditKind.GRANTED, request_id=OuterRef("request_id")).order_by("seq")
    grants = Grant.objects.annotate(recorded_end=Subquery(recorded_end.values("data__expires_at")[:1])).order_by("pk")
    for grant in grants.only("pk", "request_id", "expires_at").iterator(chunk_size=2000):
        if grant.recorded_end != grant.expires_at.isoformat():
            detail = (
                f"grant {grant.pk} (request #{grant.request_id}) ends {grant.expires_at.isoformat()}, "
                f"its granted event says {grant.recorded_end or 'nothing'}"
            )
            return VerifyResult(count, Problem.UNRECORDED, detail=detail)
    return VerifyResult(count)
