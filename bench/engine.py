"""Median time of one recommendation, and of one API call beside a trivial view in the same run.

Run: .venv/bin/python bench/engine.py   (uses a throwaway SQLite database with the shipped knowledge base)
"""

from __future__ import annotations

import json
import statistics

from common import median_ms, setup_django

ROUNDS = 300


def distinct_answer_bodies(kb, count: int) -> list[str]:
    """Valid answer sets no request has sent yet: each profile with one answer changed, in every way."""
    from advisor import engine

    bodies: dict[str, None] = {}
    for profile in kb.profiles:
        for question in engine.visible_questions(kb, profile.answers):
            for option in question.options:
                answers = {**profile.answers, question.slug: (option.slug,)}
                asked = {q.slug for q in engine.visible_questions(kb, answers)}
                answers = {q: o for q, o in answers.items() if q in asked}
                if engine.validate(kb, answers) == {}:
                    bodies[json.dumps({"answers": answers})] = None
    unique = list(bodies)
    assert len(unique) >= count, f"only {len(unique)} distinct answer sets"
    return unique[:count]


def main() -> None:
    setup_django()
    from django.test import Client

    from advisor import engine, knowledge

    kb = knowledge.current()
    client = Client()

    print(
        f"Knowledge base: {len(kb.protocols)} protocols, {len(kb.criteria)} criteria, {len(kb.questions)} questions"
    )
    per_profile = {p.slug: median_ms(lambda p=p: engine.recommend(kb, p.answers)) for p in kb.profiles}
    for slug, ms in per_profile.items():
        print(f"  recommend {slug:<36} {ms:7.3f} ms")
    print(
        f"recommendation, median over profiles:   {statistics.median(per_profile.values()):7.3f} ms (target < 1 ms)"
    )

    body = json.dumps(
        {"answers": {q: list(o) for q, o in kb.profile("remote-access-managed").answers.items()}}
    )

    def api_call() -> None:
        response = client.post("/api/v1/recommendations", body, content_type="application/json")
        assert response.status_code == 200, response.content

    def trivial() -> None:
        assert client.get("/healthz").status_code == 200

    fresh_bodies = iter(distinct_answer_bodies(kb, ROUNDS + 1))

    def api_call_new_answers() -> None:
        body = next(fresh_bodies)
        response = client.post("/api/v1/recommendations", body, content_type="application/json")
        assert response.status_code == 200, response.content

    api_ms, trivial_ms, fresh_ms = median_ms(api_call), median_ms(trivial), median_ms(api_call_new_answers)
    print(f"API call, answers seen before (cached): {api_ms:7.3f} ms")
    print(f"API call, answers never seen (computed):{fresh_ms:7.3f} ms")
    print(f"trivial view through the test client:   {trivial_ms:7.3f} ms")
    print(
        f"ratio API / trivial:                    {api_ms / trivial_ms:7.2f} cached, {fresh_ms / trivial_ms:.2f} computed"
    )
    snapshot_ms = median_ms(knowledge.build, rounds=20)
    print(f"rebuilding the snapshot after an edit:  {snapshot_ms:7.3f} ms (once per edit per process)")
    check_ms = median_ms(lambda: engine.integrity_problems(kb), rounds=50)
    print(f"checking its integrity:                 {check_ms:7.3f} ms (once per edit per process)")


if __name__ == "__main__":
    main()
