from django.urls import path

from decisions import views

app_name = "decisions"
urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("requests/<int:pk>/retry/", views.request_retry_view, name="retry"),
    path("history/", views.history, name="history"),
    path("export.csv", views.export_csv, name="export"),
]
