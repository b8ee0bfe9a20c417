from django import forms

from requests.models import Role


class AccessRequestForm(forms.Form):
    role = forms.CharField(
        max_length=140,
        help_text="Start typing to search the catalogue.",
        widget=forms.TextInput(
            attrs={"list": "role-options", "autocomplete": "off", "placeholder": "e.g. read-only-access"}
        ),
    )
    justification = forms.CharField(
        min_length=10,
        max_length=2000,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "What will you do with this access, and why now? Link the ticket."}
        ),
    )
    duration_hours = forms.IntegerField(label="Duration (hours)", min_value=1, max_value=720, initial=1)

    def clean_role(self):
        value = self.cleaned_data["role"].strip()
        # The slug, as the list offers; a numeric id is accepted too, for clients posting the form directly.
        role = Role.objects.filter(slug=value).first()
        if role is None and value.isdigit():
            role = Role.objects.filter(pk=int(value)).first()
        if role is None:
            raise forms.ValidationError("No role with this identifier; pick one from the list.")
        return role

    def clean(self):
        cleaned = super().clean()
        role, hours = cleaned.get("role"), cleaned.get("duration_hours")
        if role and hours and hours > role.max_duration_hours:
            self.add_error("duration_hours", f"{role.name} can be held for at most {role.max_duration_hours} hours.")
        return cleaned
