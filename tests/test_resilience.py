"""An admin edit that breaks the knowledge base never takes the public site down."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from advisor import engine, knowledge
from advisor.models import Assessment, Criterion, Option, Protocol, Question, Rating, Report

pytestmark = pytest.mark.django_db

PAGES = ["/", "/compare/", "/api/v1/questions", "/api/v1/profiles", "/admin/advisor/usecaseprofile/check/"]


def add_unrated_criterion() -> Criterion:
    return Criterion.objects.create(
        slug="trial-criterion", name="Trial criterion", description="Added for the test."
    )


def rate_on_every_protocol(criterion: Criterion) -> None:
    for protocol in Protocol.objects.all():
        Rating.objects.create(
            protocol=protocol, criterion=criterion, score=3, rationale="Rated for the test."
        )


@pytest.mark.parametrize("url", PAGES)
def test_a_criterion_without_ratings_does_not_take_pages_down(staff_client, url):
    assert staff_client.get(url).status_code == 200
    add_unrated_criterion()
    assert staff_client.get(url).status_code == 200


@pytest.mark.parametrize("url", PAGES)
def test_a_process_started_after_the_breaking_edit_serves_too(staff_client, url):
    add_unrated_criterion()
    assert staff_client.get(url).status_code == 200


def test_the_site_keeps_serving_the_last_good_snapshot_and_logs_why(caplog):
    good = knowledge.current()
    add_unrated_criterion()
    with caplog.at_level(logging.WARNING, logger="advisor.knowledge"):
        assert knowledge.current() is good
    (record,) = [r for r in caplog.records if r.name == "advisor.knowledge"]
    assert record.levelno == logging.WARNING
    assert f"serving version {good.version}, the newest without problems" in record.getMessage()
    assert "Criterion “Trial criterion”: Not rated for “" in record.getMessage()
    assert knowledge.state().live.version == good.version + 1
    assert [p.code for p in knowledge.state().problems] == ["rating-missing"]


def test_a_fresh_process_serves_a_repaired_snapshot_and_logs_why(monkeypatch, caplog):
    add_unrated_criterion()
    monkeypatch.setattr(knowledge, "_cache", None)
    with caplog.at_level(logging.WARNING, logger="advisor.knowledge"):
        kb = knowledge.current()
    assert "trial-criterion" not in {c.slug for c in kb.criteria}
    assert len(kb.criteria) == Criterion.objects.count() - 1
    assert kb.version == knowledge.state().live.version
    assert "serving a repaired copy without what is broken" in caplog.text


def test_problems_are_logged_once_per_version(caplog):
    knowledge.current()
    add_unrated_criterion()
    with caplog.at_level(logging.WARNING, logger="advisor.knowledge"):
        for _ in range(3):
            knowledge.current()
    assert len([r for r in caplog.records if r.name == "advisor.knowledge"]) == 1


def test_once_fixed_the_knowledge_base_is_served_as_it_is(caplog):
    knowledge.current()
    criterion = add_unrated_criterion()
    rate_on_every_protocol(criterion)
    kb = knowledge.current()
    assert "trial-criterion" in {c.slug for c in kb.criteria}
    assert kb is knowledge.state().live and knowledge.state().problems == ()


def test_the_state_says_whether_the_site_serves_a_repaired_copy(monkeypatch):
    assert not knowledge.state().repaired
    add_unrated_criterion()
    assert not knowledge.state().repaired
    monkeypatch.setattr(knowledge, "_cache", None)
    assert knowledge.state().repaired


def test_a_report_issued_from_the_last_good_snapshot_is_not_called_outdated(client):
    knowledge.current()
    add_unrated_criterion()
    client.post(reverse("advisor:start"), {"profile": "site-to-site"})

    response = client.post(reverse("advisor:review", args=[Assessment.objects.get().id]), follow=True)
    report = Report.objects.get()
    assert report.knowledge_base_version == knowledge.current().version
    assert "The knowledge base has changed since this report" not in response.content.decode()


def test_check_profiles_says_which_version_it_checks_while_the_newest_has_problems(staff_client, monkeypatch):
    knowledge.current()
    add_unrated_criterion()
    page = staff_client.get("/admin/advisor/usecaseprofile/check/").content.decode()
    assert "these checks run on version 1" in page
    monkeypatch.setattr(knowledge, "_cache", None)
    page = staff_client.get("/admin/advisor/usecaseprofile/check/").content.decode()
    assert "these checks run on it without what is broken" in page


# --- Answers given before an edit ------------------------------------------------------------------


def started_from(client, profile: str = "site-to-site") -> Assessment:
    client.post(reverse("advisor:start"), {"profile": profile})
    return Assessment.objects.get()


def rename_chosen(assessment: Assessment, question: str) -> tuple[Question, str]:
    """Rename, as an admin would, the option the assessment chose for `question`; return it and the old slug."""
    option = Option.objects.select_related("question").get(
        question__slug=question, slug=assessment.answers[question][0]
    )
    old = option.slug
    option.slug = f"{old}-renamed"
    option.save()
    return option.question, old


def unasked_question(assessment: Assessment) -> Question:
    """A conditional question that the assessment's answers do not open."""
    asked = {q.slug for q in engine.visible_questions(knowledge.current(), assessment.answer_map())}
    return Question.objects.exclude(condition_options=None).exclude(slug__in=asked).first()


