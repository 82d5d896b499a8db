from __future__ import annotations

import os
import shutil
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client
from playwright.sync_api import sync_playwright

from advisor import fixture_io, knowledge, pdf

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Every test starts from the shipped knowledge base, loaded once per session."""
    with django_db_blocker.unblock():
        fixture_io.load()


@pytest.fixture(autouse=True)
def fresh_caches(monkeypatch, request):
    """Each test rolls its database back, so version numbers repeat across tests: start caches empty.

    The shared cache (rate-limit counters) is a database table, rolled back with the rest, except
    after tests that commit: those start it empty.
    """
    monkeypatch.setattr(knowledge, "_cache", None)
    caches["default"].clear()
    marker = request.node.get_closest_marker("django_db")
    if "transactional_db" in request.fixturenames or (marker and marker.kwargs.get("transaction")):
        request.getfixturevalue("transactional_db")
        caches["shared"].clear()


class FormClient(Client):
    """The test client, posting forms URL-encoded as browsers and htmx do (the site refuses multipart)."""

    def post(self, path, data=None, content_type=None, **extra):
        if content_type is None and isinstance(data, dict):
            return super().post(
                path, urlencode(data, doseq=True), content_type="application/x-www-form-urlencoded", **extra
            )
        return super().post(
            path, data, content_type=content_type or "application/x-www-form-urlencoded", **extra
        )


@pytest.fixture
def client():
    return FormClient()


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser(
        "maintainer", "maintainer@example.org", "a-long-test-password"
    )


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def reload_kb(transactional_db):
    """Transactional tests flush the database; put the shipped knowledge base back for them."""
    if fixture_io.is_empty():
        fixture_io.load()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, driven by Playwright, with this machine's closed network in mind."""
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def is_problem(message) -> bool:
    """Console errors, and the warning Chromium gives for a header it cannot apply in full."""
    return message.type == "error" or (message.type == "warning" and "Permissions-Policy" in message.text)


@pytest.fixture
def page(browser):
    """A fresh page; the test fails if the page logged an error or broke the Content Security Policy."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', event => console.error("
        "'CSP violation: ' + event.violatedDirective + ' on ' + (event.target?.outerHTML || '').slice(0, 120)))"
    )
    page = context.new_page()
    problems: list[str] = []
    page.problems = problems  # a test that causes a violation on purpose clears it here
    page.on("console", lambda message: problems.append(message.text) if is_problem(message) else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    yield page
    context.close()
    assert problems == [], problems


@pytest.fixture
def render_count(monkeypatch) -> list[int]:
    """How many times a PDF was laid out: rendering is the expensive part that must happen once."""
    count = [0]
    layout = pdf.layout

    def counting(*args, **kwargs):
        count[0] += 1
        return layout(*args, **kwargs)

    monkeypatch.setattr(pdf, "layout", counting)
    return count
