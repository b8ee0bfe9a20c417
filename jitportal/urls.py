from django.contrib import admin
from django.urls import include, path

from requests import views as request_views

urlpatterns = [
    path("", request_views.home, name="home"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("requests/", include("requests.urls")),
    path("decisions/", include("decisions.urls")),
    path("admin/", admin.site.urls),
]
