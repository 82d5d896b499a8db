from django.contrib import admin
from django.urls import include, path

from advisor import views
from advisor.api import api

site_patterns = [
    path("", views.home, name="home"),
    path("start/", views.start, name="start"),
    path("assessments/<uuid:assessment_id>/review/", views.review, name="review"),
    path("assessments/<uuid:assessment_id>/<slug:slug>/", views.step, name="step"),
    path("reports/<uuid:report_id>/", views.report, name="report"),
    path("compare/", views.compare, name="compare"),
    path("healthz", views.healthz, name="healthz"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("", include((site_patterns, "advisor"))),
]
