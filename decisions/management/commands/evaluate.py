import contextlib
import json
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from decisions.pipeline import request_evaluate
from requests.models import AccessRequest, Identity, Role

CLI_USERNAME = "cli"


class Command(BaseCommand):
    help = "Create an access request and run the decision pipeline on it synchronously."

    def add_arguments(self, parser):
        parser.add_argument("--identity", required=True, help="Username of the identity that needs access.")
        parser.add_argument("--role", required=True, help="Slug of the role.")
        parser.add_argument("--hours", type=int, default=1, help="Requested duration in hours (default 1).")
        parser.add_argument("--justification", default="Requested from the command line.")
        parser.add_argument("--json", action="store_true", help="Print the decision as one JSON object.")

    def handle(self, *args, **options):
        try:
            identity = Identity.objects.get(username=options["identity"])
        except Identity.DoesNotExist:
            raise CommandError(f"No identity with username {options['identity']!r}") from None
        try:
            role = Role.objects.get(slug=options["role"])
        except Role.DoesNotExist:
            raise CommandError(f"No role with slug {options['role']!r}") from None
        if options["hours"] < 1:
            raise CommandError("--hours must be at least 1")

        # The request is attributed to the identity's own login when it has one, else to a
        # dedicated inactive "cli" user, so the record always says who (or what) asked.
        requester = (
            identity.user
            or get_user_model().objects.get_or_create(username=CLI_USERNAME, defaults={"is_active": False})[0]
        )
        with transaction.atomic():
            access_request = AccessRequest.objects.create(
                requester=requester,
                identity=identity,
                role=role,
                justification=options["justification"],
                duration_hours=options["hours"],
            )
        # Anything the pipeline prints (the console mail backend's notifications) goes to stderr, so
        # that stdout carries only the result: one JSON object with --json.
        with contextlib.redirect_stdout(sys.stderr):
            decision = request_evaluate(request_id=access_request.pk)
        access_request.refresh_from_db()
        if options["json"]:
            self.stdout.write(json.dumps(decision_json(access_request, decision), indent=2))
            return
        self.stdout.write(
            f"request #{access_request.pk}: {decision.verdict} (score {decision.risk_score}, {decision.risk_band} band, "
            f"engine {decision.engine})"
        )
        for factor in decision.factors:
            self.stdout.write(f"  +{factor['points']:>3}  {factor['code']}: {factor['label']}")
        if decision.conditions:
            self.stdout.write(f"  conditions: {', '.join(decision.conditions)}")
        if decision.ai_error:
            self.stdout.write(f"  AI not used: {decision.ai_error}")
        self.stdout.write(f"  {decision.reasoning}")


def decision_json(access_request, decision) -> dict:
    return {
        "request_id": access_request.pk,
        "status": access_request.status,
        "identity": access_request.identity.username,
        "role": access_request.role.slug,
        "duration_hours": access_request.duration_hours,
        "verdict": decision.verdict,
        "risk_score": decision.risk_score,
        "risk_band": decision.risk_band,
        "policy_verdict": decision.policy_verdict,
        "policy_version": decision.policy_version,
        "hard_rule": decision.hard_rule or None,
        "factors": decision.factors,
        "engine": decision.engine,
        "ai_error": decision.ai_error or None,
        "reasoning": decision.reasoning,
        "risk_drivers": decision.risk_drivers,
        "recommended_controls": decision.recommended_controls,
        "conditions": decision.conditions,
        "signals": decision.signals,
        "expires_at": access_request.expires_at.isoformat() if access_request.expires_at else None,
    }
