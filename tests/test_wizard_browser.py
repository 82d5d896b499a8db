"""The wizard in real headless Chromium: with and without JavaScript, back, reload, resume, accessibility."""

from __future__ import annotations

import html

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


def full_page_title(page) -> str:
    """The title a full page load of the current address has, fetched with this browser's cookies."""
    body = page.context.request.get(page.url).text()
    return html.unescape(body.split("<title>", 1)[1].split("</title>", 1)[0])


def question_total(page) -> int:
    """The total in “Question 3 of 11” or “Question 1 of up to 17”."""
    return int(page.locator(".step-count").inner_text().rsplit(" ", 1)[1])


def check_swapped_step(page, totals: list[int]) -> None:
    """After an htmx swap: the page stayed, the title is the URL's own, focus is on the new heading."""
    assert page.evaluate("window.stayedOnPage") is True, "the step should swap, not reload the page"
    page.wait_for_function("() => document.activeElement.id === 'step-heading'", timeout=2000)
    assert page.title() == full_page_title(page)
    if "/review/" not in page.url:
        assert (
            page.locator("#wizard-status").inner_text().startswith(page.locator(".step-count").inner_text())
        )
        totals.append(question_total(page))


def test_walks_with_javascript_swap_steps_follow_titles_focus_headings_and_issue_the_right_report(
    page, live_server, reload_kb
):
    """Three shipped profiles answered by hand: each swap keeps the page, retitles it and moves focus.

    The first walk also checks a refused empty answer, the tab order and accessibility on the way.
    """
    kb = knowledge.current()
    page.goto(live_server.url + reverse("advisor:home"))
    assert_accessible(page)
    for number, slug in enumerate(["site-to-site", "contractors-unmanaged", "high-assurance-two-layers"]):
        start(page, live_server)
        assert page.title() == full_page_title(page)
        assert page.locator("button[value=back]").count() == 0, "the first step has nowhere to go back to"
        if number == 0:
            assert_accessible(page)
            url, history = page.url, page.evaluate("history.length")
            page.locator("button[value=next]").click()
            page.wait_for_selector(".error-summary")
            assert "Choose at least one answer to go on." in page.locator(".error-summary").inner_text()
            assert page.url == url
            assert page.evaluate("history.length") == history, "the refused answer adds no history entry"
            assert_accessible(page)
        page.evaluate("window.stayedOnPage = true")
        totals = [question_total(page)]
        for _ in kb.questions:
            if "/review/" in page.url:
                break
            question = kb.question(page.url.rstrip("/").rsplit("/", 1)[-1])
            if number == 0 and question.slug == "endpoints":
                page.locator(".choices input").last.focus()
                page.keyboard.press("Tab")
                assert page.evaluate("document.activeElement.value") == "next"
                page.keyboard.press("Tab")
                assert page.evaluate("document.activeElement.value") == "back", "Back comes after Continue"
                continue_box = page.locator("button[value=next]").bounding_box()
                back_box = page.locator("button[value=back]").bounding_box()
                assert continue_box["x"] < back_box["x"], "drawn in the order Tab visits them"
            answer(page, question, kb.profile(slug).answers[question.slug])
            check_swapped_step(page, totals)
        assert "/review/" in page.url
        assert page.title() == "Review your answers · Protocol Advisor"
        assert totals == sorted(totals, reverse=True), f"the question total grew while answering: {totals}"
        if number == 0:
            assert_accessible(page)
        assert issue_report(page) == design_name(kb, slug)
        if number == 0:
            assert_accessible(page)


def design_name(kb: engine.KnowledgeBase, slug: str) -> str:
    """The report's heading for a shipped profile: its design's protocols, as the experts pinned them."""
    protocols = [protocol for _, layers in SHIPPED_DESIGNS[slug] for protocol in layers]
    return " + ".join(kb.protocol(protocol).name for protocol in dict.fromkeys(protocols))


def change_from_review(page, title: str) -> None:
    """Press “Change” beside one answer on the review and wait for its step."""
    before = page.url
    page.locator(".answers a.edit", has_text=title).click()
    page.wait_for_function("url => location.href !== url", arg=before)
    page.wait_for_selector("#step-heading")