def answer_unasked_question(assessment: Assessment) -> Question:
    question = unasked_question(assessment)
    assessment.answers[question.slug] = [question.options.first().slug]
    assessment.save()
    return question


def review(client, assessment: Assessment, **kwargs):
    return client.post(reverse("advisor:review", args=[assessment.id]), **kwargs)


def test_review_survives_a_renamed_option_in_an_answer_no_longer_asked(client):
    assessment = started_from(client)
    hidden = answer_unasked_question(assessment)
    _, old = rename_chosen(assessment, hidden.slug)
    response = client.get(reverse("advisor:review", args=[assessment.id]))
    assert response.status_code == 200
    assert (
        f"“{old}” is no longer an option of “{hidden.title}”; answer it again." in response.content.decode()
    )
    assessment.refresh_from_db()
    assert hidden.slug not in assessment.answers


def test_a_renamed_option_is_dropped_shown_and_asked_again(client):
    assessment = started_from(client)
    question, old = rename_chosen(assessment, "endpoints")
    response = client.get(reverse("advisor:review", args=[assessment.id]))
    page = response.content.decode()
    assert "Answers removed because the questions changed" in page
    assert f"“{old}” is no longer an option of “{question.title}”; answer it again." in page
    marked = [row["question"].slug for row in response.context["rows"] if row["problem"]]
    assert marked == ["endpoints"]

    response = review(client, assessment)
    assert f"“{question.title}” still needs an answer; it is marked below." in response.content.decode()
    assert not Report.objects.exists()

    client.post(reverse("advisor:step", args=[assessment.id, "endpoints"]), {"answer": [f"{old}-renamed"]})
    response = review(client, assessment)
    assert response["Location"] == reverse("advisor:report", args=[Report.objects.get().id])


def test_an_answer_to_a_deleted_question_no_longer_stops_the_report(client):
    assessment = started_from(client)
    Question.objects.get(slug="volume").delete()
    page = client.get(reverse("advisor:review", args=[assessment.id])).content.decode()
    assert "The question “volume” has been removed, so its answer no longer counts." in page
    assert review(client, assessment).status_code == 302
    assert "volume" not in {row["question"] for row in Report.objects.get().answers}


def test_answers_dropped_while_asking_for_the_report_are_shown_before_it_is_issued(client):
    assessment = started_from(client)
    Question.objects.get(slug="volume").delete()
    response = review(client, assessment, data={"title": "Branch offices"})
    page = response.content.decode()
    assert "were removed, as listed below" in page
    assert "The question “volume” has been removed" in page
    assert 'value="Branch offices"' in page
    assert not Report.objects.exists()
    assert review(client, assessment, data={"title": "Branch offices"}).status_code == 302


def test_answers_to_questions_no_longer_asked_do_not_stop_the_report(client):
    assessment = started_from(client)
    hidden = answer_unasked_question(assessment)
    page = client.get(reverse("advisor:review", args=[assessment.id])).content.decode()
    assert "Answers no longer used" in page
    assert review(client, assessment).status_code == 302
    assert hidden.slug not in {row["question"] for row in Report.objects.get().answers}


def test_the_message_about_open_questions_names_exactly_the_rows_marked(client):
    assessment = Assessment.objects.create(answers={"scope": ["one-app"], "extra": ["x"]})
    response = review(client, assessment)
    assert response.status_code == 200
    response = review(client, assessment)
    marked = [row["question"].title for row in response.context["rows"] if row["problem"]]
    message = next(str(m) for m in response.context["messages"])
    assert message.startswith(f"{len(marked)} questions still need an answer: ")
    assert message.count("“") == len(marked)
    assert all(f"“{title}”" in message for title in marked)
    assert response.content.decode().count('class="answer missing"') == len(marked)


def test_a_step_drops_stale_answers_and_says_so(client):
    assessment = started_from(client)
    question, old = rename_chosen(assessment, "scope")
    response = client.get(reverse("advisor:step", args=[assessment.id, "scope"]))
    assert response.status_code == 200
    assert (
        f"“{old}” is no longer an option of “{question.title}”; answer it again." in response.content.decode()
    )
    assessment.refresh_from_db()
    assert "scope" not in assessment.answers


def test_reevaluating_a_report_whose_answers_no_longer_fit_explains_in_words(client):
    assessment = started_from(client)
    review(client, assessment)
    report = Report.objects.get()
    question, old = rename_chosen(assessment, "endpoints")
    response = client.post(reverse("advisor:reevaluate", args=[report.id]), follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    assert "its answers no longer fit" in page
    assert f"“{old}” is no longer an option of “{question.title}”" in page
    assert Report.objects.count() == 1


def test_reevaluation_asks_for_a_question_the_answers_now_open(client, monkeypatch):
    assessment = started_from(client)
    review(client, assessment)
    report = Report.objects.get()
    hidden = unasked_question(assessment)
    hidden.condition_options.add(
        Option.objects.get(question__slug="scope", slug=assessment.answers["scope"][0])
    )
    monkeypatch.setattr(knowledge, "_cache", None)
    response = client.post(reverse("advisor:reevaluate", args=[report.id]), follow=True)
    assert f"“{hidden.title}” needs an answer." in response.content.decode()
    assert Report.objects.count() == 1
