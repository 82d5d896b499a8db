"""Secure by default: revocable sessions, required secrets, throttled admin logins, read-only share
links, refused bodies, rate limits and the headers every response carries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.urls import reverse

from advisor.models import Assessment, Feedback, Rating, Report
from tests.conftest import FormClient

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a-long-test-password"
FORM = "application/x-www-form-urlencoded"

pytestmark = pytest.mark.django_db


def settings_process(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `code` after loading the production settings with exactly `env`, in a new interpreter."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECRET_KEY", "DEBUG", "ADMIN_PATH", "DJANGO_SETTINGS_MODULE"}
    }
    environment |= {"DJANGO_SETTINGS_MODULE": "advisor.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(**extra: str) -> dict[str, str]:
    return {
        "DEBUG": "0",
        "SECRET_KEY": "x7Gq2-production-like-key-for-tests-only-4hN8pLw0rTz6bYc3vKd9",
        "ALLOWED_HOSTS": "advisor.example.org",
        "DATABASE_URL": "sqlite:///:memory:",
        **extra,
    }


def start_from(client, profile: str = "site-to-site") -> Assessment:
    client.post(reverse("advisor:start"), {"profile": profile})
    return Assessment.objects.latest("created_at")


def issue_report(client, profile: str = "site-to-site") -> Report:
    assessment = start_from(client, profile)
    response = client.post(reverse("advisor:review", args=[assessment.id]))
    assert response.status_code == 302, response
    return Report.objects.latest("created_at")


def log_in(client, username: str = "maintainer", password: str = PASSWORD):
    """The admin's own login form, as a person submits it (through django-axes)."""
    return client.post(
        reverse("admin:login"), {"username": username, "password": password, "next": reverse("admin:index")}
    )


# --- Sessions end when the admin logs out or changes the password ------------------------------------


def test_a_session_cookie_replayed_after_logout_opens_nothing(client, admin_user):
    assert log_in(client).status_code == 302
    stolen = client.cookies["sessionid"].value
    assert client.get(reverse("admin:index")).status_code == 200
    client.post(reverse("admin:logout"))
    assert not Session.objects.filter(session_key=stolen).exists()

    replay = FormClient()
    replay.cookies["sessionid"] = stolen
    response = replay.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_changing_the_password_ends_the_other_sessions(admin_user):
    laptop, phone = FormClient(), FormClient()
    log_in(laptop)
    log_in(phone)
    response = phone.post(
        reverse("admin:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "another-long-password-9",
            "new_password2": "another-long-password-9",
        },
    )
    assert response.status_code == 302
    assert phone.get(reverse("admin:index")).status_code == 200
    assert laptop.get(reverse("admin:index"))["Location"].startswith(reverse("admin:login"))


def test_sessions_are_stored_on_the_server():
    from django.conf import settings

    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"


# --- Secrets and flags ---------------------------------------------------------------------------


def test_production_without_a_secret_key_refuses_to_start_and_writes_no_key():
    key_file = ROOT / ".secret_key"
    existed = key_file.exists()
    env = production_env()
    del env["SECRET_KEY"]
    result = settings_process("", **env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set. With DEBUG off it is required" in result.stderr
    assert key_file.exists() == existed


def test_manage_py_names_the_missing_setting_in_one_line():
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DJANGO_SETTINGS_MODULE"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**env, "DEBUG": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Configuration error: SECRET_KEY is not set.")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "ture", "DEBUG='ture' is not understood"),
        ("BEHIND_PROXY", "yes please", "BEHIND_PROXY='yes please' is not understood"),
        ("SECURE_HSTS_SECONDS", "1y", "SECURE_HSTS_SECONDS='1y' is not a whole number"),
        ("RATE_LIMIT_START", "sixty", "RATE_LIMIT_START='sixty' is not a rate"),
        ("TASK_BACKEND", "celery", "TASK_BACKEND='celery' is not one of"),
    ],
)
def test_settings_refuse_values_they_do_not_understand(name, value, message):
    result = settings_process("", **production_env(**{name: value}))
    assert result.returncode != 0
    assert message in result.stderr


