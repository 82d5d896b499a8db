"""Decision records: Markdown for people, JSON for tools, from the report's snapshot and nothing else."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from advisor import decision, knowledge, reports
from advisor.models import Option, Protocol, Report

pytestmark = pytest.mark.django_db


def issue(slug: str = "sites-and-customer-portal", **answers) -> Report:
    kb = knowledge.current()
    return reports.issue(kb, {**kb.profile(slug).answers, **answers}, title="Head office and shop")


def record_url(report: Report, extension: str) -> str:
    return reverse("advisor:decision_record", args=[report.id, extension])


def test_the_markdown_record_has_every_section_an_auditor_files(client):
    report = issue(path=("unknown",))
    response = client.get(record_url(report, "md"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert "attachment" in response["Content-Disposition"]
    text = response.content.decode()
    for heading in (
        "# Head office and shop",
        "## Context",
        "## Decision",
        "## Assumptions",
        "## Consequences",
    ):
        assert heading in text
    assert "### Link between sites" in text and "### Public service" in text
    assert "#### Alternatives and why not" in text
    assert "**WireGuard** (runner-up)" in text
    assert "(ruled out): “All traffic between sites" in text
    assert "**Network path** (left open)" in text
    assert "**RFC 4301**" in text and "section 4.1" in text
    assert f"`{decision.answers_hash(report)}`" in text
    assert f"Knowledge base: version {report.knowledge_base_version}" in text


def test_the_json_record_matches_its_documented_schema(client):
    report = issue()
    data = json.loads(client.get(record_url(report, "json")).content)
    assert decision.DecisionRecord.model_validate(data).model_dump(mode="json") == data
    assert [part["name"] for part in data["parts"]] == ["Link between sites", "Public service"]
    assert data["parts"][0]["layers"][0]["protocol"]["slug"] == "ipsec-esp-tunnel"
    assert data["report"].endswith(reverse("advisor:report", args=[report.id]))
    api = client.get(f"/api/v1/reports/{report.id}/decision-record").json()
    assert api == data
    schema = client.get("/api/v1/openapi.json").json()
    assert "DecisionRecord" in schema["components"]["schemas"]


def test_the_answers_hash_ignores_order_and_changes_with_any_answer():
    first = issue()
    assert decision.answers_hash(first) == decision.answers_hash(issue())
    assert decision.answers_hash(first) != decision.answers_hash(issue(volume=("high",)))


def test_a_record_never_changes_when_the_knowledge_base_does(client):
    report = issue()
    before = client.get(record_url(report, "md")).content
    Protocol.objects.filter(slug="ipsec-esp-tunnel").update(name="Renamed protocol")
    Option.objects.filter(question__slug="scope", slug="site-link").update(label="Renamed option")
    assert client.get(record_url(report, "md")).content == before


def test_reports_of_the_first_format_and_unknown_ids_have_no_record(client):
    report = issue()
    report.result = {key: value for key, value in report.result.items() if key != "parts"}
    report.save()
    assert client.get(record_url(report, "md")).status_code == 404
    assert client.get(record_url(issue(), "txt")).status_code == 404
    missing = "/api/v1/reports/00000000-0000-0000-0000-000000000000/decision-record"
    assert client.get(missing).status_code == 404


def test_the_report_page_offers_the_record(client):
    report = issue()
    page = client.get(reverse("advisor:report", args=[report.id])).content.decode()
    assert record_url(report, "md") in page and record_url(report, "json") in page
