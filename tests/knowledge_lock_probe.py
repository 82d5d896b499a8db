"""A cold knowledge-base cache met by two threads of one process on a SQLite file, run by test_concurrency.py.

One thread holds the write lock in a transaction (as a step save does) and then asks for the knowledge
base; the other asks for it meanwhile, outside any transaction. Neither may wait for the other. Prints
one JSON line: how long each took and what failed.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import django


def main() -> None:
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from advisor import fixture_io, knowledge
    from advisor.models import Assessment

    call_command("migrate", verbosity=0)
    fixture_io.load()
    assessment = Assessment.objects.create()
    connection.close()
    outcome: dict[str, object] = {}

    def saving() -> None:
        started = time.monotonic()
        try:
            with transaction.atomic():
                Assessment.objects.select_for_update().get(id=assessment.id)
                time.sleep(0.3)
                knowledge.current()
        except Exception as error:
            outcome["saving_error"] = f"{type(error).__name__}: {error}"
        outcome["saving_seconds"] = round(time.monotonic() - started, 2)

    def reading() -> None:
        time.sleep(0.1)
        started = time.monotonic()
        try:
            knowledge.current()
        except Exception as error:
            outcome["reading_error"] = f"{type(error).__name__}: {error}"
        outcome["reading_seconds"] = round(time.monotonic() - started, 2)

    threads = [threading.Thread(target=saving), threading.Thread(target=reading)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(outcome))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
