from django.contrib import admin
from django.db import transaction

from decisions.audit import audit_record
from decisions.models import AuditKind
from requests.models import AccessRequest, Identity, Role


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "privilege_level", "grants_admin", "max_duration_hours", "updated_at"]
    list_filter = ["privilege_level", "grants_admin"]
    search_fields = ["slug", "name", "description"]
    readonly_fields = ["created_at", "updated_at"]

    # A role's privilege level drives every score: each change through the admin goes on the audit trail,
    # in the admin's own transaction, so that the change and its record stand or fall together.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and not form.changed_data:
            return  # saved without changes: nothing happened to record
        data = {"slug": obj.slug, "action": "changed" if change else "created", "changed_fields": form.changed_data}
        if change:
            data["changes"] = {
                name: {"from": form.initial.get(name), "to": form.cleaned_data.get(name)} for name in form.changed_data
            }
        audit_record(kind=AuditKind.ROLE_CHANGED, actor=request.user, data=data)

    def delete_model(self, request, obj):
        slug = obj.slug
        super().delete_model(request, obj)
        self.deletion_record(request, slug)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            slugs = list(queryset.values_list("slug", flat=True))
            super().delete_queryset(request, queryset)
            for slug in slugs:
                self.deletion_record(request, slug)

    def deletion_record(self, request, slug: str) -> None:
        data = {"slug": slug, "action": "deleted", "changed_fields": []}
        audit_record(kind=AuditKind.ROLE_CHANGED, actor=request.user, data=data)


@admin.register(Identity)
class IdentityAdmin(admin.ModelAdmin):
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
