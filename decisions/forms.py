from datetime import UTC, date, datetime, time, timedelta

from django import forms

from decisions.models import AuditKind
from decisions.policy import Condition, Verdict
from decisions.reviews import ReviewAction


class HistoryFilterForm(forms.Form):
    """The query parameters shared by the history page and the CSV export."""

    verdict = forms.ChoiceField(choices=[("", "Any verdict"), *Verdict.choices], required=False)
    role = forms.SlugField(required=False, max_length=140)
    since = forms.DateField(
        required=False, help_text="From this day (UTC), inclusive.", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, help_text="Up to this day (UTC), inclusive.", widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_until(self):
        until = self.cleaned_data["until"]
        # The filter looks up to the end of the day; the last representable day has no "next day".
        if until and until >= date.max:
            raise forms.ValidationError("Pick an earlier date.")
        return until

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            raise forms.ValidationError("“since” must not be after “until”.")
        return cleaned

    def filter(self, decisions):
        """Apply the (valid) filters to a Decision queryset."""
        data = self.cleaned_data
        if data.get("verdict"):
            decisions = decisions.filter(verdict=data["verdict"])
        if data.get("role"):
            decisions = decisions.filter(request__role__slug=data["role"])
        if data.get("since"):
            decisions = decisions.filter(created_at__gte=datetime.combine(data["since"], time.min, tzinfo=UTC))
        if data.get("until"):
            end = datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=UTC)
            decisions = decisions.filter(created_at__lt=end)
        return decisions

    def active_filters(self) -> dict:
        return {key: str(value) for key, value in self.cleaned_data.items() if value}


class ReviewForm(forms.Form):
    """A reviewer's action; what it may do is checked by decisions.reviews.review_outcome."""

    action = forms.ChoiceField(choices=ReviewAction.choices)
    conditions = forms.MultipleChoiceField(
        choices=Condition.choices, required=False, widget=forms.CheckboxSelectMultiple, label="Add conditions"
    )
    hours = forms.IntegerField(min_value=1, required=False, label="Duration (hours)")
    reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "Why? Required, as a full sentence, to approve against the engine."}
        ),
    )

    def __init__(self, *args, requested_hours: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hours"].widget.attrs.update(max=requested_hours, placeholder=str(requested_hours))


class AuditFilterForm(forms.Form):
    """The query parameters of the audit trail page."""

    kind = forms.ChoiceField(choices=[("", "Any event"), *AuditKind.choices], required=False)
    request = forms.IntegerField(required=False, min_value=1, label="Request #")
    hash = forms.RegexField(
        regex=r"^[0-9a-f]{6,64}$",
        required=False,
        strip=True,
        label="Hash",
        help_text="The start (at least 6 characters) of an event's hash, e.g. from the CSV export's audit_hash.",
        error_messages={"invalid": "Enter at least 6 characters of a hash (0–9, a–f)."},
    )

    def filter(self, events):
        """Apply the (valid) filters to an AuditEvent queryset."""
        data = self.cleaned_data
        if data.get("kind"):
            events = events.filter(kind=data["kind"])
        if data.get("request"):
            events = events.filter(request_id=data["request"])
        if data.get("hash"):
            events = events.filter(hash__startswith=data["hash"])
        return events

    def active_filters(self) -> dict:
        return {key: str(value) for key, value in self.cleaned_data.items() if value}
