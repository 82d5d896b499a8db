"""Maintainers can browse and edit every part of the knowledge base, and bad edits are refused."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from advisor import engine, knowledge, reports
from advisor.models import (
    ConsistencyRule,
    Criterion,
    Feedback,
    KnowledgeBaseVersion,
    Option,
    ProfileAnswer,
    Protocol,
    Question,
    Rating,
    Reference,
    Report,
    ReportPDF,
    UseCaseProfile,
)

pytestmark = pytest.mark.django_db

ADMIN_MODELS = [model for model in admin.site._registry if model._meta.app_label == "advisor"]


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def inline_management(prefix: str, total: int, initial: int) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_every_knowledge_base_model_is_registered():
    names = {model.__name__ for model in ADMIN_MODELS}
    assert {
        "Reference",
        "Protocol",
        "Criterion",
        "Rating",
        "Question",
        "Option",
        "OptionEffect",
        "UseCaseProfile",
        "ConsistencyRule",
        "SourceDisagreement",
        "KnowledgeBaseVersion",
        "Report",
        "Feedback",
    } <= names


def test_feedback_is_listed_with_the_reports_answers(staff_client, issued_records):
    feedback = Feedback.objects.get()
    page = staff_client.get(admin_url(Feedback, "change", feedback.pk)).content.decode()
    assert "Our sites sit behind carrier NAT." in page
    assert "All traffic between sites: offices, data centres or cloud networks" in page


RECORDS = {KnowledgeBaseVersion, Report, ReportPDF, Feedback}
"""Written by the application, read in the admin: no add page."""


@pytest.fixture
def issued_records():
    """A report, its PDF record and feedback on it, so the record admins have something to show."""
    kb = knowledge.current()
    report = reports.issue(kb, kb.profile("site-to-site").answers, title="Branch offices")
    ReportPDF.objects.create(report=report, status=ReportPDF.Status.FAILED, error="example")
    Feedback.objects.create(report=report, agrees=False, comment="Our sites sit behind carrier NAT.")
    return report


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda model: model.__name__)
def test_staff_see_changelist_add_and_change_pages(staff_client, issued_records, model):
    assert staff_client.get(admin_url(model, "changelist")).status_code == 200
    assert staff_client.get(admin_url(model, "changelist"), {"q": "ipsec"}).status_code == 200
    expected_add = 403 if model in RECORDS else 200
    assert staff_client.get(admin_url(model, "add")).status_code == expected_add
    obj = model.objects.first()
    assert obj is not None, f"the shipped knowledge base has no {model.__name__}"
    assert staff_client.get(admin_url(model, "change", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda model: model.__name__)
def test_anonymous_visitors_are_sent_to_login(client, model):
    response = client.get(admin_url(model, "changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_protocol_page_shows_every_rating_inline(staff_client):
    protocol = Protocol.objects.get(slug="tls")
    response = staff_client.get(admin_url(Protocol, "change", protocol.pk))
    assert response.context["inline_admin_formsets"][0].formset.queryset.count() == Criterion.objects.count()
    assert b"Ratings" in response.content


def rating_post_data(rating: Rating, **changes) -> dict[str, str]:
    data = {
        "protocol": str(rating.protocol_id),
        "criterion": str(rating.criterion_id),
        "score": str(rating.score),
        "rationale": rating.rationale,
        "references": [str(pk) for pk in rating.references.values_list("pk", flat=True)],
    }
    data.update(changes)
    return data


def test_rating_score_out_of_range_is_refused_with_a_message(staff_client):
    rating = Rating.objects.first()
    response = staff_client.post(admin_url(Rating, "change", rating.pk), rating_post_data(rating, score="6"))
    assert response.status_code == 200
    assert (
        "Ensure this value is less than or equal to 5." in response.context["adminform"].form.errors["score"]
    )
    rating.refresh_from_db()
    assert rating.score != 6


def test_rating_edit_records_a_knowledge_base_version(staff_client, admin_user):
    rating = Rating.objects.exclude(score=3).first()
    before = KnowledgeBaseVersion.current_number()
    response = staff_client.post(admin_url(Rating, "change", rating.pk), rating_post_data(rating, score="3"))
    assert response.status_code == 302
    version = KnowledgeBaseVersion.objects.first()
    assert version.number == before + 1
    assert version.user == admin_user
    assert version.username == "maintainer"
    assert version.action == KnowledgeBaseVersion.Action.CHANGED
    assert "Score" in version.message
    assert version.object_repr == str(Rating.objects.get(pk=rating.pk))


def test_saving_without_changes_records_no_version(staff_client):
    rating = Rating.objects.first()
    before = KnowledgeBaseVersion.current_number()
    response = staff_client.post(admin_url(Rating, "change", rating.pk), rating_post_data(rating))
    assert response.status_code == 302
    assert KnowledgeBaseVersion.current_number() == before


def test_deleting_in_the_admin_records_one_version(staff_client):
    profile = UseCaseProfile.objects.last()
    before = KnowledgeBaseVersion.current_number()
    response = staff_client.post(admin_url(UseCaseProfile, "delete", profile.pk), {"post": "yes"})
    assert response.status_code == 302
    assert KnowledgeBaseVersion.current_number() == before + 1
    assert KnowledgeBaseVersion.objects.first().action == KnowledgeBaseVersion.Action.DELETED


def test_edits_outside_the_admin_also_bump_the_version():
    before = KnowledgeBaseVersion.current_number()
    criterion = Criterion.objects.first()
    criterion.base_weight = 2 if criterion.base_weight != 2 else 1
    criterion.save()
    version = KnowledgeBaseVersion.objects.first()
    assert version.number == before + 1
    assert version.username == ""
    assert "outside the admin" in version.message


def test_version_history_cannot_be_edited(staff_client):
    version = KnowledgeBaseVersion.objects.first()
    response = staff_client.post(admin_url(KnowledgeBaseVersion, "delete", version.pk), {"post": "yes"})
    assert response.status_code == 403
    assert KnowledgeBaseVersion.objects.filter(pk=version.pk).exists()


def question_post_data(question: Question, **changes) -> dict:
    options = list(question.options.all())
    data = {
        "slug": question.slug,
        "order": str(question.order),
        "title": question.title,
        "text": question.text,
        "help_text": question.help_text,
        "kind": question.kind,
        "required": "on" if question.required else "",
        "condition_options": [str(pk) for pk in question.condition_options.values_list("pk", flat=True)],
        **inline_management("options", len(options), len(options)),
    }
    for index, option in enumerate(options):
        data.update(
            {
                f"options-{index}-id": str(option.pk),
                f"options-{index}-question": str(question.pk),
                f"options-{index}-order": str(option.order),
                f"options-{index}-slug": option.slug,
                f"options-{index}-label": option.label,
                f"options-{index}-help_text": option.help_text,
                f"options-{index}-is_unknown": "on" if option.is_unknown else "",
            }
        )
    data.update(changes)
    return data


def condition_errors(response) -> list[str]:
    assert response.status_code == 200, "the invalid form was accepted"
    return response.context["adminform"].form.errors.get("condition_options", [])


def test_question_condition_on_a_later_question_is_refused(staff_client):
    first, later = Question.objects.order_by("order")[:1].get(), Question.objects.order_by("-order").first()
    option = later.options.first()
    response = staff_client.post(
        admin_url(Question, "change", first.pk), question_post_data(first, condition_options=[str(option.pk)])
    )
    errors = condition_errors(response)
    assert errors and ("cycle" in errors[0] or "not asked before" in errors[0])
    assert not first.condition_options.exists()


def test_question_condition_on_its_own_option_is_refused(staff_client):
    question = Question.objects.order_by("order")[2]
    option = question.options.first()
    response = staff_client.post(
        admin_url(Question, "change", question.pk),
        question_post_data(question, condition_options=[str(option.pk)]),
    )
    assert "cycle" in condition_errors(response)[0]


def test_question_condition_that_closes_a_cycle_is_refused(staff_client):
    dependent = Question.objects.filter(condition_options__isnull=False).distinct().first()
    assert dependent is not None, "the shipped questions have no condition to test against"
    depended_on = dependent.condition_options.first().question
    back_reference = dependent.options.first()
    response = staff_client.post(
        admin_url(Question, "change", depended_on.pk),
        question_post_data(depended_on, condition_options=[str(back_reference.pk)]),
    )
    error = condition_errors(response)[0]
    assert "cycle" in error
    assert dependent.title in error and depended_on.title in error


def test_moving_a_question_after_one_that_depends_on_it_is_refused(staff_client):
    dependent = Question.objects.filter(condition_options__isnull=False).distinct().first()
    depended_on = dependent.condition_options.first().question
    last = Question.objects.order_by("-order").first().order
    response = staff_client.post(
        admin_url(Question, "change", depended_on.pk), question_post_data(depended_on, order=str(last + 1))
    )
    assert response.status_code == 200
    assert "must stay before" in response.context["adminform"].form.errors["order"][0]


def test_question_needs_at_least_two_options(staff_client):
    question = Question.objects.first()
    data = question_post_data(question)
    for index in range(1, question.options.count()):
        data[f"options-{index}-DELETE"] = "on"
    response = staff_client.post(admin_url(Question, "change", question.pk), data)
    assert response.status_code == 200
    assert "Please submit at least 2 forms." in str(
        response.context["inline_admin_formsets"][0].formset.non_form_errors()
    )


def profile_post_data(profile: UseCaseProfile, extra_answer: tuple[int, int] | None = None) -> dict:
    answers = list(profile.answers.all())
    rows = answers + ([None] if extra_answer else [])
    data = {
        "slug": profile.slug,
        "name": profile.name,
        "order": str(profile.order),
        "description": profile.description,
        "expected_protocol": str(profile.expected_protocol_id),
        "expected_rationale": profile.expected_rationale,
        "references": [str(pk) for pk in profile.references.values_list("pk", flat=True)],
        **inline_management("answers", len(rows), len(answers)),
    }
    for index, answer in enumerate(answers):
        data.update(
            {
                f"answers-{index}-id": str(answer.pk),
                f"answers-{index}-profile": str(profile.pk),
                f"answers-{index}-question": str(answer.question_id),
                f"answers-{index}-option": str(answer.option_id),
            }
        )
    if extra_answer:
        index = len(answers)
        data[f"answers-{index}-question"], data[f"answers-{index}-option"] = map(str, extra_answer)
    return data


def test_profile_answer_with_an_option_of_another_question_is_refused(staff_client):
    profile = UseCaseProfile.objects.first()
    first, second = Question.objects.order_by("order")[:2]
    foreign_option = second.options.exclude(pk__in=profile.answers.values("option")).first()
    count = ProfileAnswer.objects.filter(profile=profile).count()
    response = staff_client.post(
        admin_url(UseCaseProfile, "change", profile.pk),
        profile_post_data(profile, (first.pk, foreign_option.pk)),
    )
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert any("belongs to another question" in str(form.errors.get("option", "")) for form in formset.forms)
    assert ProfileAnswer.objects.filter(profile=profile).count() == count


def test_profile_with_two_answers_to_a_single_choice_question_is_refused(staff_client):
    profile = UseCaseProfile.objects.first()
    answer = profile.answers.select_related("question").filter(question__kind=Question.Kind.SINGLE).first()
    other = answer.question.options.exclude(pk=answer.option_id).first()
    response = staff_client.post(
        admin_url(UseCaseProfile, "change", profile.pk),
        profile_post_data(profile, (answer.question_id, other.pk)),
    )
    assert response.status_code == 200
    assert "single-choice" in str(response.context["inline_admin_formsets"][0].formset.non_form_errors())


def test_constraint_effect_without_a_reason_is_refused(staff_client):
    option = Option.objects.filter(is_unknown=False).first()
    data = {
        "question": str(option.question_id),
        "slug": option.slug,
        "order": str(option.order),
        "label": option.label,
        "help_text": option.help_text,
        **inline_management("effects", 1, 0),
        "effects-0-kind": "exclude",
        "effects-0-protocol": str(Protocol.objects.get(slug="wireguard").pk),
        "effects-0-reason": "",
    }
    before = option.effects.count()
    response = staff_client.post(admin_url(Option, "change", option.pk), data)
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.forms[0].errors
    assert "states its reason" in str(errors["reason"])
    assert option.effects.count() == before


def rule_post_data(rule: ConsistencyRule, **changes) -> dict:
    data = {
        "name": rule.name,
        "slug": rule.slug,
        "severity": rule.severity,
        "message": rule.message,
        "when_all": [str(pk) for pk in rule.when_all.values_list("pk", flat=True)],
        "unless_any": [str(pk) for pk in rule.unless_any.values_list("pk", flat=True)],
        "references": [str(pk) for pk in rule.references.values_list("pk", flat=True)],
    }
    data.update(changes)
    return data


def test_warning_rule_that_can_never_fire_is_refused(staff_client):
    rule = ConsistencyRule.objects.first()
    single = Question.objects.filter(kind=Question.Kind.SINGLE).first()
    first, second = single.options.all()[:2]
    response = staff_client.post(
        admin_url(ConsistencyRule, "change", rule.pk),
        rule_post_data(rule, when_all=[str(first.pk), str(second.pk)]),
    )
    assert response.status_code == 200
    assert "never chosen together" in response.context["adminform"].form.errors["when_all"][0]


def test_warning_rule_cannot_silence_itself(staff_client):
    rule = ConsistencyRule.objects.first()
    trigger = rule.when_all.first()
    response = staff_client.post(
        admin_url(ConsistencyRule, "change", rule.pk), rule_post_data(rule, unless_any=[str(trigger.pk)])
    )
    assert response.status_code == 200
    assert "both trigger and silence" in response.context["adminform"].form.errors["unless_any"][0]


CHECK_URL = "/admin/advisor/usecaseprofile/check/"


@pytest.mark.parametrize("model", [Protocol, Rating, Question])
def test_check_profiles_is_linked_from_protocol_rating_and_question_pages(staff_client, model):
    assert CHECK_URL in staff_client.get(admin_url(model, "changelist")).content.decode()
    obj = model.objects.first()
    assert CHECK_URL in staff_client.get(admin_url(model, "change", obj.pk)).content.decode()


def test_check_profiles_shows_all_agreeing_with_the_shipped_knowledge(staff_client):
    response = staff_client.get(CHECK_URL)
    assert response.status_code == 200
    assert response.context["disagreements"] == 0
    assert len(response.context["rows"]) == UseCaseProfile.objects.count()


def test_check_profiles_shows_at_once_what_a_rating_edit_breaks(staff_client):
    rating = Rating.objects.get(protocol__slug="ipsec-esp-tunnel", criterion__slug="site-to-site")
    response = staff_client.post(admin_url(Rating, "change", rating.pk), rating_post_data(rating, score="0"))
    assert response.status_code == 302
    page = staff_client.get(CHECK_URL)
    differing = [row for row in page.context["rows"] if not row["agrees"]]
    assert "site-to-site" in {row["profile"].slug for row in differing}
    site = next(row for row in differing if row["profile"].slug == "site-to-site")
    assert any("leads" in line for line in site["gap"])
    assert "Differs" in page.content.decode()


def test_check_profiles_needs_staff(client):
    response = client.get(CHECK_URL)
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


# --- Edits that would break the knowledge base are refused ------------------------------------------


def ratings_post_data(rated: list, field: str, initial: list[Rating] = ()) -> dict:
    """The ratings inline: the existing `initial` ratings, then one new row for each of `rated`."""
    reference = str(Reference.objects.first().pk)
    data = inline_management("ratings", len(initial) + len(rated), len(initial))
    rows = [(rating, getattr(rating, field)) for rating in initial] + [(None, record) for record in rated]
    for index, (rating, record) in enumerate(rows):
        data.update(
            {
                f"ratings-{index}-{field}": str(record.pk),
                f"ratings-{index}-score": str(rating.score if rating else 3),
                f"ratings-{index}-rationale": rating.rationale if rating else "Rated for the test.",
                f"ratings-{index}-references": [reference],
            }
        )
        if rating:
            data[f"ratings-{index}-id"] = str(rating.pk)
    return data


def new_criterion_data(**ratings) -> dict:
    return {
        "slug": "trial-criterion",
        "name": "Trial criterion",
        "description": "Added for the test.",
        "base_weight": "1",
        "order": "99",
        **ratings,
    }


def ratings_errors(response) -> str:
    assert response.status_code == 200, "the incomplete ratings were accepted"
    return " ".join(response.context["inline_admin_formsets"][0].formset.non_form_errors())


def test_a_new_criterion_page_offers_a_rating_row_for_every_protocol(staff_client):
    formset = staff_client.get(admin_url(Criterion, "add")).context["inline_admin_formsets"][0].formset
    assert [form.initial["protocol"] for form in formset.forms] == list(
        Protocol.objects.values_list("pk", flat=True)
    )


def test_a_criterion_without_a_rating_from_every_protocol_is_refused(staff_client):
    some = list(Protocol.objects.all()[:3])
    response = staff_client.post(
        admin_url(Criterion, "add"), new_criterion_data(**ratings_post_data(some, "protocol"))
    )
    errors = ratings_errors(response)
    assert "Rate every protocol on this criterion." in errors
    assert "WireGuard" in errors and some[0].name not in errors
    assert not Criterion.objects.filter(slug="trial-criterion").exists()


def test_a_criterion_with_a_rating_from_every_protocol_is_saved_and_served(staff_client):
    every = list(Protocol.objects.all())
    response = staff_client.post(
        admin_url(Criterion, "add"), new_criterion_data(**ratings_post_data(every, "protocol"))
    )
    assert response.status_code == 302
    assert Rating.objects.filter(criterion__slug="trial-criterion").count() == len(every)
    assert "trial-criterion" in {criterion.slug for criterion in knowledge.current().criteria}


def test_removing_a_rating_on_the_criterion_page_is_refused(staff_client):
    criterion = Criterion.objects.get(slug="nat-traversal")
    ratings = list(Rating.objects.filter(criterion=criterion).order_by("protocol__order"))
    data = {
        "slug": criterion.slug,
        "name": criterion.name,
        "description": criterion.description,
        "base_weight": str(criterion.base_weight),
        "order": str(criterion.order),
        **ratings_post_data([], "protocol", ratings),
        "ratings-0-DELETE": "on",
    }
    errors = ratings_errors(staff_client.post(admin_url(Criterion, "change", criterion.pk), data))
    assert f"Not rated yet: {ratings[0].protocol}." in errors
    assert Rating.objects.filter(pk=ratings[0].pk).exists()


def test_a_protocol_without_a_rating_on_every_criterion_is_refused(staff_client):
    reference = Reference.objects.first()
    data = {
        "name": "MACsec",
        "slug": "macsec",
        "family": "other_vpn",
        "layer": "network",
        "order": "20",
        "summary": "Hop-by-hop Ethernet encryption.",
        "strengths": "Line rate.",
        "limitations": "One link at a time.",
        "guidance": "Use GCM-AES-256.",
        "ports": "EtherType 0x88E5",
        "references": [str(reference.pk)],
        **ratings_post_data(list(Criterion.objects.all()[:2]), "criterion"),
    }
    errors = ratings_errors(staff_client.post(admin_url(Protocol, "add"), data))
    assert "Rate this protocol on every criterion." in errors
    assert not Protocol.objects.filter(slug="macsec").exists()


def option_post_data(option: Option, effects: list, **changes) -> dict:
    """The option's page with `effects` (OptionEffect rows) kept as they are."""
    data = {
        "question": str(option.question_id),
        "slug": option.slug,
        "order": str(option.order),
        "label": option.label,
        "help_text": option.help_text,
        "is_unknown": "on" if option.is_unknown else "",
        **inline_management("effects", len(effects), len(effects)),
    }
    for index, effect in enumerate(effects):
        data.update(
            {
                f"effects-{index}-id": str(effect.pk),
                f"effects-{index}-option": str(option.pk),
                f"effects-{index}-kind": effect.kind,
                f"effects-{index}-criterion": str(effect.criterion_id or ""),
                f"effects-{index}-weight": str(effect.weight or ""),
                f"effects-{index}-protocol": str(effect.protocol_id or ""),
                f"effects-{index}-reason": effect.reason,
            }
        )
    data.update(changes)
    return data


