"""A database that cannot be reached: 503 pages and JSON that say so, a failing readiness probe, and a
process that serves again as soon as the database is back."""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from django.test import Client
from django.urls import reverse

from advisor.models import Assessment

pytestmark = pytest.mark.django_db


def refuse(*args, **kwargs):
    """Every query fails as it does when the database server has gone."""
    raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")


def test_readyz_reports_the_knowledge_base_version_when_ready(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ready" and response.json()["knowledge_base_version"] >= 1
    assert "no-store" in response["Cache-Control"]


def test_pages_api_and_readyz_say_unavailable_while_the_database_is_down_then_serve_again(monkeypatch):
    assessment = Assessment.objects.create(answers={"scope": ["remote-access"]})
    step = reverse("advisor:step", args=[assessment.id, "scope"])
    client = Client(raise_request_exception=False)
    assert client.get(step).status_code == 200
    monkeypatch.setattr(CursorWrapper, "execute", refuse)

    page = client.get(step)
    assert page.status_code == 503 and page["Retry-After"] == "30"
    body = page.content.decode()
    assert "unavailable for a moment" in body and "Nothing you saved before this is lost" in body
    assert "OperationalError" not in body and "Connection refused" not in body
    api = client.get("/api/v1/questions")
    assert api.status_code == 503 and "database" in json.loads(api.content)["detail"]
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200

    monkeypatch.undo()
    assert client.get("/readyz").status_code == 200
    again = client.get(step)
    assert (
        again.status_code == 200
        and 'value="remote-access" id="answer-remote-access" checked' in again.content.decode()
    )


def test_other_errors_are_a_plain_500_that_reveals_nothing(monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("secret internal detail")

    monkeypatch.setattr("advisor.views.knowledge.current", broken)
    response = Client(raise_request_exception=False).get(reverse("advisor:home"))
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body and "secret internal detail" not in body


def test_probes_answer_on_plain_http_while_pages_redirect_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get(reverse("advisor:home")).status_code == 301
