from django.contrib import admin

from decisions.models import AuditEvent, Decision


@admin.register(Decision)
class DecisionAdmin(admin.ModelAdmin):
    list_display = ["id", "request", "verdict", "risk_score", "risk_band", "engine", "created_at"]
    list_filter = ["verdict", "risk_band", "engine"]
    list_select_related = ["request__identity", "request__role"]
    search_fields = ["request__identity__username", "request__role__slug"]

    # Decisions are the engine's record; nobody edits them by hand.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["seq", "kind", "actor", "request", "created_at"]
    list_filter = ["kind"]
    search_fields = ["actor", "hash"]
    ordering = ["-seq"]
    # A request shows as "#id identity → role": joined here rather than queried per row.
    list_select_related = ["request__identity", "request__role"]

    # The trail is append-only: the application records events; nobody adds, edits or removes them here.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
