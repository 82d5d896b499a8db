"""Request bodies the site never needs are refused early; capability pages are kept private."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_cache_control

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
UTF_8 = {"utf-8", "utf8"}


class RequestLimitsMiddleware:
    """Bodies: at most MAX_REQUEST_BODY_BYTES, UTF-8 only, and no multipart outside the admin.

    Django decodes a form in whatever charset the client names and streams multipart uploads to
    disk; the site has no file fields and every form is UTF-8, so both are refused with a 400 page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = self.refusal(request)
        if refusal is not None:
            status, reason = refusal
            return self.refuse(request, status, reason)
        return self.get_response(request)

    def refusal(self, request: HttpRequest) -> tuple[int, str] | None:
        if request.method not in BODY_METHODS:
            return None
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit():
            return 400, "The request's Content-Length is not a number."
        if int(length) > settings.MAX_REQUEST_BODY_BYTES:
            limit = settings.MAX_REQUEST_BODY_BYTES // 1024
            return 413, f"The request is larger than this site accepts ({limit} KB at most)."
        if request.content_type == "multipart/form-data" and not request.path.startswith(
            f"/{settings.ADMIN_PATH}"
        ):
            return 400, "This site takes no file uploads; send forms URL-encoded, as a browser does."
        charset = (request.content_params or {}).get("charset", "utf-8").strip().lower()
        if charset not in UTF_8:
            return 400, "Forms and JSON must be sent as UTF-8."
        return None

    def refuse(self, request: HttpRequest, status: int, reason: str) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": reason}, status=status)
        template = "413.html" if status == 413 else "400.html"
        return render(request, template, {"reason": reason}, status=status)


class PrivatePagesMiddleware:
    """Pages whose URL is the key to someone's answers or report are neither stored nor indexed.

    Anyone holding an assessment's or a report's link can read it, so no shared cache may keep a
    copy and no search engine may list it. The start page lists this browser's own assessments.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.capability_prefixes = (
            "/assessments/",
            "/reports/",
            "/api/v1/reports/",
            f"/{settings.ADMIN_PATH}",
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path.startswith(self.capability_prefixes):
            patch_cache_control(response, private=True, no_store=True)
            response["X-Robots-Tag"] = "noindex, nofollow"
        elif request.path == "/":
            patch_cache_control(response, private=True, no_store=True)
        return response
