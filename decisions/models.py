from django.db import models
from django.db.models import Q

from decisions.policy import Band, Verdict


class Decision(models.Model):
    """What the engine decided for one access request, with everything needed to replay it."""

    request = models.OneToOneField("requests.AccessRequest", on_delete=models.PROTECT, related_name="decision")
    policy_version = models.CharField(max_length=40)
    signals = models.JSONField(help_text="The signal snapshot the score was computed from.")
    risk_score = models.PositiveSmallIntegerField()
    risk_band = models.CharField(max_length=10, choices=Band.choices)
    factors = models.JSONField(default=list, help_text="[{code, label, points}], largest first.")
    hard_rule = models.CharField(max_length=60, blank=True, help_text="The hard rule that denied, if any.")
    policy_verdict = models.CharField(max_length=30, choices=Verdict.choices)
    ai_verdict = models.CharField(max_length=30, choices=Verdict.choices, blank=True)
    verdict = models.CharField(max_length=30, choices=Verdict.choices)
    engine = models.CharField(max_length=120, help_text='"policy", or "ai:<model>" when the AI was used.')
    ai_model = models.CharField(max_length=100, blank=True)
    ai_error = models.TextField(blank=True, help_text="Why the AI was not used, when it was not.")
    reasoning = models.TextField(blank=True)
    risk_drivers = models.JSONField(default=list)
    recommended_controls = models.JSONField(default=list)
    conditions = models.JSONField(default=list)
    ai_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    ai_prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    ai_completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    evaluation_ms = models.PositiveIntegerField(help_text="Wall time from claim to record.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(risk_score__lte=100), name="decision_score_0_to_100"),
            models.CheckConstraint(condition=Q(verdict__in=Verdict.values), name="decision_verdict_valid"),
            models.CheckConstraint(condition=Q(risk_band__in=Band.values), name="decision_band_valid"),
            # With the AI not used, the engine must say so and say why.
            models.CheckConstraint(
                condition=Q(engine="policy", ai_verdict="") & ~Q(ai_error="") | Q(engine__startswith="ai:"),
                name="decision_engine_explained",
            ),
        ]

    def __str__(self):
        return f"{self.verdict} ({self.risk_score}) for request #{self.request_id}"

    @property
    def used_ai(self) -> bool:
        return self.engine.startswith("ai:")