def test_changing_answers_from_the_review_returns_to_it_and_only_new_questions_are_walked(
    page, live_server, reload_kb, tmp_path
):
    kb = knowledge.current()
    page.goto(live_server.url + reverse("advisor:home"))
    page.locator("input[value=voice-between-offices] + button").click()
    page.wait_for_selector("#step-heading")
    review = page.url
    page.evaluate("window.stayedOnPage = true")
    totals: list[int] = []

    change_from_review(page, kb.question("path").title)
    check_swapped_step(page, totals)
    assert page.locator(".returning").inner_text().endswith("saving it takes you back to the review.")
    page.locator("input[value=only-443]").check()
    page.locator("button[value=next]", has_text="Save and return to review").click()
    page.wait_for_function("url => location.href === url", arg=review)
    check_swapped_step(page, totals)
    assert "Only TCP 443 passes" in page.locator(".answers").inner_text()

    change_from_review(page, kb.question("scope").title)
    page.locator("input[value=remote-access]").check()
    page.locator("button[value=next]").click()
    page.wait_for_function("() => location.pathname.endsWith('/vpn-client/')")
    check_swapped_step(page, totals)
    assert "Your change adds this question" in page.locator(".returning").inner_text()
    assert page.url.endswith("?then=review")
    for slug in ("vpn-client", "reach"):
        answer(page, kb.question(slug), (kb.question(slug).options[0].slug,))
        check_swapped_step(page, totals)
    assert page.url == review, "after the new questions, the review, without walking the others again"

    change_from_review(page, kb.question("team").title)
    page.locator("a.button", has_text="Back to review").click()
    page.wait_for_function("url => location.href === url", arg=review)
    check_swapped_step(page, totals)

    page.fill("#id_title", "Voice between Leeds and York")
    issue_report(page)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF (A4)").click()
    download = download_info.value
    assert download.suggested_filename.startswith("protocol-advisor-voice-between-leeds-and-york-")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = " ".join(page.extract_text() for page in PdfReader(saved).pages)
    assert "Voice between Leeds and York" in " ".join(text.split())


def test_without_javascript_a_full_walk_and_a_change_from_the_review_work(browser, live_server, reload_kb):
    kb = knowledge.current()
    profile = kb.profile("legacy-app")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    start(page, live_server)
    walk(page, kb, dict(profile.answers))
    review = page.url
    change_from_review(page, kb.question("team").title)
    assert page.title().startswith(f"{kb.question('team').title}: question ")
    assert page.locator("button[value=next]").inner_text() == "Save and return to review"
    page.locator("button[value=next]").click()
    page.wait_for_url(review)
    assert issue_report(page) == design_name(kb, "legacy-app")
    context.close()


def test_browser_back_reload_resume_and_the_back_button_keep_the_answers(
    page, browser, live_server, reload_kb
):
    """Also: a style another tool puts on the page is not carried into the next step.

    htmx copies settled attributes onto the new step; a copied style attribute would break the CSP,
    and the page fixture fails the test on any CSP violation logged by the browser.
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

    page.go_back()
    page.wait_for_function("() => location.pathname.endsWith('/far-end/')")
    page.wait_for_selector("#step-heading")
    assert page.locator("#step-heading").inner_text() == kb.question("far-end").text
    assert page.title() == full_page_title(page)
    assert page.locator("input[value=own]").is_checked()
    page.reload()
    assert page.locator("input[value=own]").is_checked()
    page.locator("button[value=back]").click()
    page.wait_for_function("() => location.pathname.endsWith('/endpoints/')")
    page.wait_for_selector("input[value=gateways]:checked")
    assert page.title() == full_page_title(page)

    address = page.url
    other = browser.new_context()
    fresh = other.new_page()
    fresh.goto(address)
    assert fresh.locator("#step-heading").inner_text() == kb.question("endpoints").text
    fresh.locator(".progress a", has_text="What to protect").click()
    fresh.wait_for_function("() => location.pathname.endsWith('/scope/')")
    fresh.wait_for_selector("input[value=site-link]:checked")
    assert fresh.locator("button[value=back]").count() == 0
    other.close()


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
