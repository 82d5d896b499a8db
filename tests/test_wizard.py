"""The wizard through Django's test client: full pages and htmx fragments, and every bad input."""

from __future__ import annotations

import html

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from advisor import engine, knowledge, owned
from advisor.models import Assessment, Report
from tests.conftest import FormClient

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def assessment():
    return Assessment.objects.create()


def step_url(assessment, slug: str) -> str:
    return reverse("advisor:step", args=[assessment.id, slug])


def review_url(assessment) -> str:
    return reverse("advisor:review", args=[assessment.id])


def test_start_creates_an_assessment_and_opens_the_first_question(client):
    response = client.post(reverse("advisor:start"))
    assessment = Assessment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == step_url(assessment, knowledge.current().questions[0].slug)
    cookie = response.cookies["assessments"]
    later = RequestFactory().get("/", HTTP_COOKIE=f"assessments={cookie.value}")
    assert owned.ids(later) == [str(assessment.id)]
    forged = RequestFactory().get("/", HTTP_COOKIE=f"assessments={assessment.id}:forged")
    assert owned.ids(forged) == []
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"
    assert "sessionid" not in response.cookies  # the wizard needs no server-side session


def test_start_from_a_profile_prefills_answers_and_opens_the_review(client):
    response = client.post(reverse("advisor:start"), {"profile": "site-to-site"})
    assessment = Assessment.objects.get()
    assert response["Location"] == review_url(assessment)
    assert assessment.answers["scope"] == ["site-link"]
    assert assessment.profile.slug == "site-to-site"


def test_start_from_an_unknown_profile_says_so(client):
    response = client.post(reverse("advisor:start"), {"profile": "nope"}, follow=True)
    assert "no longer exists" in response.content.decode()
    assert not Assessment.objects.exists()


def test_home_lists_this_browsers_recent_assessments_only(client):
    client.post(reverse("advisor:start"))
    mine = Assessment.objects.get()
    client.post(step_url(mine, "scope"), {"answer": "site-link"})
    Assessment.objects.create(answers={"scope": ["app-service"]})
    page = client.get(reverse("advisor:home")).content.decode()
    assert review_url(mine) in page
    assert page.count("/review/") == 1


def recent_names(client) -> list[str]:
    """The names of the recent assessments on the home page, top to bottom."""
    page = client.get(reverse("advisor:home")).content.decode()
    if 'class="recent"' not in page:
        return []
    listed = page.split('<ul class="recent">')[1].split("</ul>")[0]
    return [html.unescape(item.split('/review/">')[1].split("</a>")[0]) for item in listed.split("<li>")[1:]]


def test_home_names_recent_assessments_by_their_flows_or_report_title_and_leaves_out_empty_ones(client):
    client.post(reverse("advisor:start"))
    assert recent_names(client) == [], "an assessment without answers is not worth going back to"
    empty = Assessment.objects.get()
    client.post(step_url(empty, "scope"), {"answer": ["site-link", "remote-access"]})
    assert recent_names(client) == ["Link between sites + Remote access for staff"]
    client.post(reverse("advisor:start"), {"profile": "site-to-site"})
    titled = Assessment.objects.get(profile__slug="site-to-site")
    client.post(review_url(titled), {"title": "Leeds and York offices"})
    client.post(reverse("advisor:start"))
    unsure = Assessment.objects.filter(answers={}).get()
    client.post(step_url(unsure, "scope"), {"answer": "unknown"})
    assert recent_names(client) == [
        "What to protect: I don't know yet",
        "Leeds and York offices",
        "Link between sites + Remote access for staff",
    ]
    page = client.get(reverse("advisor:home")).content.decode()
    assert "Assessment of" not in page
    assert "from “Site-to-site link between offices or data centres”" in page


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["full page", "htmx fragment"])
def test_each_step_renders_as_page_and_fragment(client, assessment, headers):
    kb = knowledge.current()
    for question in kb.questions:
        if question.condition:
            continue
        response = client.get(step_url(assessment, question.slug), **headers)
        assert response.status_code == 200
        body = response.content.decode()
        assert question.text in body
        assert ("<html" in body) is (not headers)
        assert 'id="wizard"' in body
        assert response["Vary"].count("HX-Request") == 1


