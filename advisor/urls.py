from django.contrib import admin
from django.urls import include, path

from advisor import views
from advisor.api import api

site_patterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include((site_patterns, "advisor"))),
]
