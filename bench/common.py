"""Shared by the benchmark scripts: a throwaway database with the shipped knowledge base, and timing."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def setup_django() -> None:
    """Production settings (DEBUG off, collected static files) on a new SQLite file, migrated and loaded."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    scratch = Path(tempfile.mkdtemp())
    os.environ.update(
        DJANGO_SETTINGS_MODULE="advisor.settings",
        DEBUG="0",
        SECRET_KEY="bench-only",
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
        DATABASE_URL=f"sqlite:///{scratch / 'bench.sqlite3'}",
        STATIC_ROOT=str(scratch / "static"),
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("collectstatic", verbosity=0, interactive=False)
    call_command("migrate", verbosity=0)
    call_command("load_knowledge_base", verbosity=0)


def median_ms(action: Callable[[], object], rounds: int = 300) -> float:
    """Median wall time of `action` in milliseconds, after one warm-up call."""
    action()
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000