def test_flags_accept_the_usual_spellings():
    result = settings_process(
        "from django.conf import settings; print(settings.DEBUG, settings.BEHIND_PROXY)",
        **production_env(DEBUG=" Off ", BEHIND_PROXY="YES"),
    )
    assert result.stdout.split() == ["False", "True"], result.stderr


def test_check_deploy_finds_nothing_with_production_settings():
    result = settings_process(
        "from django.core.management import call_command; call_command('check', deploy=True)",
        **production_env(),
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout + result.stderr


def test_the_admin_path_moves_by_setting():
    result = settings_process(
        "from django.urls import reverse, resolve, Resolver404\n"
        "print(reverse('admin:index'))\n"
        "try:\n    resolve('/admin/')\nexcept Resolver404:\n    print('gone')",
        **production_env(ADMIN_PATH="/staff-7f3a/"),
    )
    assert result.stdout.split() == ["/staff-7f3a/", "gone"], result.stderr


# --- Admin logins are throttled ------------------------------------------------------------------


def test_repeated_wrong_passwords_lock_the_login_until_an_operator_resets_it(client, admin_user):
    for _ in range(4):
        assert log_in(client, password="wrong-guess").status_code == 200
    assert log_in(client, password="wrong-guess").status_code == 429  # the fifth failure locks
    locked = log_in(client)  # now even the right password is refused
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "axes_reset" not in locked.content.decode()
    assert not Session.objects.exists()
    assert FormClient().get(reverse("admin:index"))["Location"].startswith(reverse("admin:login"))

    call_command("axes_reset", verbosity=0)
    assert log_in(client).status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_lockout_is_per_user_name_and_address(client, admin_user):
    for _ in range(5):
        log_in(client, username="someone-else", password="wrong-guess")
    assert log_in(client).status_code == 302


# --- A report's permalink is read-only ------------------------------------------------------------


def test_the_owner_changes_the_answers_of_their_own_assessment(client):
    report = issue_report(client)
    body = client.get(reverse("advisor:report", args=[report.id])).content.decode()
    assert reverse("advisor:review", args=[report.assessment_id]) in body


def test_a_reader_of_the_permalink_gets_a_copy_and_the_original_stays_untouched(client):
    report = issue_report(client)
    original = Assessment.objects.get(id=report.assessment_id)
    before = dict(original.answers)

    reader = FormClient()
    page = reader.get(reverse("advisor:report", args=[report.id])).content.decode()
    assert str(report.assessment_id) not in page
    assert reverse("advisor:copy_answers", args=[report.id]) in page

    response = reader.post(reverse("advisor:copy_answers", args=[report.id]))
    copy = Assessment.objects.exclude(id=original.id).get()
    assert response["Location"] == reverse("advisor:review", args=[copy.id])
    assert copy.answer_map() == report.answer_map()
    reader.post(reverse("advisor:step", args=[copy.id, "scope"]), {"answer": "app-service"})
    original.refresh_from_db()
    assert original.answers == before
    assert reader.get(reverse("advisor:report", args=[report.id])).status_code == 200


def test_a_reader_re_evaluating_does_not_attach_a_report_to_the_owners_assessment(client):
    report = issue_report(client)
    rating = Rating.objects.get(protocol__slug="ipsec-esp-tunnel", criterion__slug="site-to-site")
    rating.score = 0
    rating.save()
    FormClient().post(reverse("advisor:reevaluate", args=[report.id]))
    fresh = Report.objects.exclude(id=report.id).get()
    assert fresh.previous_id == report.id
    assert fresh.assessment_id is None


# --- Re-evaluation without a change returns the report that exists ---------------------------------


def test_re_evaluating_an_unchanged_report_twenty_times_makes_no_new_report(client):
    report = issue_report(client)
    for _ in range(20):
        response = client.post(reverse("advisor:reevaluate", args=[report.id]))
        assert response["Location"] == reverse("advisor:report", args=[report.id])
    assert Report.objects.count() == 1


def test_re_evaluating_twice_after_a_change_returns_the_first_re_evaluation(client):
    report = issue_report(client)
    rating = Rating.objects.get(protocol__slug="ipsec-esp-tunnel", criterion__slug="site-to-site")
    rating.score = 0
    rating.save()
    first = client.post(reverse("advisor:reevaluate", args=[report.id]))["Location"]
    second = client.post(reverse("advisor:reevaluate", args=[report.id]))["Location"]
    assert first == second
    assert Report.objects.count() == 2


# --- Bodies: UTF-8 only, no multipart, capped -------------------------------------------------------


@pytest.mark.parametrize("path", ["/start/", "/", "/admin/login/"])
@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "x-no-such-charset"])
def test_a_form_in_another_charset_is_a_400_never_a_500(path, charset):
    strict = FormClient(enforce_csrf_checks=True)
    strict.cookies["csrftoken"] = "a" * 32  # self-minted, as a probe would
    body = urlencode({"csrfmiddlewaretoken": "a" * 32, "profile": "caf\xe9"}, encoding="latin-1").encode()
    response = strict.generic("POST", path, body, content_type=f"{FORM}; charset={charset}")
    assert response.status_code == 400
    assert "UTF-8" in response.content.decode()