def test_valid_answer_is_saved_and_leads_to_the_next_question(client, assessment):
    response = client.post(step_url(assessment, "scope"), {"answer": "remote-access"})
    assessment.refresh_from_db()
    assert assessment.answers == {"scope": ["remote-access"]}
    assert response.status_code == 302
    assert response["Location"] == step_url(assessment, "endpoints")


def test_htmx_answer_fetches_the_next_step_through_its_url(client, assessment):
    response = client.post(step_url(assessment, "scope"), {"answer": "remote-access"}, **HTMX)
    assert response.status_code == 200
    assert '"path": "' + step_url(assessment, "endpoints") in response["HX-Location"]
    assert '"target": "#wizard"' in response["HX-Location"]


def test_branching_asks_follow_up_questions_only_when_they_apply(client, assessment):
    client.post(step_url(assessment, "scope"), {"answer": "site-link"})
    response = client.post(step_url(assessment, "endpoints"), {"answer": ["gateways"]})
    assert response["Location"] == step_url(assessment, "far-end")
    client.post(step_url(assessment, "scope"), {"answer": "public-service"})
    response = client.post(step_url(assessment, "endpoints"), {"answer": ["public-browsers"]})
    assert response["Location"] == step_url(assessment, "app-change"), "no far end to ask about"
    client.post(step_url(assessment, "scope"), {"answer": "remote-access"})
    response = client.post(step_url(assessment, "endpoints"), {"answer": ["managed-devices"]})
    assert response["Location"] == step_url(assessment, "app-change")
    response = client.post(step_url(assessment, "app-change"), {"answer": "some"})
    assert response["Location"] == step_url(assessment, "vpn-client")


def test_missing_answer_shows_a_message_and_keeps_earlier_answers(client, assessment):
    client.post(step_url(assessment, "scope"), {"answer": "app-service"})
    response = client.post(step_url(assessment, "endpoints"), {})
    assert response.status_code == 200
    assert "Choose at least one answer to go on." in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.answers == {"scope": ["app-service"]}


