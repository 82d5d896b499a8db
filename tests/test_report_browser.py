"""The report page in a real browser on a phone: the deciding criteria are readable and the folds open."""

from __future__ import annotations

import pytest
from django.urls import reverse

from advisor import knowledge, reports

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_chart_labels_are_readable_at_375_px_and_folded_sections_open(page, live_server, reload_kb):
    kb = knowledge.current()
    report = reports.issue(kb, kb.profile("site-to-site").answers)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(live_server.url + reverse("advisor:report", args=[report.id]))
    labels = page.locator(".deciders .decider-name, .deciders .decider-who, .deciders .decider-points")
    assert labels.count() >= 6
    for index in range(labels.count()):
        label = labels.nth(index)
        label.scroll_into_view_if_needed()
        size = label.evaluate("element => parseFloat(getComputedStyle(element).fontSize)")
        box = label.bounding_box()
        assert size >= 12, (label.inner_text(), size)
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375, (label.inner_text(), box)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375, "nothing pushes the page sideways"
    folds = page.locator("details.fold")
    assert folds.count() >= 4
    for index in range(folds.count()):
        fold = folds.nth(index)
        assert not fold.evaluate("element => element.open")
        fold.locator("summary").click()
        assert fold.evaluate("element => element.open")
        assert fold.locator("li, tr, dt").first.is_visible()