def test_malformed_bodies_are_400s(client):
    bad_length = client.post("/start/", "profile=", content_type=FORM, CONTENT_LENGTH="many")
    assert bad_length.status_code == 400
    broken_multipart = client.post(
        "/start/", b"--x\r\nnonsense", content_type="multipart/form-data; boundary=x"
    )
    assert broken_multipart.status_code == 400


def test_the_wizard_refuses_multipart_and_keeps_the_answers(client):
    assessment = start_from(client)
    before = dict(assessment.answers)
    from django.test import Client

    response = Client().post(
        reverse("advisor:step", args=[assessment.id, "scope"]), {"answer": "app-service"}
    )
    assert response.status_code == 400
    assert "no file uploads" in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.answers == before


def test_a_20_mb_post_is_refused_before_it_is_read(client):
    response = client.post("/start/", "profile=" + "x" * (20 * 1024 * 1024), content_type=FORM)
    assert response.status_code == 413
    assert "larger than this site accepts" in response.content.decode()
    assert Assessment.objects.count() == 0


def test_a_duplicated_option_is_refused_by_the_wizard_as_by_the_api(client):
    assessment = Assessment.objects.create()
    body = "answer=remote-access&answer=remote-access"
    response = client.post(reverse("advisor:step", args=[assessment.id, "scope"]), body, content_type=FORM)
    assert response.status_code == 200
    assert "The same option was sent twice" in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.answers == {}


def test_two_answers_to_a_one_answer_question_are_refused(client):
    assessment = Assessment.objects.create(answers={"scope": ["site-link"], "endpoints": ["gateways"]})
    body = "answer=own&answer=partner"
    response = client.post(reverse("advisor:step", args=[assessment.id, "far-end"]), body, content_type=FORM)
    assert "This question takes one answer" in response.content.decode()
    assessment.refresh_from_db()
    assert "far-end" not in assessment.answers


# --- Rate limits ------------------------------------------------------------------------------------


def assert_limited(response, json: bool = False) -> None:
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    if json:
        assert response.json()["detail"]
    else:
        assert "Too many requests" in response.content.decode()


def test_starting_assessments_is_limited_per_client(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "start": "3/h"}
    for _ in range(3):
        assert client.post(reverse("advisor:start")).status_code == 302
    assert_limited(client.post(reverse("advisor:start")))
    assert Assessment.objects.count() == 3
    other_address = FormClient(REMOTE_ADDR="192.0.2.7")
    assert other_address.post(reverse("advisor:start")).status_code == 302


