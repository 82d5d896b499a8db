"""The JSON API: happy paths, every kind of bad input as a 400 with field messages, and its OpenAPI document."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openapi_spec_validator import validate

from advisor import knowledge
from advisor.models import KnowledgeBaseVersion, Rating

pytestmark = pytest.mark.django_db

RECOMMEND = "/api/v1/recommendations"


def post(client, body, content_type="application/json"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(RECOMMEND, data, content_type=content_type)


def profile_answers(slug: str) -> dict[str, list[str]]:
    return {
        question: list(options) for question, options in knowledge.current().profile(slug).answers.items()
    }


def test_questions_lists_every_question_with_options_and_conditions(client):
    response = client.get("/api/v1/questions")
    assert response.status_code == 200
    questions = response.json()
    assert [q["order"] for q in questions] == sorted(q["order"] for q in questions)
    client_question = next(q for q in questions if q["slug"] == "vpn-client")
    assert {"question": "scope", "option": "remote-access"} in client_question["shown_when_any"]
    assert all(len(q["options"]) >= 2 for q in questions)
    scope = next(q for q in questions if q["slug"] == "scope")
    assert {o["slug"]: o["flow"] for o in scope["options"]}["site-link"] == "site-link"
    assert all(q["assumption"] for q in questions if any(o["is_unknown"] for o in q["options"]))


def test_profiles_lists_preset_answers_and_expectations(client):
    profiles = client.get("/api/v1/profiles").json()
    site = next(p for p in profiles if p["slug"] == "site-to-site")
    assert site["expected_protocol"] == "ipsec-esp-tunnel"
    assert site["answers"]["scope"] == ["site-link"]


def test_recommendation_for_valid_answers(client):
    response = post(client, {"answers": profile_answers("site-to-site")})
    assert response.status_code == 200
    data = response.json()
    assert data["primary"]["slug"] == "ipsec-esp-tunnel"
    assert data["knowledge_base_version"] == KnowledgeBaseVersion.current_number()
    (part,) = data["parts"]
    assert part["flow"]["slug"] == "site-link"
    assert [layer["protocol"]["slug"] for layer in part["layers"]] == ["ipsec-esp-tunnel"]
    assert part["ranking"][0]["protocol"]["slug"] == "ipsec-esp-tunnel"
    top = part["ranking"][0]
    assert sum(c["points"] for c in top["contributions"]) == pytest.approx(top["total"], abs=0.1)
    assert any(ref["identifier"] == "RFC 7296" for ref in part["protocols"][0]["references"])
    assert part["excluded"] and all(row["reason"] for row in part["excluded"])
    assert part["why"] and data["summary"]
    assert part["guidance"] and all(item["sources"] for item in part["guidance"])


def test_a_compound_case_gets_a_design_with_a_part_per_flow(client):
    data = post(client, {"answers": profile_answers("sites-and-customer-portal")}).json()
    assert data["kind"] == "parts"
    assert [(p["flow"]["slug"], p["primary"]["slug"]) for p in data["parts"]] == [
        ("site-link", "ipsec-esp-tunnel"),
        ("public-service", "tls"),
    ]


def test_open_questions_come_back_as_assumptions(client):
    answers = {**profile_answers("site-to-site"), "path": ["unknown"], "compliance": ["unknown"]}
    data = post(client, {"answers": answers}).json()
    assert {row["question"] for row in data["assumptions"]} >= {"path", "compliance", "app-change"}
    assert all(row["text"] for row in data["assumptions"])


def errors_of(response) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"]
    return body["errors"]


def test_unknown_question_and_option_are_named(client):
    answers = {**profile_answers("site-to-site"), "no-such-question": ["x"], "scope": ["no-such-option"]}
    errors = errors_of(post(client, {"answers": answers}))
    assert errors["answers.no-such-question"] == ["There is no such question."]
    assert "Not an option" in errors["answers.scope"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"answers": {"scope": "between-sites"}}, "answers.scope"),
        ({"answers": {"scope": [3]}}, "answers.scope.0"),
        ({"answers": ["scope"]}, "answers"),
        ({}, "answers"),
        ({"answers": {}, "extra": 1}, "extra"),
        ([1, 2], "body"),
    ],
)
def test_wrong_types_are_refused_by_field(client, body, field):
    assert field in errors_of(post(client, body))


def test_answer_to_a_question_that_is_not_asked(client):
    answers = {**profile_answers("site-to-site"), "vpn-client": ["yes"]}
    errors = errors_of(post(client, {"answers": answers}))
    assert errors == {"answers.vpn-client": ["This question is not asked after your other answers."]}


def test_missing_required_answers_are_each_named(client):
    errors = errors_of(post(client, {"answers": {"scope": ["remote-access"]}}))
    assert errors["answers.vpn-client"] == ["This question needs an answer."]
    assert "answers.scope" not in errors


def test_two_answers_to_a_single_choice_question(client):
    answers = {**profile_answers("site-to-site"), "protection": ["confidentiality", "integrity-only"]}
    assert errors_of(post(client, {"answers": answers}))["answers.protection"] == [
        "This question takes a single answer."
    ]


@pytest.mark.parametrize("body", ["{not json", "", "null"])
def test_malformed_json(client, body):
    errors = errors_of(post(client, body))
    assert "body" in errors or "answers" in errors


def test_oversized_body_is_refused_before_it_is_parsed(client):
    huge = json.dumps({"answers": {"scope": ["x" * 1024 * 1024]}})
    response = post(client, huge)
    assert response.status_code == 413
    assert response.json() == {"detail": "The request is larger than this site accepts (512 KB at most)."}


def test_wrong_method_is_not_a_server_error(client):
    assert client.get(RECOMMEND).status_code == 405


def test_openapi_document_is_valid_and_describes_the_endpoints(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert {"/api/v1/questions", "/api/v1/profiles", "/api/v1/recommendations"} <= set(document["paths"])
    assert "400" in document["paths"]["/api/v1/recommendations"]["post"]["responses"]


def test_an_admin_edit_shows_in_the_very_next_recommendation(client, staff_client):
    body = {"answers": profile_answers("site-to-site")}
    before = post(client, body).json()
    rating = Rating.objects.get(protocol__slug="ipsec-esp-tunnel", criterion__slug="site-to-site")
    staff_client.post(
        f"/admin/advisor/rating/{rating.pk}/change/",
        {
            "protocol": rating.protocol_id,
            "criterion": rating.criterion_id,
            "score": 0,
            "rationale": rating.rationale,
            "references": list(rating.references.values_list("pk", flat=True)),
        },
    )
    after = post(client, body).json()
    assert after["knowledge_base_version"] == before["knowledge_base_version"] + 1
    assert after["parts"][0]["ranking"][0]["total"] != before["parts"][0]["ranking"][0]["total"]


def test_an_unchanged_knowledge_base_costs_one_query_per_request(client, settings):
    settings.RATELIMIT_ENABLE = False  # the rate-limit counters have their own test; this one counts the rest
    body = {"answers": profile_answers("email")}
    post(client, body)
    with CaptureQueriesContext(connection) as queries:
        assert post(client, body).status_code == 200
        assert client.get("/api/v1/questions").status_code == 200
    assert len(queries) == 2, [q["sql"] for q in queries]
    assert all("advisor_knowledgebaseversion" in q["sql"] for q in queries)


def test_a_change_made_by_another_process_is_seen(client):
    """Another process bumps the version row; this process's cached snapshot must not be served."""
    post(client, {"answers": profile_answers("email")})
    cached = knowledge.current()
    KnowledgeBaseVersion.record(KnowledgeBaseVersion.Action.CHANGED, message="edited elsewhere")
    assert knowledge.current() is not cached
    assert knowledge.current().version == cached.version + 1


def test_recommendation_body_matches_its_documented_schema(client):
    from advisor.api import RecommendationOut

    for slug in (
        "site-to-site",
        "high-assurance-two-layers",
        "contractors-unmanaged",
        "staff-and-contractors",
    ):
        data = post(client, {"answers": profile_answers(slug)}).json()
        assert RecommendationOut.model_validate(data).model_dump(mode="json") == data
