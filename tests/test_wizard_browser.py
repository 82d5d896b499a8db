"""The wizard in real headless Chromium: with and without JavaScript, back, reload, resume, accessibility."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from pypdf import PdfReader

from advisor import engine, knowledge
from tests.shipped import SHIPPED_DESIGNS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BLOCKING_IMPACTS = {"serious", "critical"}


def answer(page, question: engine.Question, options: tuple[str, ...]) -> None:
    """Choose exactly `options` on the current step and continue to whatever comes next."""
    assert page.locator("#step-heading").inner_text() == question.text
    for box in page.locator(".choices input").all():
        wanted = box.get_attribute("value") in options
        if wanted != box.is_checked():
            box.check() if wanted else box.uncheck()
    before = page.url
    page.locator("button[value=next]").click()
    page.wait_for_function("url => location.href !== url", arg=before)
    page.wait_for_selector("#step-heading")


def walk(page, kb: engine.KnowledgeBase, answers: dict[str, tuple[str, ...]]) -> None:
    """Answer every question the way `answers` says, as a person would, until the review page."""
    for _ in kb.questions:
        if "/review/" in page.url:
            return
        slug = page.url.rstrip("/").rsplit("/", 1)[-1]
        answer(page, kb.question(slug), answers[slug])
    assert "/review/" in page.url


def start(page, live_server) -> None:
    page.goto(live_server.url + reverse("advisor:home"))
    page.locator("button.large").click()
    page.wait_for_selector("#step-heading")


def issue_report(page) -> str:
    page.get_by_role("button", name="See recommendation").click()
    page.wait_for_selector("#report-heading")
    return page.locator("#report-heading").inner_text()


def assert_accessible(page) -> None:
    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]
    assert blocking == [], [(v["id"], v["impact"], v["nodes"][0]["html"]) for v in blocking]


@pytest.mark.parametrize("slug", ["site-to-site", "contractors-unmanaged", "high-assurance-two-layers"])
def test_full_walk_with_javascript(page, live_server, reload_kb, slug):
    kb = knowledge.current()
    profile = kb.profile(slug)
    start(page, live_server)
    walk(page, kb, dict(profile.answers))
    assert issue_report(page) == design_name(kb, slug)


def design_name(kb: engine.KnowledgeBase, slug: str) -> str:
    """The report's heading for a shipped profile: its design's protocols, as the experts pinned them."""
    protocols = [protocol for _, layers in SHIPPED_DESIGNS[slug] for protocol in layers]
    return " + ".join(kb.protocol(protocol).name for protocol in dict.fromkeys(protocols))


def test_steps_swap_in_place_and_focus_the_new_question(page, live_server, reload_kb):
    kb = knowledge.current()
    start(page, live_server)
    page.evaluate("window.stayedOnPage = true")
    answer(page, kb.question("scope"), ("site-link",))
    assert page.evaluate("window.stayedOnPage") is True, "the step should swap, not reload the page"
    page.wait_for_function("() => document.activeElement.id === 'step-heading'", timeout=2000)
    assert page.locator("#wizard-status").inner_text().startswith("Step 2 of")


def test_full_walk_without_javascript(browser, live_server, reload_kb):
    kb = knowledge.current()
    profile = kb.profile("legacy-app")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    start(page, live_server)
    walk(page, kb, dict(profile.answers))
    assert issue_report(page) == design_name(kb, "legacy-app")
    context.close()


def test_browser_back_and_reload_keep_the_answers(page, live_server, reload_kb):
    kb = knowledge.current()
    start(page, live_server)
    answer(page, kb.question("scope"), ("remote-access",))
    answer(page, kb.question("endpoints"), ("managed-devices", "unmanaged-devices"))
    page.go_back()
    page.wait_for_function("() => location.pathname.endsWith('/endpoints/')")
    page.wait_for_selector("#step-heading")
    assert page.locator("#step-heading").inner_text() == kb.question("endpoints").text
    assert page.locator("input[value=managed-devices]").is_checked()
    page.reload()
    assert page.locator("input[value=unmanaged-devices]").is_checked()
    assert not page.locator("input[value=servers]").is_checked()
    page.locator("button[value=back]").click()
    page.wait_for_function("() => location.pathname.endsWith('/scope/')")
    page.wait_for_selector("input[value=remote-access]:checked")


def test_invalid_submit_explains_and_keeps_the_page(page, live_server, reload_kb):
    start(page, live_server)
    url = page.url
    page.locator("button[value=next]").click()
    page.wait_for_selector(".error-summary")
    assert "Choose at least one answer to go on." in page.locator(".error-summary").inner_text()
    assert page.url == url


def test_resume_from_the_address_in_a_fresh_browser(page, browser, live_server, reload_kb):
    kb = knowledge.current()
    start(page, live_server)
    answer(page, kb.question("scope"), ("host-link",))
    answer(page, kb.question("endpoints"), ("servers",))
    address = page.url
    other = browser.new_context()
    fresh = other.new_page()
    fresh.goto(address)
    assert fresh.locator("#step-heading").inner_text() == kb.question("far-end").text
    fresh.locator(".progress a", has_text="Endpoints").click()
    fresh.wait_for_function("() => location.pathname.endsWith('/endpoints/')")
    fresh.wait_for_selector("input[value=servers]:checked")
    other.close()


def test_start_step_review_and_result_pages_have_no_serious_accessibility_violations(
    page, live_server, reload_kb
):
    kb = knowledge.current()
    page.goto(live_server.url + reverse("advisor:home"))
    assert_accessible(page)
    page.locator("button.large").click()
    page.wait_for_selector("#step-heading")
    assert_accessible(page)
    page.locator("button[value=next]").click()
    page.wait_for_selector(".error-summary")
    assert_accessible(page)
    walk(page, kb, dict(kb.profile("apis").answers))
    assert_accessible(page)
    issue_report(page)
    assert_accessible(page)
    page.goto(live_server.url + reverse("advisor:compare"))
    assert_accessible(page)


def test_pages_fit_a_375_pixel_phone_screen(browser, live_server, reload_kb):
    kb = knowledge.current()
    context = browser.new_context(viewport={"width": 375, "height": 800})
    phone = context.new_page()

    def fits() -> None:
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375, phone.url

    phone.goto(live_server.url + reverse("advisor:home"))
    fits()
    phone.locator("button.large").click()
    phone.wait_for_selector("#step-heading")
    fits()
    walk(phone, kb, dict(kb.profile("remote-access-managed").answers))
    fits()
    issue_report(phone)
    fits()
    for query in ("", "?criterion=nat-traversal"):
        phone.goto(live_server.url + reverse("advisor:compare") + query)
        fits()
    context.close()


def test_from_review_to_report_and_pdf_download(page, live_server, reload_kb, tmp_path):
    kb = knowledge.current()
    page.goto(live_server.url + reverse("advisor:home"))
    page.locator("input[value=voice-between-offices] + button").click()
    page.wait_for_selector("#step-heading")
    page.fill("#id_title", "Voice between Leeds and York")
    assert issue_report(page) == kb.protocol("ipsec-esp-tunnel").name
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF (A4)").click()
    download = download_info.value
    assert download.suggested_filename.startswith("protocol-advisor-voice-between-leeds-and-york-")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = " ".join(page.extract_text() for page in PdfReader(saved).pages)
    assert "Voice between Leeds and York" in " ".join(text.split())


def test_a_style_another_tool_put_on_the_page_is_not_carried_into_the_next_step(page, live_server, reload_kb):
    """htmx copies settled attributes onto the new step; a copied style attribute would break the CSP.

    The page fixture fails the test on any CSP violation logged by the browser.
    """
    kb = knowledge.current()
    start(page, live_server)
    answer(page, kb.question("scope"), ("site-link",))
    answer(page, kb.question("endpoints"), ("gateways",))
    # As an extension or test tool would: through DevTools, which the page's CSP does not govern.
    devtools = page.context.new_cdp_session(page)
    root = devtools.send("DOM.getDocument")["root"]["nodeId"]
    node = devtools.send("DOM.querySelector", {"nodeId": root, "selector": "#answer-unknown"})["nodeId"]
    devtools.send("DOM.setAttributeValue", {"nodeId": node, "name": "style", "value": ""})
    page.wait_for_function("() => document.querySelector('#answer-unknown').hasAttribute('style')")
    page.wait_for_timeout(200)
    assert any("style-src-attr" in problem for problem in page.problems), "the planted style is refused"
    page.problems.clear()
    answer(page, kb.question("far-end"), ("own",))
    assert page.locator("#answer-unknown").get_attribute("style") is None
    page.wait_for_timeout(200)
    assert page.problems == [], "the swap must not carry the style into the new step"
