from django.urls import path

from decisions import views

app_name = "decisions"
urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("requests/<int:pk>/retry/", views.request_retry_view, name="retry"),
    path("requests/<int:pk>/review/", views.review, name="review"),
    path("history/", views.history, name="history"),
    path("export.csv", views.export_csv, name="export"),
    path("audit/", views.audit_trail, name="audit"),
]
