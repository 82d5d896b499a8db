"""Reports: frozen snapshots, re-evaluation with a diff, escaping, feedback, and what the page says."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from advisor import knowledge, reports
from advisor.models import Assessment, Feedback, Option, Protocol, Question, Rating, Report, ReportPDF

pytestmark = pytest.mark.django_db


def issue(slug: str = "site-to-site", **cover) -> Report:
    kb = knowledge.current()
    return reports.issue(kb, kb.profile(slug).answers, **cover)


def page(client, report: Report) -> str:
    response = client.get(reverse("advisor:report", args=[report.id]))
    assert response.status_code == 200
    return response.content.decode()


def assert_contents_number_their_sections(body: str) -> None:
    """The contents list counts from its `start`, and each entry's number is its section heading's."""
    toc = body[body.index('<nav class="toc"') : body.index("</nav>", body.index('<nav class="toc"'))]
    start = int(re.search(r'<ol start="(\d+)">', toc).group(1))
    for number, anchor in enumerate(re.findall(r'<a href="#([a-z]+)">', toc), start=start):
        section = body[body.index(f'id="{anchor}"') :]
        heading = re.search(r"<h2[^>]*>([^<]+)</h2>", section).group(1)
        assert heading.startswith(f"{number}. "), (anchor, number, heading)


def test_report_page_carries_every_section(client):
    body = page(client, issue("remote-access-managed"))
    for heading in (
        "1. Recommendation",
        "2. Why this design",
        "3. What to configure",
        "4. What would change the answer",
        "5. Warnings and where sources disagree",
        "6. How every option scores",
        "7. Appendix",
    ):
        assert heading in body
    for anchor in ("why", "configure", "changes", "warnings", "scores", "appendix"):
        assert f'<a href="#{anchor}">' in body and f'id="{anchor}"' in body, "contents link to every section"
    assert "Assumptions made for open questions" not in body, "every question was answered"
    assert_contents_number_their_sections(body)
    assert "IPsec ESP, tunnel mode (IKEv2)" in body
    assert "<svg" in body and "<rect" in body
    assert "Remote access: IPsec or an SSL/TLS VPN?" in body
    assert "RFC 7296" in body and "https://www.rfc-editor.org/rfc/rfc7296" in body


def test_layered_report_names_both_layers_and_their_guidance(client):
    body = page(client, issue("high-assurance-two-layers"))
    assert "Outer layer" in body and "Inner layer" in body
    assert "IPsec ESP, tunnel mode (IKEv2) with TLS 1.3 / 1.2" in body
    assert "demands two independent layers" in body


def test_report_of_a_compound_case_has_a_part_per_flow_with_its_own_guidance(client):
    report = issue("sites-and-customer-portal")
    body = page(client, report)
    assert "Part 1: Link between sites" in body and "Part 2: Public service" in body
    site, portal = report.result["parts"]
    assert site["guidance"] and portal["guidance"]
    kb = knowledge.current()
    items = {item.slug: item for item in kb.guidance}
    for row in portal["guidance"]:
        item = items[row["slug"]]
        assert not item.protocols or "tls" in item.protocols, row["title"]
        assert ("far-end", "own") not in item.when_all | item.when_any, "the far end is a site-link answer"
    assert any("ike" in row["slug"] for row in site["guidance"])
    assert report.primary_name == "IPsec ESP, tunnel mode (IKEv2) + TLS 1.3 / 1.2"


def test_each_part_states_its_post_quantum_readiness(client):
    report = issue("high-assurance-two-layers")
    (part,) = report.result["parts"]
    assert part["post_quantum"]["urgency"]["slug"] == "pq-urgency-cnsa"
    assert [item["slug"] for item in part["post_quantum"]["mechanisms"]] == [
        "pq-ikev2-additional-key-exchange",
        "pq-tls-hybrid-key-exchange",
    ]
    body = page(client, report)
    assert "Post-quantum readiness: required on a deadline (CNSA 2.0)." in body
    assert "RFC 9370" in body and "RFC 10024" in body


def test_open_questions_appear_as_assumptions_in_the_report(client):
    answers = {**knowledge.current().profile("site-to-site").answers, "path": ("unknown",)}
    report = reports.issue(knowledge.current(), answers)
    body = page(client, report)
    summary = body[body.index('id="summary"') : body.index('id="why"')]
    assert "Assumptions made for open questions" in summary, "the main assumptions open the report"
    assert "Network path" in body and "TCP 443" in body


def test_a_report_issued_before_designs_had_parts_renders_as_issued(client):
    """Snapshots of the first format keep their own template: an old report never changes."""
    report = issue()
    part = report.result["parts"][0]
    report.result = {
        "primary": part["primary"],
        "runner_up": part["runner_up"],
        "margin": part["margin"],
        "knowledge_base_version": report.knowledge_base_version,
        "layering": None,
        "ranking": part["ranking"],
        "excluded": part["excluded"],
        "weights": part["weights"],
        "sensitivity": part["sensitivity"],
        "answer_changes": [],
        "warnings": [],
        "answers": report.result["answers"],
        "ignored_answers": [],
        "unknown": [],
        "guidance": [
            {
                "protocol": part["primary"],
                "summary": "Joins networks.",
                "configuration": ["Use IKEv2 only."],
                "ports": "UDP 500",
                "strengths": [],
                "limitations": ["Old limitation."],
                "references": [],
            }
        ],
    }
    report.save()
    body = page(client, report)
    assert "2. Why" in body and "6. Implementation checklist: IPsec ESP, tunnel mode (IKEv2)" in body
    assert "Use IKEv2 only." in body


def test_report_survives_admin_edits(client, staff_client):
    report = issue()
    before = page(client, report)
    protocol = Protocol.objects.get(slug="ipsec-esp-tunnel")
    Protocol.objects.filter(pk=protocol.pk).update(name="Renamed protocol")
    Option.objects.filter(question__slug="scope", slug="site-link").update(label="Renamed option")
    rating = Rating.objects.get(protocol=protocol, criterion__slug="site-to-site")
    rating.score = 0
    rating.save()
    stored = Report.objects.get(pk=report.pk)
    assert stored.result == report.result and stored.answers == report.answers
    after = page(client, stored)
    assert "Renamed protocol" not in after and "Renamed option" not in after
    assert "IPsec ESP, tunnel mode (IKEv2)" in after
    assert "The knowledge base has changed since this report" in after
    assert "The knowledge base has changed" not in before


def test_reevaluation_makes_a_new_report_and_shows_what_changed(client):
    report = issue()
    rating = Rating.objects.get(protocol__slug="ipsec-esp-tunnel", criterion__slug="site-to-site")
    rating.score = 0
    rating.save()
    response = client.post(reverse("advisor:reevaluate", args=[report.id]))
    fresh = Report.objects.exclude(pk=report.pk).get()
    assert response["Location"] == reverse("advisor:report", args=[fresh.id])
    assert fresh.previous == report
    assert fresh.knowledge_base_version == report.knowledge_base_version + 1
    body = page(client, fresh)
    assert "What changed since the report of" in body
    change = reports.diff(report, fresh)
    tunnel = next(row for row in change["rows"] if row["name"] == "IPsec ESP, tunnel mode (IKEv2)")
    assert tunnel["delta"] < 0
    assert f"{tunnel['delta']:.1f}" in body
    assert Report.objects.get(pk=report.pk).result == report.result


def test_reevaluation_explains_when_the_questions_changed(client):
    report = issue()
    Question.objects.filter(slug="volume").delete()
    response = client.post(reverse("advisor:reevaluate", args=[report.id]), follow=True)
    assert "no longer fit" in response.content.decode()
    assert Report.objects.count() == 1


@pytest.mark.parametrize(
    "text", ['<img src="http://127.0.0.1:1/x">', "file:///etc/passwd", "<script>alert(1)</script>"]
)
def test_user_text_on_the_cover_is_escaped(client, text):
    body = page(client, issue(title=text, organisation=text))
    assert escape(text) in body
    if "<" in text:
        assert text not in body


def test_cover_fields_are_validated_without_losing_anything(client):
    client.post(reverse("advisor:start"), {"profile": "email"})
    assessment = Assessment.objects.get()
    response = client.post(
        reverse("advisor:review", args=[assessment.id]), {"title": "x" * 121, "organisation": "ACME"}
    )
    body = response.content.decode()
    assert "at most 120 characters" in body
    assert 'value="ACME"' in body
    assert not Report.objects.exists()
    response = client.post(
        reverse("advisor:review", args=[assessment.id]), {"title": "Mail relay", "organisation": "ACME"}
    )
    report = Report.objects.get()
    assert (report.title, report.organisation) == ("Mail relay", "ACME")
    assert "Mail relay" in page(client, report)


def test_feedback_is_stored(client):
    report = issue()
    response = client.post(
        reverse("advisor:feedback", args=[report.id]), {"agrees": "no", "comment": "We have CGNAT."}
    )
    assert response.status_code == 302
    feedback = Feedback.objects.get()
    assert (feedback.agrees, feedback.comment, feedback.report) == (False, "We have CGNAT.", report)


def test_feedback_without_a_verdict_keeps_the_comment(client):
    report = issue()
    response = client.post(reverse("advisor:feedback", args=[report.id]), {"comment": "Half a thought"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Choose yes or no." in body and "Half a thought" in body
    assert not Feedback.objects.exists()


def test_feedback_thanks_and_errors_appear_beside_the_form_without_javascript(client):
    report = issue()
    url = reverse("advisor:feedback", args=[report.id])
    invalid = client.post(url, {"comment": "Half a thought"}).content.decode()
    assert f'action="{url}#feedback"' in invalid, "the browser comes back to the form, not the page top"
    form = invalid[invalid.index('id="feedback"') :]
    assert '<div class="error-summary" role="alert">' in form and "Choose yes or no." in form
    sent = client.post(url, {"agrees": "yes"}, follow=True)
    assert sent.redirect_chain[-1][0].endswith("?feedback=sent#feedback")
    body = sent.content.decode()
    section = body[body.index('id="feedback"') :]
    assert 'role="status">Thank you.' in section
    assert "Thank you." not in body[: body.index('id="feedback"')], "not at the top, far from the form"


def test_feedback_with_htmx_swaps_the_form_for_its_errors_or_the_thanks(client):
    report = issue()
    url = reverse("advisor:feedback", args=[report.id])
    invalid = client.post(url, {"comment": "Half a thought"}, HTTP_HX_REQUEST="true")
    body = invalid.content.decode()
    assert invalid.status_code == 200 and "<html" not in body
    assert body.lstrip().startswith('<section class="feedback" id="feedback"')
    assert "Choose yes or no." in body and "Half a thought" in body
    sent = client.post(url, {"agrees": "no", "comment": "CGNAT"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in sent and 'role="status">Thank you.' in sent and "<form" not in sent
    assert Feedback.objects.get().comment == "CGNAT"


def test_unknown_report_is_404(client):
    assert client.get("/reports/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_chart_shows_the_criteria_that_separate_the_pick_from_the_runner_up():
    part = issue().result["parts"][0]
    chart = reports.chart(part)
    pick, runner_up = part["ranking"][0], part["ranking"][1]
    rival = {c["criterion"]: c["points"] for c in runner_up["contributions"]}
    gaps = sorted((abs(c["points"] - rival[c["criterion"]]) for c in pick["contributions"]), reverse=True)
    assert (chart["pick"], chart["runner_up"]) == (pick["protocol"]["name"], runner_up["protocol"]["name"])
    assert 0 < len(chart["rows"]) <= reports.DECIDERS_SHOWN
    assert [row["gap"] for row in chart["rows"]] == pytest.approx(gaps[: len(chart["rows"])], abs=0.01)
    assert max(max(row["pick_length"], row["runner_up_length"]) for row in chart["rows"]) == 100


def test_full_contribution_table_adds_up_to_each_total():
    part = issue().result["parts"][0]
    table = reports.chart(part)["table"]
    assert len(table) == len(part["ranking"][0]["contributions"])
    for column, row in enumerate(part["ranking"]):
        assert sum(criterion["points"][column] for criterion in table) == pytest.approx(row["total"], abs=0.1)


def test_chart_of_a_lone_protocol_shows_its_strongest_criteria():
    part = issue().result["parts"][0]
    lone = {**part, "ranking": part["ranking"][:1]}
    chart = reports.chart(lone)
    assert chart["runner_up"] is None
    points = [row["pick_points"] for row in chart["rows"]]
    assert points == sorted(points, reverse=True) and points[0] > 0


def pdf_url(report: Report, paper: str = "") -> str:
    return reverse("advisor:report_pdf", args=[report.id]) + (f"?paper={paper}" if paper else "")


def test_pdf_download_is_an_attachment_served_from_storage_afterwards(client, monkeypatch):
    from advisor import pdf

    report = issue(title="Branch offices")
    first = client.get(pdf_url(report))
    assert first.status_code == 200
    assert first["Content-Type"] == "application/pdf"
    disposition = first["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"protocol-advisor-branch-offices-{report.created_at:%Y-%m-%d}.pdf" in disposition
    body = b"".join(first.streaming_content)
    assert body.startswith(b"%PDF")

    def must_not_render(*args, **kwargs):
        raise AssertionError("a stored PDF was rendered again")

    monkeypatch.setattr(pdf, "layout", must_not_render)
    again = client.get(pdf_url(report))
    assert b"".join(again.streaming_content) == body
    letter = client.get(pdf_url(report, "legal"))
    assert letter.status_code == 400
    assert "A4 or US Letter" in letter.content.decode()


def test_failed_pdf_keeps_the_report_and_offers_a_retry(client, monkeypatch):
    from advisor import pdf

    report = issue()
    layout = pdf.layout

    def broken(*args, **kwargs):
        raise RuntimeError("font cache unavailable")

    monkeypatch.setattr(pdf, "layout", broken)
    response = client.get(pdf_url(report, "letter"))
    assert response.status_code == 503
    body = response.content.decode()
    assert "could not be produced" in body and "Try the PDF again" in body
    assert "IPsec ESP, tunnel mode (IKEv2)" in body
    stored = ReportPDF.objects.get(report=report, paper="letter")
    assert stored.status == ReportPDF.Status.FAILED and "font cache unavailable" in stored.error

    monkeypatch.setattr(pdf, "layout", layout)
    retry = client.post(reverse("advisor:report_pdf_retry", args=[report.id]), {"paper": "letter"})
    assert retry["Location"] == pdf_url(report, "letter")
    assert client.get(retry["Location"]).status_code == 200
    assert ReportPDF.objects.get(report=report, paper="letter").status == ReportPDF.Status.READY


def test_a_stalled_render_can_be_retried(client):
    report = issue()
    stuck = ReportPDF.objects.create(report=report, paper="a4")
    ReportPDF.objects.filter(pk=stuck.pk).update(requested_at=timezone.now() - timedelta(hours=1))
    response = client.get(pdf_url(report))
    assert response.status_code == 503 and "Try the PDF again" in response.content.decode()
    client.post(reverse("advisor:report_pdf_retry", args=[report.id]), {"paper": "a4"})
    assert client.get(pdf_url(report)).status_code == 200