def test_unknown_option_is_refused_and_the_choice_stays_visible(client, assessment):
    response = client.post(step_url(assessment, "endpoints"), {"answer": ["servers", "hacked"]}, **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "not one of the options" in body
    assert "<html" not in body
    assert response["HX-Push-Url"] == "false", "the same step again adds no history entry"
    assert 'value="servers" ' in body and "checked" in body.split('value="servers"')[1].split(">")[0]
    assessment.refresh_from_db()
    assert assessment.answers == {}


def test_i_dont_know_cannot_be_combined(client, assessment):
    response = client.post(step_url(assessment, "path"), {"answer": ["nat", "unknown"]})
    assert "cannot be combined" in response.content.decode()


def test_a_step_whose_condition_is_not_met_is_skipped_with_a_message(client, assessment):
    client.post(step_url(assessment, "scope"), {"answer": "app-service"})
    response = client.post(step_url(assessment, "vpn-client"), {"answer": "yes"}, follow=True)
    assert "is not asked after your other answers" in response.content.decode()
    assessment.refresh_from_db()
    assert "vpn-client" not in assessment.answers


def test_unknown_question_and_assessment_are_404(client, assessment):
    assert client.get(step_url(assessment, "no-such-question")).status_code == 404
    assert client.get("/assessments/00000000-0000-0000-0000-000000000000/scope/").status_code == 404


def test_back_saves_the_current_choice_and_returns_to_the_previous_step(client, assessment):
    client.post(step_url(assessment, "scope"), {"answer": "app-service"})
    response = client.post(step_url(assessment, "endpoints"), {"answer": ["servers"], "direction": "back"})
    assert response["Location"] == step_url(assessment, "scope")
    assessment.refresh_from_db()
    assert assessment.answers["endpoints"] == ["servers"]
    page = client.get(step_url(assessment, "endpoints")).content.decode()
    assert "checked" in page.split('value="servers"')[1].split(">")[0]


def test_back_with_nothing_chosen_just_goes_back(client, assessment):
    client.post(step_url(assessment, "scope"), {"answer": "app-service"})
    response = client.post(step_url(assessment, "endpoints"), {"direction": "back"})
    assert response["Location"] == step_url(assessment, "scope")


def test_missing_csrf_token_is_refused_plainly_and_nothing_is_lost(assessment):
    strict = FormClient(enforce_csrf_checks=True)
    assessment.answers = {"scope": ["app-service"]}
    assessment.save()
    response = strict.post(step_url(assessment, "endpoints"), {"answer": ["servers"]})
    assert response.status_code == 403
    assert "Every answer saved before it is still there" in response.content.decode()
    assessment.refresh_from_db()
    assert assessment.answers == {"scope": ["app-service"]}


def test_review_lists_answers_with_edit_links_and_warnings(client):
    client.post(reverse("advisor:start"), {"profile": "remote-access-restrictive-firewall"})
    assessment = Assessment.objects.get()
    assessment.answers["path"] = ["only-443", "udp-open"]
    assessment.save()
    response = client.get(review_url(assessment))
    body = response.content.decode()
    assert step_url(assessment, "path") in body
    assert "Only TCP 443 passes" in body
    assert "Conflict:" in body


def test_review_shows_answers_that_no_longer_count(client, assessment):
    assessment.answers = {"scope": ["app-service"], "vpn-client": ["yes"]}
    assessment.save()
    body = client.get(review_url(assessment)).content.decode()
    assert "Answers no longer used" in body
    assert "VPN client" in body


def test_incomplete_review_cannot_issue_a_report(client, assessment):
    assessment.answers = {"scope": ["app-service"]}
    assessment.save()
    response = client.post(review_url(assessment))
    assert response.status_code == 200
    assert "still need an answer" in response.content.decode()
    assert not Report.objects.exists()


def test_complete_review_issues_a_report_and_later_edits_make_a_new_one(client):
    client.post(reverse("advisor:start"), {"profile": "site-to-site"})
    assessment = Assessment.objects.get()
    first = client.post(review_url(assessment))
    report = Report.objects.get()
    assert first["Location"] == reverse("advisor:report", args=[report.id])
    assert report.result["primary"]["slug"] == "ipsec-esp-tunnel"
    client.post(step_url(assessment, "scope"), {"answer": "app-service"})
    client.post(review_url(assessment))
    assert Report.objects.count() == 2
    report.refresh_from_db()
    assert report.result["primary"]["slug"] == "ipsec-esp-tunnel"
    page = client.get(reverse("advisor:report", args=[report.id])).content.decode()
    assert "IPsec ESP, tunnel mode (IKEv2)" in page


def test_two_assessments_in_one_browser_never_mix(client):
    client.post(reverse("advisor:start"))
    client.post(reverse("advisor:start"))
    first, second = Assessment.objects.order_by("created_at")
    client.post(step_url(first, "scope"), {"answer": "app-service"})
    client.post(step_url(second, "scope"), {"answer": "site-link"})
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.answers == {"scope": ["app-service"]}
    assert second.answers == {"scope": ["site-link"]}


def test_step_queries_are_bounded(client, assessment):
    client.get(step_url(assessment, "scope"))
    with CaptureQueriesContext(connection) as get_queries:
        client.get(step_url(assessment, "endpoints"))
    with CaptureQueriesContext(connection) as post_queries:
        client.post(step_url(assessment, "endpoints"), {"answer": ["servers"]}, **HTMX)
    # GET: the assessment and the knowledge-base version. POST: the locked read, the version, the update.
    # This browser's assessments live in a signed cookie, so no session is read.
    assert len(get_queries) == 2, [q["sql"] for q in get_queries]
    statements = [q["sql"] for q in post_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 3, statements


def test_an_edited_option_shows_at_once_although_steps_are_cached(client, assessment):
    from advisor.models import Option

    client.get(step_url(assessment, "scope"))
    option = Option.objects.get(question__slug="scope", slug="remote-access")
    option.label = "Staff and contractors working away from the office"
    option.save()
    body = client.get(step_url(assessment, "scope"), **HTMX).content.decode()
    assert "Staff and contractors working away from the office" in body


def test_progress_links_answered_steps_and_marks_the_current_one(client, assessment):
    client.post(step_url(assessment, "scope"), {"answer": "remote-access"})
    body = client.get(step_url(assessment, "endpoints")).content.decode()
    nav = body[
        body.index('<nav class="progress"') : body.index("</nav>", body.index('<nav class="progress"'))
    ]
    assert f'<li class="done"><a href="{step_url(assessment, "scope")}"' in nav
    assert f'<li class="current"><a href="{step_url(assessment, "endpoints")}"' in nav
    assert 'aria-current="step"' in nav.split(step_url(assessment, "endpoints"))[2]
    assert '<li class="todo"><span><span class="step-number">3</span>' in nav
    assert f'href="{review_url(assessment)}"' in nav


def test_progress_numbers_only_questions_whose_number_no_answer_can_change(client, assessment):
    body = client.get(step_url(assessment, "scope")).content.decode()
    nav = body.split('<nav class="progress"')[1].split("</nav>")[0]
    assert (
        '<li class="todo"><span><span class="step-number">2</span> <span class="step-title">Endpoints' in nav
    )
    assert '<li class="todo maybe">' in nav.split("Endpoints")[1].split("</li>")[1]
    assert 'Far end<span class="maybe-note"> (if your answers call for it)' in nav
    unnumbered = '<span class="step-number" aria-hidden="true"></span> <span class="step-title">Applications'
    assert unnumbered in nav, "after an undecided question, the number is not known yet"


def test_compare_page_lists_every_rating_and_filters_by_criterion(client):
    kb = knowledge.current()
    page = client.get(reverse("advisor:compare")).content.decode()
    for protocol in kb.protocols:
        assert protocol.name in page
    detail = client.get(reverse("advisor:compare"), {"criterion": "nat-traversal"}).content.decode()
    rating = kb.ratings["ipsec-ah", "nat-traversal"]
    assert rating.rationale in detail
    assert "RFC" in detail


def changed_from_review(assessment, slug: str) -> str:
    return step_url(assessment, slug) + "?then=review"


def test_review_links_open_each_step_to_come_back_to_the_review(client):
    client.post(reverse("advisor:start"), {"profile": "site-to-site"})
    assessment = Assessment.objects.get()
    body = client.get(review_url(assessment)).content.decode()
    assert f'href="{changed_from_review(assessment, "path")}"' in body
    step = client.get(changed_from_review(assessment, "path")).content.decode()
    assert f'action="{changed_from_review(assessment, "path")}"' in step
    assert "Save and return to review" in step
    assert "saving it takes you back to the review" in step
    assert f'<a class="button secondary" href="{review_url(assessment)}"' in step
    assert 'value="back"' not in step


def test_changing_one_answer_from_the_review_returns_to_the_review_without_javascript(client):
    client.post(reverse("advisor:start"), {"profile": "site-to-site"})
    assessment = Assessment.objects.get()
    response = client.post(changed_from_review(assessment, "path"), {"answer": ["only-443"]})
    assert response["Location"] == review_url(assessment)
    assessment.refresh_from_db()
    assert assessment.answers["path"] == ["only-443"]


def test_a_change_that_opens_new_questions_walks_only_those_then_returns_to_the_review(client):
    client.post(reverse("advisor:start"), {"profile": "site-to-site"})
    assessment = Assessment.objects.get()
    response = client.post(
        changed_from_review(assessment, "scope"), {"answer": ["site-link", "remote-access"]}
    )
    assert response["Location"] == changed_from_review(assessment, "vpn-client")
    step = client.get(response["Location"]).content.decode()
    assert "Your change adds this question" in step
    assert "Save and continue" in step, "another added question follows"
    assert (
        "Save and return to review" in client.get(changed_from_review(assessment, "reach")).content.decode()
    )
    response = client.post(changed_from_review(assessment, "vpn-client"), {"answer": "yes"})
    assert response["Location"] == changed_from_review(assessment, "reach")
    reach = knowledge.current().question("reach").options[0].slug
    response = client.post(changed_from_review(assessment, "reach"), {"answer": reach})
    assert response["Location"] == review_url(assessment), (
        "the questions answered before are not walked again"
    )


def test_a_rejected_change_from_the_review_stays_on_its_step_and_keeps_the_mode(client):
    client.post(reverse("advisor:start"), {"profile": "site-to-site"})
    assessment = Assessment.objects.get()
    response = client.post(changed_from_review(assessment, "path"), {})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Choose at least one answer to go on." in body
    assert f'action="{changed_from_review(assessment, "path")}"' in body


def test_htmx_change_from_the_review_fetches_the_review_next(client):
    client.post(reverse("advisor:start"), {"profile": "site-to-site"})
    assessment = Assessment.objects.get()
    response = client.post(changed_from_review(assessment, "path"), {"answer": ["udp-open"]}, **HTMX)
    assert '"path": "' + review_url(assessment) + '"' in response["HX-Location"]


def test_the_first_step_offers_no_back_and_later_steps_do(client, assessment):
    first = client.get(step_url(assessment, "scope")).content.decode()
    assert 'value="back"' not in first
    client.post(step_url(assessment, "scope"), {"answer": "app-service"})
    second = client.get(step_url(assessment, "endpoints")).content.decode()
    actions = second.split('<div class="actions">')[1].split("</div>")[0]
    assert actions.index('value="next"') < actions.index('value="back"'), (
        "Continue first, as drawn and tabbed"
    )


def step_count(client, assessment, slug: str) -> str:
    return (
        client.get(step_url(assessment, slug))
        .content.decode()
        .split('<p class="step-count" aria-hidden="true">')[1]
        .split("<")[0]
    )


def test_the_question_count_is_an_upper_bound_until_the_path_is_known_and_never_grows(client, assessment):
    kb = knowledge.current()
    assert step_count(client, assessment, "scope") == f"Question 1 of up to {len(kb.questions)}"
    client.post(step_url(assessment, "scope"), {"answer": "site-link"})
    assessment.refresh_from_db()
    asked = len(engine.visible_questions(kb, assessment.answer_map()))
    assert asked < len(kb.questions)
    assert step_count(client, assessment, "endpoints") == f"Question 2 of {asked}"
    assert step_count(client, assessment, "scope") == f"Question 1 of {asked}"


def test_each_step_and_the_review_fragment_carry_the_page_title(client, assessment):
    full = client.get(step_url(assessment, "scope")).content.decode()
    fragment = client.get(step_url(assessment, "scope"), **HTMX).content.decode()
    title = full.split("<title>")[1].split("</title>")[0]
    assert title == "What to protect: question 1 of up to 17 · Protocol Advisor"
    assert fragment.lstrip().startswith(f"<title>{title}</title>"), "htmx makes a top-level title the page's"
    assert full.count("<title>") == 1
    review = client.get(review_url(assessment), **HTMX).content.decode()
    assert review.lstrip().startswith("<title>Review your answers · Protocol Advisor</title>")


def test_htmx_target_swap_and_history_are_set_once_on_the_wizard(client, assessment):
    client.post(step_url(assessment, "scope"), {"answer": "app-service"})
    for url in (step_url(assessment, "endpoints"), review_url(assessment)):
        body = client.get(url, **HTMX).content.decode()
        assert (
            '<div id="wizard" class="wizard" hx-target="this" hx-swap="outerHTML" hx-push-url="true">' in body
        )
        assert body.count("hx-target") == 1 and body.count("hx-swap") == 1, url


def test_back_to_review_leads_to_this_assessments_review_although_steps_are_cached(client):
    client.post(reverse("advisor:start"), {"profile": "site-to-site"})
    client.post(reverse("advisor:start"), {"profile": "site-to-site"})
    first, second = Assessment.objects.order_by("created_at")
    client.get(changed_from_review(first, "path"))
    body = client.get(changed_from_review(second, "path"), **HTMX).content.decode()
    assert f'href="{review_url(second)}"' in body
    assert review_url(first) not in body