def test_issuing_reports_is_limited(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "report": "1/h"}
    issue_report(client)
    assessment = start_from(client, "email")
    assert_limited(client.post(reverse("advisor:review", args=[assessment.id])))
    assert Report.objects.count() == 1


def test_re_evaluating_is_limited(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "reevaluate": "1/h"}
    first, second = issue_report(client), issue_report(client, "email")
    rating = Rating.objects.get(protocol__slug="ipsec-esp-tunnel", criterion__slug="site-to-site")
    rating.score = 0
    rating.save()
    assert client.post(reverse("advisor:reevaluate", args=[first.id])).status_code == 302
    assert_limited(client.post(reverse("advisor:reevaluate", args=[second.id])))


def test_feedback_is_limited(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "feedback": "2/h"}
    report = issue_report(client)
    url = reverse("advisor:feedback", args=[report.id])
    for _ in range(2):
        client.post(url, {"agrees": "yes", "comment": "Fits our case."})
    assert_limited(client.post(url, {"agrees": "yes", "comment": "Again."}))
    assert Feedback.objects.count() == 2


def test_pdf_renders_are_limited_but_a_rendered_pdf_is_always_served(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "pdf": "1/h"}
    first, second = issue_report(client), issue_report(client, "email")
    assert client.get(reverse("advisor:report_pdf", args=[first.id])).status_code == 200
    assert client.get(reverse("advisor:report_pdf", args=[first.id])).status_code == 200
    assert_limited(client.get(reverse("advisor:report_pdf", args=[second.id])))


def test_the_api_is_limited_with_json(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api": "2/m"}
    for _ in range(2):
        assert client.get("/api/v1/questions").status_code == 200
    assert_limited(client.get("/api/v1/questions"), json=True)


def test_behind_the_proxy_the_address_it_saw_is_counted(client, settings):
    settings.BEHIND_PROXY = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "start": "1/h"}
    first = FormClient(HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.5")
    spoofing = FormClient(HTTP_X_FORWARDED_FOR="198.51.100.2, 203.0.113.5")
    other = FormClient(HTTP_X_FORWARDED_FOR="203.0.113.6")
    assert first.post(reverse("advisor:start")).status_code == 302
    assert spoofing.post(reverse("advisor:start")).status_code == 429
    assert other.post(reverse("advisor:start")).status_code == 302


# --- Headers ----------------------------------------------------------------------------------------


def capability_pages(client) -> dict[str, str]:
    report = issue_report(client)
    assessment = Assessment.objects.get(id=report.assessment_id)
    return {
        "step": reverse("advisor:step", args=[assessment.id, "scope"]),
        "review": reverse("advisor:review", args=[assessment.id]),
        "report": reverse("advisor:report", args=[report.id]),
        "pdf": reverse("advisor:report_pdf", args=[report.id]),
        "api report": f"/api/v1/reports/{report.id}/decision-record",
    }


def test_every_kind_of_response_carries_the_security_headers(client):
    pages = {"start page": "/", **capability_pages(client), "api": "/api/v1/questions"}
    for name, url in pages.items():
        response = client.get(url, secure=True)
        assert response.status_code == 200, name
        assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload", name
        assert response["X-Content-Type-Options"] == "nosniff", name
        assert response["Referrer-Policy"] == "same-origin", name
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", name
        assert response["X-Frame-Options"] == "DENY", name
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"], name
        if response["Content-Type"].startswith("text/html"):
            assert "script-src 'self' 'nonce-" in response["Content-Security-Policy"], name
        policy = response["Permissions-Policy"]
        assert "camera=()" in policy and "geolocation=()" in policy and "microphone=()" in policy, name


def test_capability_pages_are_neither_stored_nor_indexed(client):
    for name, url in capability_pages(client).items():
        response = client.get(url, secure=True)
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"], name
        assert response["X-Robots-Tag"] == "noindex, nofollow", name
    home = client.get("/", secure=True)
    assert "no-store" in home["Cache-Control"]
    assert "X-Robots-Tag" not in client.get(reverse("advisor:compare"), secure=True)
