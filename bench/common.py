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
        RATE_LIMITS="0",  # every timed call comes from one address
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


def interleaved_median_ms(actions: dict[str, Callable[[], object]], rounds: int = 500) -> dict[str, float]:
    """Median wall time of each action in milliseconds, the actions taking turns in every round.

    Taking turns exposes each action to the same moments of machine load, so their ratios hold
    even when something else is running.
    """
    for action in actions.values():
        action()
    timings: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(rounds):
        for name, action in actions.items():
            start = time.perf_counter()
            action()
            timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1000 for name, values in timings.items()}
