from django.contrib import admin

from decisions.models import Decision


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
