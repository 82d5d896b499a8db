"""The production server as real processes: two of them over one database, a database that goes away,
and a server killed in the middle of saving answers."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.live import (
    ROOT,
    Browser,
    PostgresCluster,
    Server,
    manage,
    options_of,
    path_of,
    pick,
    postgres_bin,
    postgres_cluster,
    prepare,
    running,
    server_environment,
)

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        postgres_bin() is None, reason="needs the Debian postgresql package (make test installs it)"
    ),
    # These start databases of both kinds themselves; the PostgreSQL lane would only run them again.
    pytest.mark.skipif(
        os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="run once, in the SQLite lane"
    ),
]


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> Path:
    """Static files collected once for every server of this module, as `make serve` collects them."""
    root = tmp_path_factory.mktemp("static")
    manage(server_environment("sqlite://", root, root), "collectstatic", "--no-input")
    return root


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, static_root) -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster whose `advisor` database is migrated and loaded once, then copied per test."""
    with postgres_cluster() as running_cluster:
        prepare(server_environment(running_cluster.url, tmp_path_factory.mktemp("pg"), static_root))
        yield running_cluster


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory, static_root) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    prepare(server_environment(f"sqlite:///{path}", path.parent, static_root))
    return path


@pytest.fixture
def site(request, tmp_path, static_root) -> Callable[[str], dict[str, str]]:
    """The environment of a new, prepared site on SQLite or PostgreSQL, its database its own."""

    def make(kind: str) -> dict[str, str]:
        if kind == "sqlite":
            path = tmp_path / "site.sqlite3"
            shutil.copy(request.getfixturevalue("sqlite_template"), path)
            url = f"sqlite:///{path}"
        else:
            url = request.getfixturevalue("cluster").create(
                f"site_{uuid.uuid4().hex[:12]}", template="advisor"
            )
        return server_environment(url, tmp_path, static_root)

    return make


def start_assessment(browser: Browser, server: Server) -> str:
    """Open the start page, start from scratch; the path of the first step."""
    assert browser.request(server.base + "/").status == 200
    reply = browser.request(server.base + "/start/", {"csrfmiddlewaretoken": browser.csrf_token()})
    assert reply.status == 302, reply.body[:500]
    return path_of(reply.headers["Location"])


def answer_step(browser: Browser, server: Server, path: str) -> tuple[list[str], str]:
    """Read the step at `path`, answer it plausibly; the answer and where the server sends us next."""
    page = browser.request(server.base + path)
    assert page.status == 200, page.body[:500]
    chosen = pick(*options_of(page.body))
    reply = browser.request(
        server.base + path, {"csrfmiddlewaretoken": browser.csrf_token(), "answer": chosen}
    )
    assert reply.status == 302, reply.body[:500]
    return chosen, path_of(reply.headers["Location"])