def effects_errors(response) -> str:
    assert response.status_code == 200, "the option was saved"
    return " ".join(response.context["inline_admin_formsets"][0].formset.non_form_errors())


def test_an_i_dont_know_option_cannot_get_effects(staff_client):
    option = Option.objects.filter(is_unknown=False).exclude(effects=None).first()
    effects = list(option.effects.all())
    response = staff_client.post(
        admin_url(Option, "change", option.pk), option_post_data(option, effects, is_unknown="on")
    )
    assert "“I don't know” must leave the result as wide as it was" in effects_errors(response)
    option.refresh_from_db()
    assert not option.is_unknown


def test_an_option_cannot_lose_its_last_effect(staff_client):
    option = (
        Option.objects.filter(
            is_unknown=False, dependent_questions=None, rules_triggered=None, rules_silenced=None
        )
        .exclude(effects=None)
        .first()
    )
    effects = list(option.effects.all())
    deleting = {f"effects-{index}-DELETE": "on" for index in range(len(effects))}
    response = staff_client.post(
        admin_url(Option, "change", option.pk), option_post_data(option, effects, **deleting)
    )
    assert "Choosing this option would change nothing" in effects_errors(response)
    assert option.effects.count() == len(effects)


def test_an_option_a_question_depends_on_may_have_no_effect(staff_client):
    option = Option.objects.filter(dependent_questions__isnull=False).exclude(effects=None).distinct().first()
    effects = list(option.effects.all())
    deleting = {f"effects-{index}-DELETE": "on" for index in range(len(effects))}
    response = staff_client.post(
        admin_url(Option, "change", option.pk), option_post_data(option, effects, **deleting)
    )
    assert response.status_code == 302
    assert not option.effects.exists()


