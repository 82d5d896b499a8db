"""The admin works in a real browser under the strict Content Security Policy."""

from __future__ import annotations

import pytest
from django.urls import reverse

from advisor.models import Criterion, Protocol, Question, Rating

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def maintainer(django_user_model):
    return django_user_model.objects.create_superuser("maintainer", "m@example.org", "a-long-test-password")


def sign_in(page, live_server) -> None:
    page.goto(live_server.url + reverse("admin:login"))
    page.fill("#id_username", "maintainer")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.wait_for_url(live_server.url + reverse("admin:index"))


def test_protocol_page_shows_ratings_inline_without_policy_violations(
    page, live_server, maintainer, reload_kb
):
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    sign_in(page, live_server)
    protocol = Protocol.objects.get(slug="ipsec-esp-tunnel")
    page.goto(live_server.url + reverse("admin:advisor_protocol_change", args=[protocol.pk]))
    assert page.locator("h1").inner_text() == "Change protocol"
    rows = page.locator("#ratings-group tbody tr.form-row.has_original")
    assert rows.count() == Criterion.objects.count()
    all_rows = page.locator("#ratings-group tbody tr.form-row")
    before = all_rows.count()
    page.locator("#ratings-group .add-row a").click()
    assert all_rows.count() == before + 1
    assert violations == []


def test_a_problem_links_to_the_page_that_fixes_it(page, live_server, maintainer, reload_kb):
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    Criterion.objects.create(
        slug="trial-criterion", name="Trial criterion", description="Added for the test."
    )
    sign_in(page, live_server)
    banner = page.locator(".integrity-problems")
    assert "The knowledge base has 1 problem to fix" in banner.inner_text()
    banner.get_by_role("link", name="Criterion “Trial criterion”").click()
    assert page.locator("h1").inner_text() == "Change criterion"
    prefilled = page.locator("#ratings-group tbody tr.form-row:not(.empty-form) select[name$='-protocol']")
    assert prefilled.count() == Protocol.objects.count()
    assert violations == []


def test_the_option_inline_fits_its_box_at_1280_px(page, live_server, maintainer, reload_kb):
    """Every column of a question's options, up to “I don't know”, the effects and delete, is on screen."""
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, live_server)
    question = Question.objects.get(slug="scope")
    page.goto(live_server.url + reverse("admin:advisor_question_change", args=[question.pk]))
    group = page.locator("#options-group").bounding_box()
    assert group["x"] + group["width"] <= 1280
    row = page.locator("#options-group tbody tr.has_original").first
    for cell in (
        "td.field-order",
        "td.field-label",
        "td.field-is_unknown",
        "td.field-flow",
        "td.field-effects",
        "td.delete",
    ):
        box = row.locator(cell).bounding_box()
        assert box is not None and box["width"] > 0, cell
        assert box["x"] >= group["x"] and box["x"] + box["width"] <= group["x"] + group["width"] + 1, cell
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_a_preview_in_the_browser_keeps_the_typed_value_and_saves_nothing(
    page, live_server, maintainer, reload_kb
):
    rating = Rating.objects.get(protocol__slug="ipsec-esp-tunnel", criterion__slug="site-to-site")
    sign_in(page, live_server)
    page.goto(live_server.url + reverse("admin:advisor_rating_change", args=[rating.pk]))
    page.fill("#id_score", "0")
    page.get_by_role("button", name="Preview impact").click()
    preview = page.locator(".impact-preview")
    assert "Impact preview: nothing is saved yet" in preview.inner_text()
    assert preview.locator("tr.pick-changed").count() >= 1
    assert page.input_value("#id_score") == "0"
    assert Rating.objects.get(pk=rating.pk).score == rating.score
