"""The site's own error pages: plain words and a way on, never anything internal."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.views.defaults import permission_denied

from advisor.models import Assessment

pytestmark = pytest.mark.django_db

NOT_FOUND = "There is no page at this address"
BAD_REQUEST = "That request could not be accepted"
FORBIDDEN = "You are not allowed to do that"


def text(html: str) -> str:
    return " ".join(html.split())


def assert_reveals_nothing(body: str) -> None:
    assert "Traceback" not in body
    assert "exception" not in body.lower()
    assert 'href="/"' in body, "every error page offers the start page"


def test_an_unknown_address_is_a_plain_404(client):
    response = client.get("/no-such-page-7f3a/?secret=hunter2")
    body = response.content.decode()
    assert response.status_code == 404
    assert NOT_FOUND in body
    assert_reveals_nothing(body)
    assert "no-such-page-7f3a" not in body
    assert "hunter2" not in body


def test_a_404_raised_with_a_message_does_not_show_the_message(client):
    missing = uuid.uuid4()
    response = client.get(f"/assessments/{missing}/scope/")
    body = response.content.decode()
    assert response.status_code == 404
    assert NOT_FOUND in body
    assert "No Assessment matches" not in body
    assert str(missing) not in body
    assert_reveals_nothing(body)


def test_an_unknown_question_does_not_show_the_views_reason(client):
    assessment = Assessment.objects.create()
    response = client.get(f"/assessments/{assessment.id}/no-such-question/")
    body = response.content.decode()
    assert response.status_code == 404
    assert NOT_FOUND in body
    assert "There is no such question" not in body
    assert_reveals_nothing(body)


def test_a_bad_host_header_is_a_plain_400(client):
    response = client.get("/", HTTP_HOST="bad host")
    body = response.content.decode()
    assert response.status_code == 400
    assert BAD_REQUEST in body
    assert "bad host" not in body
    assert "ALLOWED_HOSTS" not in body
    assert_reveals_nothing(body)


def test_the_400_page_gives_the_sites_own_reason_when_there_is_one():
    """The body-limits middleware passes a reason it wrote itself; Django's own 400 passes none."""
    reason = "Forms and JSON must be sent as UTF-8."
    with_reason = text(render_to_string("400.html", {"reason": reason}))
    without = text(render_to_string("400.html"))
    assert BAD_REQUEST in with_reason and reason in with_reason
    assert BAD_REQUEST in without and "was malformed, so it was refused" in without


def test_a_refusal_is_a_plain_403_without_its_reason():
    request = RequestFactory().get("/somewhere/private/")
    response = permission_denied(request, PermissionDenied("staff flag missing on user 42"))
    body = response.content.decode()
    assert response.status_code == 403
    assert FORBIDDEN in body
    assert "staff flag missing" not in body
    assert "/somewhere/private/" not in body
    assert_reveals_nothing(body)


@pytest.mark.parametrize(
    ("context", "wait"),
    [
        ({}, "Try again in a minute."),
        ({"retry_after": 1}, "Try again in 1 second."),
        ({"retry_after": 30}, "Try again in 30 seconds."),
        ({"retry_after": 60}, "Try again in a minute."),
        ({"retry_after": 600}, "Try again in about 10 minutes."),
    ],
)
def test_too_many_requests_says_how_long_to_wait(context, wait):
    body = text(render_to_string("429.html", context))
    assert "Too many requests from your network" in body
    assert wait in body
    assert_reveals_nothing(body)
