"""An admin edit that breaks the knowledge base never takes the public site down."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from advisor import knowledge
from advisor.models import Assessment, Criterion, Protocol, Rating, Report

pytestmark = pytest.mark.django_db

PAGES = ["/", "/compare/", "/api/v1/questions", "/api/v1/profiles", "/admin/advisor/usecaseprofile/check/"]


def add_unrated_criterion() -> Criterion:
    return Criterion.objects.create(slug="post-quantum", name="Post-quantum readiness", description="PQ.")


def rate_on_every_protocol(criterion: Criterion) -> None:
    for protocol in Protocol.objects.all():
        Rating.objects.create(
            protocol=protocol, criterion=criterion, score=3, rationale="Rated for the test."
        )


@pytest.mark.parametrize("url", PAGES)
def test_a_criterion_without_ratings_does_not_take_pages_down(staff_client, url):
    assert staff_client.get(url).status_code == 200
    add_unrated_criterion()
    assert staff_client.get(url).status_code == 200


@pytest.mark.parametrize("url", PAGES)
def test_a_process_started_after_the_breaking_edit_serves_too(staff_client, url):
    add_unrated_criterion()
    assert staff_client.get(url).status_code == 200


def test_the_site_keeps_serving_the_last_good_snapshot_and_logs_why(caplog):
    good = knowledge.current()
    add_unrated_criterion()
    with caplog.at_level(logging.WARNING, logger="advisor.knowledge"):
        assert knowledge.current() is good
    (record,) = [r for r in caplog.records if r.name == "advisor.knowledge"]
    assert record.levelno == logging.WARNING
    assert f"serving version {good.version}, the newest without problems" in record.getMessage()
    assert "Criterion “Post-quantum readiness”: Not rated for “TLS 1.3" in record.getMessage()
    assert knowledge.state().live.version == good.version + 1
    assert [p.code for p in knowledge.state().problems] == ["rating-missing"]


def test_a_fresh_process_serves_a_repaired_snapshot_and_logs_why(monkeypatch, caplog):
    add_unrated_criterion()
    monkeypatch.setattr(knowledge, "_cache", None)
    with caplog.at_level(logging.WARNING, logger="advisor.knowledge"):
        kb = knowledge.current()
    assert "post-quantum" not in {c.slug for c in kb.criteria}
    assert len(kb.criteria) == Criterion.objects.count() - 1
    assert kb.version == knowledge.state().live.version
    assert "serving a repaired copy without what is broken" in caplog.text


def test_problems_are_logged_once_per_version(caplog):
    knowledge.current()
    add_unrated_criterion()
    with caplog.at_level(logging.WARNING, logger="advisor.knowledge"):
        for _ in range(3):
            knowledge.current()
    assert len([r for r in caplog.records if r.name == "advisor.knowledge"]) == 1


def test_once_fixed_the_knowledge_base_is_served_as_it_is(caplog):
    knowledge.current()
    criterion = add_unrated_criterion()
    rate_on_every_protocol(criterion)
    kb = knowledge.current()
    assert "post-quantum" in {c.slug for c in kb.criteria}
    assert kb is knowledge.state().live and knowledge.state().problems == ()


def test_a_report_issued_from_the_last_good_snapshot_is_not_called_outdated(client):
    knowledge.current()
    add_unrated_criterion()
    client.post(reverse("advisor:start"), {"profile": "site-to-site"})

    response = client.post(reverse("advisor:review", args=[Assessment.objects.get().id]), follow=True)
    report = Report.objects.get()
    assert report.knowledge_base_version == knowledge.current().version
    assert "The knowledge base has changed since this report" not in response.content.decode()


def test_check_profiles_says_which_version_it_checks_while_the_newest_has_problems(staff_client, monkeypatch):
    knowledge.current()
    add_unrated_criterion()
    page = staff_client.get("/admin/advisor/usecaseprofile/check/").content.decode()
    assert "these checks run on version 1" in page
    monkeypatch.setattr(knowledge, "_cache", None)
    page = staff_client.get("/admin/advisor/usecaseprofile/check/").content.decode()
    assert "these checks run on it without what is broken" in page
