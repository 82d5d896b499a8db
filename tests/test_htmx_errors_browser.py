"""A wizard request that fails is explained beside the form, in real headless Chromium, and nothing chosen is lost."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from advisor import knowledge, views
from tests.test_wizard_browser import start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SERVER_ERROR = "Something went wrong on the server. Nothing you saved before is lost: try again."
TOKEN_EXPIRED = (
    "This page's security token has expired or your session has changed. "
    "Reload the page and answer this step again: the answers you saved before are kept."
)
REFUSALS = {
    400: "The server refused the request as malformed or too large. Reload the page and try again.",
    429: "Too many requests came from your network in a short time. Wait a minute, then try again.",
    503: "The service is unavailable for a moment. Nothing you saved before is lost: wait a moment, then try again.",
}
UNREACHABLE = "The server could not be reached. Check your connection, then try again."


def refused(status: int, path: str) -> list[str]:
    """The console errors Chromium and htmx log when the server answers a wizard request with `status`."""
    return [
        f"Failed to load resource: the server responded with a status of {status} ({HTTPStatus(status).phrase})",
        f"Response Status Error Code {status} from {path}, [object HTMLDivElement]",
    ]


UNREACHABLE_LINES = [
    "Failed to load resource: net::ERR_FAILED",
    "htmx:afterRequest, [object HTMLDivElement]",
    "htmx:sendError, [object HTMLDivElement]",
]


def clear_expected(page, lines: list[str]) -> None:
    """Drop exactly the console errors this test caused on purpose, so any other error still fails it.

    Console messages reach the test a little after the page shows the alert, so wait for each one.
    """
    for line in lines:
        for _ in range(50):
            if line in page.problems:
                break
            page.wait_for_timeout(100)
        assert line in page.problems, (line, page.problems)
        page.problems.remove(line)


def answering(status: int):
    """A route handler that answers every request with `status` and an empty body."""
    return lambda route: route.fulfill(status=status, headers={"Retry-After": "60"}, body="")


def boom(*args, **kwargs):
    raise RuntimeError("the database went away")


def press_continue(page) -> None:
    page.locator("button[value=next]").click()


def assert_still_on_the_step(page, url: str, option: str) -> None:
    """The failed request left the step as it was: same address, one alert, the choice still made."""
    expect(page.locator("#request-error")).to_have_attribute("role", "alert")
    assert page.get_by_role("alert").count() == 1, "a second failure reuses the one message"
    assert page.url == url
    assert page.locator(f"input[value={option}]").is_checked()


def test_each_failed_request_is_explained_beside_the_form_and_nothing_chosen_is_lost(
    page, live_server, reload_kb
):
    """One walk through every kind of failure: refusals, no connection, a server error, an expired token."""
    kb = knowledge.current()
    start(page, live_server)
    url = page.url
    path = urlparse(url).path
    alert = page.locator("#request-error")
    page.locator("input[value=site-link]").check()

    for status, message in sorted(REFUSALS.items()):
        page.route(url, answering(status))
        press_continue(page)
        expect(alert).to_have_text(message)
        clear_expected(page, refused(status, path))
        page.unroute(url)
        assert_still_on_the_step(page, url, "site-link")

    page.route(url, lambda route: route.abort())
    press_continue(page)
    expect(alert).to_have_text(UNREACHABLE)
    clear_expected(page, UNREACHABLE_LINES)
    page.unroute(url)
    assert_still_on_the_step(page, url, "site-link")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(views, "_save_answer", boom)
        press_continue(page)
        expect(alert).to_have_text(SERVER_ERROR)
        clear_expected(page, refused(500, path))
        press_continue(page)
        clear_expected(page, refused(500, path))
    assert_still_on_the_step(page, url, "site-link")
    assert page.locator("#step-heading").inner_text() == kb.question("scope").text

    press_continue(page)
    page.wait_for_function("url => location.href !== url", arg=url)
    expect(page.locator("#step-heading")).to_have_text(kb.question("endpoints").text)
    expect(alert).to_have_count(0)
    page.wait_for_function("() => document.activeElement.id === 'step-heading'", timeout=2000)

    url = page.url
    page.locator("input[value=gateways]").check()
    page.context.clear_cookies(name="csrftoken")
    press_continue(page)
    expect(page.get_by_role("alert")).to_have_text(TOKEN_EXPIRED)
    clear_expected(page, refused(403, urlparse(url).path))
    assert_still_on_the_step(page, url, "gateways")

    page.reload()
    expect(page.get_by_role("alert")).to_have_count(0)
    page.locator("input[value=gateways]").check()
    press_continue(page)
    page.wait_for_function("url => location.href !== url", arg=url)
    expect(page.locator("#step-heading")).to_have_text(kb.question("far-end").text)