def test_an_option_with_effects_cannot_be_marked_i_dont_know_on_the_question_page(staff_client):
    question = Question.objects.get(slug="scope")
    data = question_post_data(question)
    index = next(i for i, option in enumerate(question.options.all()) if option.effects.exists())
    data[f"options-{index}-is_unknown"] = "on"
    response = staff_client.post(admin_url(Question, "change", question.pk), data)
    assert response.status_code == 200
    form = response.context["inline_admin_formsets"][0].formset.forms[index]
    assert "Remove its effects on the option's page first." in " ".join(form.errors["is_unknown"])


def test_a_profile_must_answer_every_question_it_is_asked(staff_client):
    profile = UseCaseProfile.objects.get(slug="site-to-site")
    data = profile_post_data(profile)
    volume = next(i for i, answer in enumerate(profile.answers.all()) if answer.question.slug == "volume")
    data[f"answers-{volume}-DELETE"] = "on"
    response = staff_client.post(admin_url(UseCaseProfile, "change", profile.pk), data)
    assert response.status_code == 200
    errors = " ".join(response.context["inline_admin_formsets"][0].formset.non_form_errors())
    assert "“Volume”: This question needs an answer." in errors
    assert profile.answers.filter(question__slug="volume").exists()


def test_a_profile_cannot_answer_a_question_it_is_not_asked(staff_client):
    kb = knowledge.current()
    profile = UseCaseProfile.objects.get(slug="site-to-site")
    asked = {question.slug for question in engine.visible_questions(kb, kb.profile(profile.slug).answers)}
    hidden = Question.objects.exclude(condition_options=None).exclude(slug__in=asked).first()
    response = staff_client.post(
        admin_url(UseCaseProfile, "change", profile.pk),
        profile_post_data(profile, (hidden.pk, hidden.options.first().pk)),
    )
    assert response.status_code == 200
    errors = " ".join(response.context["inline_admin_formsets"][0].formset.non_form_errors())
    assert f"“{hidden.title}”: This question is not asked after your other answers." in errors


