"""Rate limits per client address, counted by django-ratelimit in the shared cache.

Each group has its rate in settings.RATE_LIMITS. Only the actions that create something or cost
real work are limited: starting assessments, issuing and re-evaluating reports, rendering PDFs,
feedback and the API. Answering steps and reading pages are not.
"""

from __future__ import annotations

import threading

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from ninja.throttling import BaseThrottle


def seconds_to_wait(request: HttpRequest, group: str) -> int | None:
    """Count this request in `group`; None while within the limit, else the seconds until it resets."""
    usage = get_usage(request, group=group, key="ip", rate=settings.RATE_LIMITS[group], increment=True)
    if usage is None or not usage["should_limit"]:
        return None
    return max(1, usage["time_left"])


class ApiThrottle(BaseThrottle):
    """The API's limit, through the same counters as the site's, so ninja answers 429 with Retry-After.

    ninja asks `wait()` right after `allow_request()` in the same thread, on one shared instance:
    the answer is kept per thread.
    """

    def __init__(self) -> None:
        self.local = threading.local()

    def allow_request(self, request: HttpRequest) -> bool:
        self.local.retry_after = seconds_to_wait(request, "api")
        return self.local.retry_after is None

    def wait(self) -> float | None:
        return getattr(self.local, "retry_after", None)
