from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Model, QuerySet

from decisions.audit import audit_record
from decisions.models import AuditKind
from requests.models import AccessRequest, Identity, Role


class AuditedAdmin(admin.ModelAdmin):
    """Puts every add, change and delete through the admin on the audit trail, in the admin's own
    transaction, so that the change and its record stand or fall together."""

    audit_kind: str
    audit_key: str  # the field that names the object in the event

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and not form.changed_data:
            return  # saved without changes: nothing happened to record
        data = {
            self.audit_key: getattr(obj, self.audit_key),
            "action": "changed" if change else "created",
            "changed_fields": form.changed_data,
        }
        if change:
            data["changes"] = {
                name: {"from": plain(form.initial.get(name)), "to": plain(form.cleaned_data.get(name))}
                for name in form.changed_data
            }
        audit_record(kind=self.audit_kind, actor=request.user, data=data)

    def delete_model(self, request, obj):
        name = getattr(obj, self.audit_key)
        super().delete_model(request, obj)
        self.deletion_record(request, name)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            names = list(queryset.values_list(self.audit_key, flat=True))
            super().delete_queryset(request, queryset)
            for name in names:
                self.deletion_record(request, name)

    def deletion_record(self, request, name: str) -> None:
        data = {self.audit_key: name, "action": "deleted", "changed_fields": []}
        audit_record(kind=self.audit_kind, actor=request.user, data=data)


def plain(value):
    """A form value as the audit trail stores it: related objects by their primary key."""
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, QuerySet | list | tuple):
        return sorted(str(item) for item in value)
    return value


@admin.register(Role)
class RoleAdmin(AuditedAdmin):
    # A role's privilege level and review rules drive every decision.
    audit_kind, audit_key = AuditKind.ROLE_CHANGED, "slug"
    list_display = [
        "slug", "name", "privilege_level", "grants_admin", "max_duration_hours", "review_mode",
        "requires_two_reviewers", "updated_at",
    ]  # fmt: skip
    list_filter = ["privilege_level", "grants_admin", "review_mode", "requires_two_reviewers"]
    search_fields = ["slug", "name", "description"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Identity)
class IdentityAdmin(AuditedAdmin):
    # Admin rights, MFA, activity, ownership and the portal login feed scoring and separation of duties.
    audit_kind, audit_key = AuditKind.IDENTITY_CHANGED, "username"
    list_display = ["username", "display_name", "kind", "is_admin", "mfa_enabled", "last_activity", "owner", "source"]
    list_filter = ["kind", "is_admin", "mfa_enabled", "source"]
    search_fields = ["username", "display_name"]
    raw_id_fields = ["owner", "user"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(AccessRequest)
class AccessRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "identity", "role", "status", "submitted_at", "decided_at", "expires_at"]
    list_filter = ["status", "role__privilege_level"]
    search_fields = ["identity__username", "role__slug", "requester__username"]
    list_select_related = ["identity", "role"]
    raw_id_fields = ["requester", "identity", "role"]
    # The record of what was asked is evidence: admins read it, they do not rewrite it.
    readonly_fields = [f.name for f in AccessRequest._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.unregister(User)


@admin.register(User)
class UserAdmin(AuditedAdmin, DjangoUserAdmin):
    # Group membership decides who reviews and who audits: separation of duties rests on it.
    audit_kind, audit_key = AuditKind.USER_CHANGED, "username"