def test_an_unchanged_profile_saves(staff_client):
    profile = UseCaseProfile.objects.get(slug="site-to-site")
    response = staff_client.post(admin_url(UseCaseProfile, "change", profile.pk), profile_post_data(profile))
    assert response.status_code == 302


# --- Problems that forms cannot catch are shown on every page until fixed ---------------------------


def add_unrated_criterion() -> Criterion:
    return Criterion.objects.create(
        slug="trial-criterion", name="Trial criterion", description="Added for the test."
    )


BANNER = "The knowledge base has 1 problem to fix"


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:index"),
        admin_url(Protocol, "changelist"),
        admin_url(Question, "add"),
        CHECK_URL,
        reverse("admin:password_change"),
    ],
)
def test_every_admin_page_lists_the_problems_with_a_link_to_the_record(staff_client, url):
    knowledge.current()
    criterion = add_unrated_criterion()
    page = staff_client.get(url).content.decode()
    assert BANNER in page
    assert f'<a href="{admin_url(Criterion, "change", criterion.pk)}">Criterion “Trial criterion”</a>' in page
    assert "Rate every protocol on it." in page
    assert "the public site serves\n    version 1, the newest without problems." in page


def test_the_problems_stay_until_they_are_fixed(staff_client):
    criterion = add_unrated_criterion()
    assert BANNER in staff_client.get(reverse("admin:index")).content.decode()
    for protocol in Protocol.objects.all():
        Rating.objects.create(
            protocol=protocol, criterion=criterion, score=3, rationale="Rated for the test."
        )
    assert "problem to fix" not in staff_client.get(reverse("admin:index")).content.decode()


def test_a_process_without_a_good_snapshot_says_it_serves_a_repaired_one(staff_client):
    add_unrated_criterion()
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert "version 2 without what is broken" in page


def test_every_problem_gets_a_link_to_its_record(staff_client):
    add_unrated_criterion()
    option = Option.objects.create(
        question=Question.objects.first(), slug="trial-option", label="Trial option"
    )
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert "The knowledge base has 2 problems to fix" in page
    assert (
        f'<a href="{admin_url(Option, "change", option.pk)}">Option “{option.question.title}: {option.label}”</a>'
        in page
    )


def test_the_problems_come_from_the_cached_snapshot(staff_client, monkeypatch):
    add_unrated_criterion()
    builds = []
    build = knowledge.build
    monkeypatch.setattr(knowledge, "build", lambda: builds.append(1) or build())
    for url in (
        reverse("admin:index"),
        admin_url(Protocol, "changelist"),
        admin_url(Criterion, "changelist"),
    ):
        assert BANNER in staff_client.get(url).content.decode()
    assert len(builds) == 1


def test_the_sign_in_page_shows_no_problems(client):
    add_unrated_criterion()
    assert "problem to fix" not in client.get(reverse("admin:login")).content.decode()
