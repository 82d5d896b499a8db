from django.conf import settings
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
    path("reports/<uuid:report_id>/reevaluate/", views.reevaluate, name="reevaluate"),
    path("reports/<uuid:report_id>/copy/", views.copy_answers, name="copy_answers"),
    path("reports/<uuid:report_id>/feedback/", views.feedback, name="feedback"),
    path("reports/<uuid:report_id>/pdf/", views.report_pdf, name="report_pdf"),
    path("reports/<uuid:report_id>/pdf/retry/", views.report_pdf_retry, name="report_pdf_retry"),
    path("reports/<uuid:report_id>/bundle.zip", views.report_bundle, name="report_bundle"),
    path(
        "reports/<uuid:report_id>/decision-record.<str:extension>",
        views.decision_record,
        name="decision_record",
    ),
    path("compare/", views.compare, name="compare"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
]

urlpatterns = [
    path(settings.ADMIN_PATH, admin.site.urls),
    path("api/v1/", api.urls),
    path("", include((site_patterns, "advisor"))),
]

handler500 = "advisor.views.server_error"
