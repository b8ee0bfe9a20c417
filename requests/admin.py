from django.contrib import admin

from requests.models import AccessRequest, Identity, Role


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "privilege_level", "grants_admin", "max_duration_hours", "updated_at"]
    list_filter = ["privilege_level", "grants_admin"]
    search_fields = ["slug", "name", "description"]
    readonly_fields = ["created_at", "updated_at"]


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
