"""Who is asking: the client address that rate limits and login lockouts count against."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind our TLS proxy the address that proxy saw.

    Only the last X-Forwarded-For entry is trusted: it is the one our proxy appended; any earlier
    entry came from the client and could name anyone.
    """
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"
