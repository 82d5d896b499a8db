"""Median server time of a wizard step: GET (full page), GET and POST (htmx), beside a trivial view.

Run: .venv/bin/python bench/wizard.py   (uses a throwaway SQLite database with the shipped knowledge base)
"""

from __future__ import annotations

from urllib.parse import urlencode

from common import interleaved_median_ms, setup_django

HTMX = {"HTTP_HX_REQUEST": "true"}


def main() -> None:
    setup_django()
    from django.test import Client
    from django.urls import reverse

    from advisor.models import Assessment

    client = Client()
    form = "application/x-www-form-urlencoded"  # the site refuses the test client's default, multipart
    client.post(reverse("advisor:start"), "", content_type=form)
    assessment = Assessment.objects.get()
    client.post(
        reverse("advisor:step", args=[assessment.id, "scope"]), "answer=remote-access", content_type=form
    )
    step = reverse("advisor:step", args=[assessment.id, "endpoints"])
    answers = iter([["managed-devices"], ["managed-devices", "unmanaged-devices"]] * 1000)

    def post_step() -> None:
        # As htmx sends a form: URL-encoded, not the test client's default multipart.
        body = urlencode({"answer": next(answers)}, doseq=True)
        response = client.post(step, body, content_type=form, **HTMX)
        assert response.status_code == 200 and "HX-Location" in response, response

    actions = {
        "step GET, full page": lambda: client.get(step),
        "step GET, htmx fragment": lambda: client.get(step, **HTMX),
        "step POST, htmx (saves the answer)": post_step,
        "review GET, full page": lambda: client.get(reverse("advisor:review", args=[assessment.id])),
        "trivial view": lambda: client.get("/healthz"),
    }
    timings = interleaved_median_ms(actions)
    trivial = timings["trivial view"]
    for name, ms in timings.items():
        print(f"{name:<38} {ms:7.3f} ms   {ms / trivial:5.2f}x trivial")


if __name__ == "__main__":
    main()
