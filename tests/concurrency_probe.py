"""Many users at once against a real SQLite file, run as its own process by test_concurrency.py.

Each thread is one browser: it saves wizard steps (its own assessment, and a shared one) and admins
record knowledge-base versions at the same time. It prints one JSON line of counts.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter
from urllib.parse import urlencode

import django

THREADS = 20
STEPS = ("scope", "endpoints", "far-end", "app-change", "path", "traffic")


def main() -> None:
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from advisor import fixture_io
    from advisor.models import Assessment, KnowledgeBaseVersion

    call_command("migrate", verbosity=0)
    fixture_io.load()
    answers = {
        "scope": "site-link",
        "endpoints": "gateways",
        "far-end": "own",
        "app-change": "some",
        "path": "udp-open",
        "traffic": "mixed",
    }
    shared = Assessment.objects.create()
    own = [Assessment.objects.create() for _ in range(THREADS)]
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def user(index: int) -> None:
        client = Client(HTTP_HOST="localhost")
        start.wait()
        for step in STEPS:
            for assessment in (own[index], shared):
                url = reverse("advisor:step", args=[assessment.id, step])
                form = urlencode({"answer": answers[step], "direction": "next"})
                status = client.post(url, form, content_type="application/x-www-form-urlencoded").status_code
                with lock:
                    outcomes["saved" if status == 302 else f"status {status}"] += 1
            if index % 4 == 0:
                KnowledgeBaseVersion.record(KnowledgeBaseVersion.Action.CHANGED, message=f"admin {index}")
                with lock:
                    outcomes["versions"] += 1
        connection.close()

    threads = [threading.Thread(target=user, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    complete = sum(len(Assessment.objects.get(id=a.id).answers) == len(STEPS) for a in [*own, shared])
    numbers = list(KnowledgeBaseVersion.objects.values_list("number", flat=True))
    print(
        json.dumps(
            {
                **outcomes,
                "complete_assessments": complete,
                "versions_distinct": len(set(numbers)) == len(numbers),
                "versions_recorded": len(numbers),
                "journal_mode": connection.cursor().execute("PRAGMA journal_mode").fetchone()[0],
            }
        )
    )


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    main()
