"""Maintainers see every changed value, can revert a version, preview an edit's impact, and add options last."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from advisor import knowledge, reports
from advisor.models import (
    ConsistencyRule,
    Criterion,
    KnowledgeBaseChange,
    KnowledgeBaseVersion,
    Option,
    OptionEffect,
    ProfileAnswer,
    Protocol,
    Question,
    Rating,
    Reference,
    UseCaseProfile,
)
from tests.test_admin import (
    admin_url,
    inline_management,
    new_criterion_data,
    question_post_data,
    rating_post_data,
    ratings_post_data,
)

pytestmark = pytest.mark.django_db

FLIPPING_RATING = {"protocol__slug": "ipsec-esp-tunnel", "criterion__slug": "site-to-site"}
"""Rated 0, this rating moves the site-to-site profile off IPsec (see test_admin's check-profiles test)."""


def field_rows(version: KnowledgeBaseVersion, model: str, pk: int) -> dict[str, tuple[str, str]]:
    change = version.changes.get(model=model, object_id=pk)
    return {row["name"]: (row["old_text"], row["new_text"]) for row in change.fields}


def protocol_post_data(protocol: Protocol, ratings: list[Rating], **rating_changes) -> dict:
    """The protocol's page as it is, with `rating_changes` ({"<index>-score": "2"}) in its ratings inline."""
    data = {
        "name": protocol.name,
        "slug": protocol.slug,
        "family": protocol.family,
        "layer": protocol.layer,
        "order": str(protocol.order),
        "summary": protocol.summary,
        "strengths": protocol.strengths,
        "limitations": protocol.limitations,
        "mode": protocol.mode,
        "ports": protocol.ports,
        "references": [str(pk) for pk in protocol.references.values_list("pk", flat=True)],
        **inline_management("ratings", len(ratings), len(ratings)),
    }
    for index, rating in enumerate(ratings):
        data.update(
            {
                f"ratings-{index}-id": str(rating.pk),
                f"ratings-{index}-protocol": str(protocol.pk),
                f"ratings-{index}-criterion": str(rating.criterion_id),
                f"ratings-{index}-score": str(rating.score),
                f"ratings-{index}-rationale": rating.rationale,
                f"ratings-{index}-references": [
                    str(pk) for pk in rating.references.values_list("pk", flat=True)
                ],
            }
        )
    data.update({f"ratings-{key}": value for key, value in rating_changes.items()})
    return data


def criteria_list_data(**changes) -> dict:
    """The criteria list page's editable columns as shown, with `changes` ({"<slug>": {"base_weight": "5"}})."""
    criteria = list(Criterion.objects.all())
    data = {**inline_management("form", len(criteria), len(criteria)), "_save": "Save"}
    for index, criterion in enumerate(criteria):
        row = {"base_weight": str(criterion.base_weight), "order": str(criterion.order)}
        row.update(changes.get(criterion.slug, {}))
        data.update(
            {f"form-{index}-id": str(criterion.pk), **{f"form-{index}-{k}": v for k, v in row.items()}}
        )
    return data


def question_with_new_option(question: Question, **extra) -> dict:
    """The question's page as it is (flows included), with a new option “A lab network” left without an order."""
    data = question_post_data(question, **extra)
    options = list(question.options.all())
    for index, option in enumerate(options):
        data[f"options-{index}-flow"] = str(option.flow_id or "")
    new = len(options)
    data.update(
        {
            **inline_management("options", new + 1, new),
            f"options-{new}-question": str(question.pk),
            f"options-{new}-slug": "lab-network",
            f"options-{new}-label": "A lab network",
            f"options-{new}-order": "",
        }
    )
    return data


# --- History with values --------------------------------------------------------------------------


def test_a_form_change_records_old_and_new_values_shown_in_history_and_on_the_version(staff_client):
    rating = Rating.objects.get(**FLIPPING_RATING)
    old_score = rating.score
    response = staff_client.post(
        admin_url(Rating, "change", rating.pk),
        rating_post_data(rating, score="1", rationale="Narrower than it was."),
    )
    assert response.status_code == 302
    version = KnowledgeBaseVersion.objects.first()
    rows = field_rows(version, "rating", rating.pk)
    assert rows["score"] == (str(old_score), "1")
    assert rows["rationale"] == (rating.rationale, "Narrower than it was.")
    assert set(rows) == {"score", "rationale"}
    history = staff_client.get(admin_url(Rating, "history", rating.pk)).content.decode()
    version_page = staff_client.get(admin_url(KnowledgeBaseVersion, "change", version.pk)).content.decode()
    for page in (history, version_page):
        assert f'<td class="old-value">{old_score}</td><td class="new-value">1</td>' in page
        assert "Narrower than it was." in page


def test_an_inline_change_records_which_row_changed_and_its_values(staff_client):
    protocol = Protocol.objects.get(slug="ipsec-esp-tunnel")
    ratings = list(Rating.objects.filter(protocol=protocol).order_by("criterion__order"))
    index = next(i for i, rating in enumerate(ratings) if rating.criterion.slug == "site-to-site")
    flipped = ratings[index]
    response = staff_client.post(
        admin_url(Protocol, "change", protocol.pk),
        protocol_post_data(protocol, ratings, **{f"{index}-score": "0"}),
    )
    assert response.status_code == 302
    version = KnowledgeBaseVersion.objects.first()
    assert (version.object_model, version.object_id) == ("protocol", protocol.pk)
    assert list(version.changes.values_list("model", "object_id")) == [("rating", flipped.pk)]
    assert field_rows(version, "rating", flipped.pk) == {"score": (str(flipped.score), "0")}
    history = staff_client.get(admin_url(Protocol, "history", protocol.pk)).content.decode()
    assert f"rating “{Rating.objects.get(pk=flipped.pk)}”" in history
    assert f'<td class="old-value">{flipped.score}</td><td class="new-value">0</td>' in history


def test_a_bulk_list_edit_records_each_rows_old_and_new_values(staff_client):
    criterion = Criterion.objects.exclude(base_weight=5).first()
    response = staff_client.post(
        admin_url(Criterion, "changelist"), criteria_list_data(**{criterion.slug: {"base_weight": "5"}})
    )
    assert response.status_code == 302
    version = KnowledgeBaseVersion.objects.first()
    assert field_rows(version, "criterion", criterion.pk) == {
        "base_weight": (str(criterion.base_weight), "5")
    }
    history = staff_client.get(admin_url(Criterion, "history", criterion.pk)).content.decode()
    assert f'<td class="old-value">{criterion.base_weight}</td><td class="new-value">5</td>' in history


def test_many_to_many_and_foreign_key_values_are_named():
    rating = Rating.objects.first()
    before = "; ".join(str(r) for r in rating.references.order_by("pk"))
    added = Reference.objects.exclude(pk__in=rating.references.all()).first()
    rating.references.add(added)
    version = KnowledgeBaseVersion.objects.first()
    old, new = field_rows(version, "rating", rating.pk)["references"]
    assert old == before and added.identifier in new and version.username == ""


def test_changes_outside_the_admin_record_their_values():
    criterion = Criterion.objects.first()
    old = criterion.base_weight
    criterion.base_weight = 4 if old != 4 else 2
    criterion.save()
    version = KnowledgeBaseVersion.objects.first()
    assert "outside the admin" in version.message
    assert field_rows(version, "criterion", criterion.pk) == {
        "base_weight": (str(old), str(criterion.base_weight))
    }


def test_a_deletion_records_what_it_cascaded_to(staff_client):
    profile = UseCaseProfile.objects.last()
    answers = set(profile.answers.values_list("pk", flat=True))
    response = staff_client.post(admin_url(UseCaseProfile, "delete", profile.pk), {"post": "yes"})
    assert response.status_code == 302
    version = KnowledgeBaseVersion.objects.first()
    assert version.action == KnowledgeBaseVersion.Action.DELETED
    deleted = set(version.changes.filter(action="deleted").values_list("model", "object_id"))
    assert ("usecaseprofile", profile.pk) in deleted
    assert {("profileanswer", pk) for pk in answers} <= deleted


# --- Revert ---------------------------------------------------------------------------------------


def revert_url(version: KnowledgeBaseVersion) -> str:
    return f"/admin/advisor/knowledgebaseversion/{version.pk}/revert/"


def test_reverting_a_change_puts_the_old_values_back_as_a_new_version(staff_client):
    rating = Rating.objects.get(**FLIPPING_RATING)
    old_score, old_rationale = rating.score, rating.rationale
    staff_client.post(
        admin_url(Rating, "change", rating.pk), rating_post_data(rating, score="0", rationale="Wrong.")
    )
    edit = KnowledgeBaseVersion.objects.first()
    page = staff_client.get(revert_url(edit))
    assert page.context["plan"].possible
    assert "Change back rating" in page.content.decode()
    assert "site-to-site" in {row.slug for row in page.context["impact"].changed}
    assert Rating.objects.get(pk=rating.pk).score == 0, "the confirmation page changed the rating"
    response = staff_client.post(revert_url(edit))
    assert response.status_code == 302
    rating.refresh_from_db()
    assert (rating.score, rating.rationale) == (old_score, old_rationale)
    revert = KnowledgeBaseVersion.objects.first()
    assert revert.number == edit.number + 1
    assert revert.action == KnowledgeBaseVersion.Action.REVERTED and revert.reverted == edit
    assert field_rows(revert, "rating", rating.pk)["score"] == ("0", str(old_score))
    assert knowledge.current().rating("ipsec-esp-tunnel", "site-to-site") == old_score
    version_page = staff_client.get(admin_url(KnowledgeBaseVersion, "change", edit.pk)).content.decode()
    assert "Reverted by" in version_page and f"v{revert.number}" in version_page


def test_a_revert_is_refused_when_a_later_version_changed_the_same_field(staff_client):
    rating = Rating.objects.get(**FLIPPING_RATING)
    staff_client.post(admin_url(Rating, "change", rating.pk), rating_post_data(rating, score="2"))
    first = KnowledgeBaseVersion.objects.first()
    rating.refresh_from_db()
    staff_client.post(admin_url(Rating, "change", rating.pk), rating_post_data(rating, score="1"))
    second = KnowledgeBaseVersion.objects.first()
    page = staff_client.get(revert_url(first))
    assert not page.context["plan"].possible
    problem = " ".join(page.context["plan"].problems)
    assert "score is now “1”, not “2”" in problem and f"changed since in v{second.number}" in problem
    assert "cannot be reverted" in page.content.decode()
    response = staff_client.post(revert_url(first), follow=True)
    assert "was not reverted" in " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert Rating.objects.get(pk=rating.pk).score == 1
    assert KnowledgeBaseVersion.objects.first() == second


def test_reverting_a_deletion_restores_the_records_it_cascaded_to(staff_client):
    profile = UseCaseProfile.objects.last()
    answers = sorted(profile.answers.values_list("pk", "option_id"))
    references = sorted(profile.references.values_list("pk", flat=True))
    staff_client.post(admin_url(UseCaseProfile, "delete", profile.pk), {"post": "yes"})
    deletion = KnowledgeBaseVersion.objects.first()
    assert staff_client.post(revert_url(deletion)).status_code == 302
    restored = UseCaseProfile.objects.get(pk=profile.pk)
    assert restored.name == profile.name
    assert sorted(restored.answers.values_list("pk", "option_id")) == answers
    assert sorted(restored.references.values_list("pk", flat=True)) == references
    assert not knowledge.state().problems


def test_reverting_an_addition_deletes_it_and_refuses_once_something_depends_on_it(staff_client):
    question = Question.objects.get(slug="scope")
    data = question_with_new_option(question)
    assert staff_client.post(admin_url(Question, "change", question.pk), data).status_code == 302
    addition = KnowledgeBaseVersion.objects.first()
    option = Option.objects.get(question=question, slug="lab-network")
    effect = OptionEffect.objects.create(
        option=option, kind="weight", criterion=Criterion.objects.first(), weight=1
    )
    page = staff_client.get(revert_url(addition))
    assert "would also delete option effect" in " ".join(page.context["plan"].problems)
    effect.delete()
    assert staff_client.post(revert_url(addition)).status_code == 302
    assert not Option.objects.filter(pk=option.pk).exists()


def test_a_fixture_load_cannot_be_reverted(staff_client):
    load = KnowledgeBaseVersion.objects.get(action=KnowledgeBaseVersion.Action.LOADED)
    page = staff_client.get(revert_url(load))
    assert "records no field values" in " ".join(page.context["plan"].problems)
    assert staff_client.post(revert_url(load)).status_code == 302
    assert KnowledgeBaseVersion.objects.first() == load


# --- Impact preview -------------------------------------------------------------------------------


def test_preview_shows_a_flipped_top_pick_saves_nothing_and_keeps_the_input(staff_client):
    rating = Rating.objects.get(**FLIPPING_RATING)
    before = KnowledgeBaseVersion.current_number()
    response = staff_client.post(
        admin_url(Rating, "change", rating.pk),
        rating_post_data(rating, score="0", rationale="Typed, not saved.", _preview="Preview impact"),
    )
    assert response.status_code == 200
    impact = response.context["impact"]
    site = next(row for row in impact.changed if row.slug == "site-to-site")
    assert site.pick_changed and site.before != site.after
    assert site.margin_before is not None and site.margin_after is not None
    page = response.content.decode()
    assert "Impact preview: nothing is saved yet" in page and site.after in page
    form = response.context["adminform"].form
    assert (form["score"].value(), form["rationale"].value()) == ("0", "Typed, not saved.")
    rating.refresh_from_db()
    assert rating.score != 0 and rating.rationale != "Typed, not saved."
    assert KnowledgeBaseVersion.current_number() == before
    assert knowledge.current().rating("ipsec-esp-tunnel", "site-to-site") == rating.score


def test_preview_of_an_inline_edit_keeps_the_inline_input(staff_client):
    protocol = Protocol.objects.get(slug="ipsec-esp-tunnel")
    ratings = list(Rating.objects.filter(protocol=protocol).order_by("criterion__order"))
    index = next(i for i, rating in enumerate(ratings) if rating.criterion.slug == "site-to-site")
    data = protocol_post_data(protocol, ratings, **{f"{index}-score": "0"}, _preview="Preview impact")
    data["_preview"] = "Preview impact"
    response = staff_client.post(admin_url(Protocol, "change", protocol.pk), data)
    assert response.status_code == 200
    assert "site-to-site" in {row.slug for row in response.context["impact"].changed if row.pick_changed}
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[index]["score"].value() == "0"
    assert Rating.objects.get(pk=ratings[index].pk).score == ratings[index].score


def test_an_invalid_edit_is_not_previewed_and_shows_its_error(staff_client):
    rating = Rating.objects.first()
    response = staff_client.post(
        admin_url(Rating, "change", rating.pk), rating_post_data(rating, score="9", _preview="Preview impact")
    )
    assert response.status_code == 200
    assert "impact" not in response.context
    assert response.context["adminform"].form.errors["score"]


def test_a_bulk_list_edit_gets_the_same_preview(staff_client):
    criterion = Criterion.objects.get(slug="operational-simplicity")
    data = criteria_list_data(**{criterion.slug: {"base_weight": "5"}})
    del data["_save"]
    data["_preview"] = "Preview impact"
    before = KnowledgeBaseVersion.current_number()
    response = staff_client.post(admin_url(Criterion, "changelist"), data)
    assert response.status_code == 200
    impact = response.context["impact"]
    assert impact.changed, "weighting operational simplicity heavily changes no profile's margin"
    formset = response.context["cl"].formset
    typed = next(form for form in formset.forms if form.instance.pk == criterion.pk)
    assert typed["base_weight"].value() == "5"
    assert Criterion.objects.get(pk=criterion.pk).base_weight == criterion.base_weight
    assert KnowledgeBaseVersion.current_number() == before
    assert 'name="_preview"' in response.content.decode()


def test_saving_after_a_preview_serves_the_saved_edit(staff_client):
    rating = Rating.objects.get(**FLIPPING_RATING)
    staff_client.post(
        admin_url(Rating, "change", rating.pk), rating_post_data(rating, score="0", _preview="Preview impact")
    )
    staff_client.post(admin_url(Rating, "change", rating.pk), rating_post_data(rating, score="1"))
    assert knowledge.current().rating("ipsec-esp-tunnel", "site-to-site") == 1


def test_an_issued_report_stays_as_it_was_through_edits_and_reverts(staff_client):
    kb = knowledge.current()
    report = reports.issue(kb, kb.profile("site-to-site").answers, title="Branch offices")
    result = report.result
    rating = Rating.objects.get(**FLIPPING_RATING)
    staff_client.post(admin_url(Rating, "change", rating.pk), rating_post_data(rating, score="0"))
    staff_client.post(revert_url(KnowledgeBaseVersion.objects.first()))
    report.refresh_from_db()
    assert report.result == result


# --- Options --------------------------------------------------------------------------------------


def test_a_new_option_goes_last_and_is_flagged_until_it_has_effects(staff_client):
    question = Question.objects.get(slug="scope")
    last = max(question.options.values_list("order", flat=True))
    data = question_with_new_option(question)
    response = staff_client.post(admin_url(Question, "change", question.pk), data, follow=True)
    option = Option.objects.get(question=question, slug="lab-network")
    assert option.order == last + 1
    assert list(question.options.all())[-1] == option
    warnings = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("“What to protect: A lab network” has no effects yet" in m for m in warnings)
    question_page = staff_client.get(admin_url(Question, "change", question.pk)).content.decode()
    assert question_page.count("⚠ no effects") == 1
    option_list = staff_client.get(admin_url(Option, "changelist"), {"q": "lab network"}).content.decode()
    assert "⚠ no effects" in option_list


def test_an_option_added_on_its_own_page_goes_last():
    question = Question.objects.get(slug="scope")
    last = max(question.options.values_list("order", flat=True))
    option = Option.objects.create(question=question, slug="lab", label="Lab")
    assert option.order == last + 1
    assert ProfileAnswer.objects.filter(option=option).count() == 0
    assert KnowledgeBaseChange.objects.filter(model="option", object_id=option.pk, action="added").exists()


def test_a_preview_names_the_problems_an_edit_would_add_and_not_those_already_there(staff_client):
    Option.objects.create(question=Question.objects.get(slug="path"), slug="older", label="Older, idle")
    question = Question.objects.get(slug="scope")
    data = question_with_new_option(question, _preview="Preview impact")
    count = question.options.count()
    response = staff_client.post(admin_url(Question, "change", question.pk), data)
    assert response.status_code == 200
    problems = response.context["impact"].problems
    assert [(problem.code, problem.record) for problem in problems] == [
        ("option-without-effect", ("option", "scope", "lab-network"))
    ]
    assert "this edit adds 1 problem" in response.content.decode()
    assert not Option.objects.filter(slug="lab-network").exists()
    typed = response.context["inline_admin_formsets"][0].formset.forms[count]
    assert typed["label"].value() == "A lab network"


def test_a_delete_action_on_the_list_records_one_version_with_every_record(staff_client):
    rules = list(ConsistencyRule.objects.all()[:2])
    triggers = set(rules[0].when_all.values_list("pk", flat=True))
    assert triggers
    response = staff_client.post(
        admin_url(ConsistencyRule, "changelist"),
        {"action": "delete_selected", "_selected_action": [str(rule.pk) for rule in rules], "post": "yes"},
    )
    assert response.status_code == 302
    version = KnowledgeBaseVersion.objects.first()
    assert version.action == KnowledgeBaseVersion.Action.DELETED
    assert {("consistencyrule", rule.pk) for rule in rules} <= set(
        version.changes.values_list("model", "object_id")
    )
    message = field_rows(version, "consistencyrule", rules[0].pk)["message"]
    assert message == (rules[0].message, "—")
    assert staff_client.post(revert_url(version)).status_code == 302
    assert ConsistencyRule.objects.filter(pk__in=[rule.pk for rule in rules]).count() == 2
    restored = ConsistencyRule.objects.get(pk=rules[0].pk)
    assert set(restored.when_all.values_list("pk", flat=True)) == triggers


def test_a_preview_on_an_add_page_saves_nothing_and_stays_an_add_page(staff_client):
    data = new_criterion_data(**ratings_post_data(list(Protocol.objects.all()), "protocol"))
    response = staff_client.post(admin_url(Criterion, "add"), {**data, "_preview": "Preview impact"})
    assert response.status_code == 200
    assert response.context["add"] and response.context["impact"].problems == ()
    assert response.context["adminform"].form.instance.pk is None
    assert not Criterion.objects.filter(slug="trial-criterion").exists()
    assert "Add criterion" in response.content.decode()
    assert staff_client.post(admin_url(Criterion, "add"), data).status_code == 302
    assert Criterion.objects.filter(slug="trial-criterion").exists()
