"""The admin works in a real browser under the strict Content Security Policy."""

from __future__ import annotations

import pytest
from django.urls import reverse

from advisor.models import Criterion, Protocol

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
