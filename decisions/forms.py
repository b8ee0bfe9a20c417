from datetime import UTC, datetime, time, timedelta

from django import forms

from decisions.policy import Verdict


class HistoryFilterForm(forms.Form):
    """The query parameters shared by the history page and the CSV export."""

    verdict = forms.ChoiceField(choices=[("", "Any verdict"), *Verdict.choices], required=False)
    role = forms.SlugField(required=False, max_length=140)
    since = forms.DateField(required=False, help_text="From this day (UTC), inclusive.")
    until = forms.DateField(required=False, help_text="Up to this day (UTC), inclusive.")

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
