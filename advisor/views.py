"""Pages of the public site."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from advisor.models import KnowledgeBaseVersion, Protocol, UseCaseProfile


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """What the advisor covers: its protocols and the typical cases it is tested against."""
    context = {
        "protocols": Protocol.objects.all(),
        "profiles": UseCaseProfile.objects.select_related("expected_protocol"),
        "version": KnowledgeBaseVersion.objects.first(),
    }
    return render(request, "advisor/home.html", context)


@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers: the process answers, without touching the database."""
    return HttpResponse("ok", content_type="text/plain")
