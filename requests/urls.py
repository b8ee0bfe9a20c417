from django.urls import path

from requests import views

app_name = "requests"
urlpatterns = [
    path("", views.request_list, name="list"),
    path("new/", views.request_new, name="new"),
    path("roles/hint/", views.role_hint, name="role-hint"),
    path("<int:pk>/", views.request_detail, name="detail"),
]