def saved_answers(environment: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    """Every assessment's answers as the database holds them, read by a separate process."""
    code = (
        "import django, json; django.setup(); from advisor.models import Assessment; "
        "print(json.dumps({str(a.id): a.answers for a in Assessment.objects.all()}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_two_servers_over_one_postgresql_database_complete_one_assessment(site, tmp_path):
    environment = site("postgresql")
    first, second = Server(environment, tmp_path), Server(environment, tmp_path)
    with running(first, second):
        browser = Browser()
        servers = [first, second]
        path = start_assessment(browser, first)
        assessment = path.split("/")[2]
        answered = 0
        while not path.endswith("/review/"):
            # Each step is read from one server and saved through the other.
            page = browser.request(servers[answered % 2].base + path)
            assert page.status == 200
            chosen = pick(*options_of(page.body))
            reply = browser.request(
                servers[(answered + 1) % 2].base + path,
                {"csrfmiddlewaretoken": browser.csrf_token(), "answer": chosen},
            )
            assert reply.status == 302, reply.body[:500]
            path = path_of(reply.headers["Location"])
            answered += 1
        assert answered >= 8
        review = browser.request(second.base + path)
        assert review.status == 200 and "Review your answers" in review.body
        issued = browser.request(first.base + path, {"csrfmiddlewaretoken": browser.csrf_token()})
        assert issued.status == 302, issued.body[:1000]
        report = browser.request(second.base + path_of(issued.headers["Location"]))
        assert report.status == 200
        assert "1. Recommendation" in report.body and "What to configure" in report.body
        assert f"/assessments/{assessment}/" in report.body
        for server in servers:
            assert server.process.poll() is None


def test_a_database_outage_gives_503_pages_and_a_failing_readyz_then_recovers_without_a_restart(
    site, cluster, tmp_path
):
    environment = {**site("postgresql"), "DATABASE_POOL_TIMEOUT": "2"}
    server = Server(environment, tmp_path)
    with running(server):
        browser = Browser()
        first_step = start_assessment(browser, server)
        chosen, next_step = answer_step(browser, server, first_step)
        assert browser.request(server.base + "/readyz").status == 200

        cluster.stop()
        page = browser.request(server.base + next_step)
        assert page.status == 503
        assert "unavailable for a moment" in page.body and "Nothing you saved" in page.body
        assert page.headers["Retry-After"] == "30"
        assert "Traceback" not in page.body and "psycopg" not in page.body
        ready = browser.request(server.base + "/readyz")
        assert ready.status == 503 and json.loads(ready.body)["database"] == "unreachable"
        api = browser.request(server.base + "/api/v1/questions")
        assert api.status == 503 and "database" in json.loads(api.body)["detail"]
        assert browser.request(server.base + "/healthz").status == 200, "the process itself is alive"

        cluster.start()
        deadline = time.monotonic() + 20
        while browser.request(server.base + "/readyz").status != 200:
            assert time.monotonic() < deadline, "not ready 20 s after the database came back"
            time.sleep(0.2)
        again = browser.request(server.base + first_step)
        assert again.status == 200
        assert f'value="{chosen[0]}" id="answer-{chosen[0]}" checked' in again.body
        assert server.process.poll() is None, "recovered without a restart"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_server_killed_while_saving_answers_loses_no_acknowledged_answer(kind, site, tmp_path):
    environment = site(kind)
    server = Server(environment, tmp_path)
    acknowledged: list[tuple[str, str, list[str]]] = []
    lock = threading.Lock()
    killed = threading.Event()
    failures: list[BaseException] = []

    def user(number: int) -> None:
        # Eight people behind the proxy, each from their own address, as the rate limits expect.
        browser = Browser(address=f"198.51.100.{number + 1}")
        try:
            while not killed.is_set():
                path = start_assessment(browser, server)
                while not path.endswith("/review/") and not killed.is_set():
                    chosen, following = answer_step(browser, server, path)
                    with lock:
                        acknowledged.append((path.split("/")[2], path.split("/")[3], chosen))
                    path = following
        except (OSError, AssertionError, http.client.HTTPException) as error:
            # A killed server cuts replies off anywhere; before the kill, nothing may fail.
            if not killed.is_set():
                with lock:
                    failures.append(error)

    server.start()
    try:
        users = [threading.Thread(target=user, args=(number,)) for number in range(8)]
        for thread in users:
            thread.start()
        time.sleep(3)
        killed.set()
        server.kill()
        for thread in users:
            thread.join(timeout=60)
    finally:
        server.stop()

    assert not failures, f"requests failed before the kill: {failures[:3]}"
    assert len(acknowledged) >= 20, "the users saved too little before the kill to prove anything"
    saved = saved_answers(environment)
    lost = [(a, slug, chosen) for a, slug, chosen in acknowledged if saved.get(a, {}).get(slug) != chosen]
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged answers were lost: {lost[:5]}"

    with running(Server(environment, tmp_path)) as (restarted,):
        assessment = acknowledged[-1][0]
        review = Browser().request(f"{restarted.base}/assessments/{assessment}/review/")
        assert review.status == 200
