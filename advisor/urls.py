from django.contrib import admin
from django.urls import include, path

from advisor import views

site_patterns = [
    path("", views.home, name="home"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include((site_patterns, "advisor"))),
]
