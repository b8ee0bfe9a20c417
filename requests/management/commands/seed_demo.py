import os
import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from decisions.pipeline import request_evaluate
from requests.models import AccessRequest, Identity, IdentityKind, Role

DATA = Path(settings.BASE_DIR) / "data"
ROLE_CATALOGUE = DATA / "aws_managed_policies_summary.csv"
CREDENTIAL_REPORTS = [
    DATA / "aws-credential-report-testbench.csv",
    DATA / "aws-credential-report-saa-course.csv",
    DATA / "aws-credential-report-cloudmapper.json",
]
HIGH_ROLE = "amazon-s3-full-access"
LOW_ROLE = "amazon-ec2-read-only-access"

# login → (group, staff/superuser)
LOGINS = {
    "requester": ("requesters", False),
    "reviewer": ("reviewers", False),
    "auditor": ("auditors", False),
    "admin": ("admins", True),
}

# The three seed scenarios of DESIGN.md: username → (is_admin, days since last activity, MFA, display name).
SCENARIOS = {
    "dormant-admin": (True, 120, False, "Dormant administrator (seed scenario: high risk)"),
    "standard-45d": (False, 45, True, "Standard user, idle 45 days (seed scenario: medium risk)"),
    "standard-active": (False, 1, True, "Standard user, active yesterday (seed scenario: low risk)"),
}
DEMO_TAG = "[demo]"


class Command(BaseCommand):
    help = "Load the demo: real AWS roles and identities, the seed scenarios, logins and a few decisions. Idempotent."

    def handle(self, *args, **options):
        self.stdout.write("Role catalogue (AWS managed policies):")
        call_command("import_roles", str(ROLE_CATALOGUE), format="aws-managed-policies", stdout=self.stdout)
        for report in CREDENTIAL_REPORTS:
            self.stdout.write(f"Identities from {report.name}:")
            call_command("import_identities", str(report), format="aws-credential-report", stdout=self.stdout)

        now = timezone.now()
        for username, (is_admin, days, mfa, display_name) in SCENARIOS.items():
            Identity.objects.update_or_create(
                username=username,
                defaults=dict(
                    display_name=display_name,
                    kind=IdentityKind.HUMAN,
                    is_admin=is_admin,
                    last_activity=now - timedelta(days=days),
                    mfa_enabled=mfa,
                    source="seed_demo",
                ),
            )
        password = self.ensure_logins(now)
        # Seeded history is not news: keep its notification e-mails out of the demo's console.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            self.seed_decisions()

        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        if password:
            self.stdout.write(f"Logins: {', '.join(LOGINS)}; password: {password}")

    @transaction.atomic
    def ensure_logins(self, now) -> str | None:
        """Create the four logins, each linked to its own identity. Returns the password to show, if new."""
        password = os.environ.get("JIT_DEMO_PASSWORD") or None
        generated = None
        for username, (group, is_admin) in LOGINS.items():
            user, created = User.objects.get_or_create(username=username)
            if created and not password:
                generated = generated or secrets.token_urlsafe(12)
            if password or created:
                user.set_password(password or generated)
            user.is_staff = user.is_superuser = is_admin
            # E-mails go to the console backend in the demo; example.com never delivers anywhere.
            user.email = f"{username}@example.com"
            user.save()
            user.groups.add(Group.objects.get(name=group))
            Identity.objects.update_or_create(
                username=username,
                defaults=dict(
                    display_name=f"Demo {username}",
                    kind=IdentityKind.HUMAN,
                    user=user,
                    mfa_enabled=True,
                    last_activity=now,
                    source="seed_demo",
                ),
            )
        if generated:
            self.stdout.write(
                self.style.WARNING("Generated a password for the new logins; it is shown only this once.")
            )
        return password or generated

    def seed_decisions(self) -> None:
        """A few decided requests so the queue and history are not empty; run through the real pipeline."""
        if AccessRequest.objects.filter(justification__startswith=DEMO_TAG).exists():
            return
        requester = User.objects.get(username="requester")
        high, low = Role.objects.get(slug=HIGH_ROLE), Role.objects.get(slug=LOW_ROLE)
        wanted = [
            ("dormant-admin", high, 4, "Restore a bucket policy after last night's incident."),
            ("standard-45d", high, 2, "Upload the quarterly reports to the finance bucket."),
            ("standard-active", low, 8, "Check instance health during today's on-call shift."),
            ("requester", low, 4, "Read instance metadata for the capacity review."),
            # Real identities from the shipped credential reports.
            ("cloudgoat", high, 2, "Nightly export job needs to write the backup bucket."),
            ("test_account", low, 1, "First login: look around the console."),
        ]
        for username, role, hours, text in wanted:
            access_request = AccessRequest.objects.create(
                requester=requester if username == "requester" else User.objects.get(username="admin"),
                identity=Identity.objects.get(username=username),
                role=role,
                justification=f"{DEMO_TAG} {text}",
                duration_hours=hours,
            )
            decision = request_evaluate(request_id=access_request.pk)
            access_request.refresh_from_db()
            self.stdout.write(
                f"  request #{access_request.pk} {username} → {role.slug}: {decision.verdict} "
                f"({decision.risk_score}), {access_request.get_status_display().lower()}"
            )
