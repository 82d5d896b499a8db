"""This browser's assessments: the ones it started or opened through their edit link, newest first.

They sit in a signed cookie rather than in the session: they are no secret (each id is already in
the browser's history) and no login, and keeping them out of the session spares every wizard
request a database query. The signature stops a browser from claiming assessments it never saw.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from django.conf import settings
from django.http import HttpRequest, HttpResponse

COOKIE = "assessments"
SALT = "advisor.owned-assessments"
KEPT = 40  # about 1.5 KB of cookie
MAX_AGE = 180 * 24 * 3600


def ids(request: HttpRequest) -> list[str]:
    """The ids this browser holds, newest first (changes made during this request included)."""
    state = vars(request)
    if "_owned_ids" not in state:
        raw = request.get_signed_cookie(COOKIE, default="", salt=SALT, max_age=MAX_AGE) or ""
        state["_owned_ids"] = [key for key in raw.split(",") if key]
    return state["_owned_ids"]


def remember(request: HttpRequest, assessment_id: UUID) -> None:
    """Put `assessment_id` first; the middleware stores the list with the response."""
    key = str(assessment_id)
    current = ids(request)
    updated = [key, *(other for other in current if other != key)][:KEPT]
    if updated != current:
        vars(request).update(_owned_ids=updated, _owned_changed=True)


def owns(request: HttpRequest, assessment_id: UUID | None) -> bool:
    return assessment_id is not None and str(assessment_id) in ids(request)


class OwnedAssessmentsMiddleware:
    """Writes the cookie when a view changed the list."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, "_owned_changed", False):
            response.set_signed_cookie(
                COOKIE,
                ",".join(ids(request)),
                salt=SALT,
                max_age=MAX_AGE,
                secure=settings.SESSION_COOKIE_SECURE,
                httponly=True,
                samesite="Lax",
            )
        return response
