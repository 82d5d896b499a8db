"""The production server under load: wizard journeys as htmx makes them, beside a trivial endpoint.

Run:
    .venv/bin/python bench/load.py                                  # 50 users, 10 s + 60 s, SQLite
    .venv/bin/python bench/load.py --users 10 --seconds 10 --trivial-seconds 5   # a quick check
    .venv/bin/python bench/load.py --think 0                        # saturation: no pause at all
    DATABASE_URL=postgres://advisor@127.0.0.1:PORT/advisor .venv/bin/python bench/load.py

It starts `make serve` (gunicorn with advisor/gunicorn_conf.py, DEBUG off) on a free port of 127.0.0.1,
with a fresh SQLite file in a temporary directory, or the database of DATABASE_URL when that is set,
and PDFs rendered in the request (the immediate task backend). The server runs as behind the TLS
proxy of production: every request carries `X-Forwarded-Proto: https`, the Secure cookies travel over
the loopback, and POSTs carry the https Origin and Referer that the CSRF checks expect. Locust drives
it from this process (headless, FastHttpUser on gevent) in two phases of one run; then the server stops.

1. trivial: every user requests GET /healthz (no database, no template) for --trivial-seconds.
2. wizard: every user walks complete journeys for --seconds: GET / (CSRF token) and POST /start/;
   for each step an htmx GET of the step and an htmx POST of an answer picked from the rendered
   options (sometimes "I don't know", one or two boxes of a multiple choice), following the path of
   the HX-Location header, up to the review; an htmx GET of the review, a POST of its form (the
   optional cover fields filled in half of the time) that issues the report, a GET of the report;
   with --pdf (the default) every fifth journey (over all users) then downloads the report's PDF.

Each user pauses before every request, in both phases, for a think time drawn uniformly from 0.5 to
1.5 times --think seconds (default 1, so 0.5-1.5 s). A browser asks for the next step as soon as the
POST of an answer returns; pausing before that GET too spreads the pair out, and keeps the two phases
paced alike. With a think time the users set the pace, and 50 of them are a light load: the figures
say whether the server keeps up with them. --think 0 sends each request as soon as the previous one
returns: that measures capacity, with locust sharing the machine's cores with the server.

Definitions: the rates count the requests that complete in the measured part of a phase: it starts
3 s (WARMUP_SECONDS) after every user of the phase has started (past the users' first think time, and the
first request of each gunicorn worker, which imports the views and WeasyPrint) and lasts --seconds or
--trivial-seconds. Counts, failures and percentiles cover the whole phase, warm-up included;
percentiles are nearest-rank over the response times that locust measures.
- rps: requests per second of the wizard phase, every kind together.
- step_p95_ms: 95th percentile of the step GETs and step POSTs together, in milliseconds.
- ratio: wizard-phase rps / trivial-phase rps. With a think time the users pace both phases alike,
  so the ratio stays near 1 while the server keeps up: it says little about capacity. At --think 0 it
  is the share of its trivial throughput that the server sustains for wizard requests.
- errors: over both phases, the requests that failed (no response within 30 s, a status other than
  the one expected: 302 for the start and the report issue, else 200; or unexpected content such as a step POST without HX-Location or a PDF that is
  not one), plus exceptions raised in the users' code.

It prints, per phase and kind of request, the count, failures, median and p95, then the parts of the
ratio, the causes of any errors, and last one line: users=N seconds=N rps=N step_p95_ms=N ratio=N errors=N
"""

from __future__ import annotations

# Importing locust lets gevent patch the standard library (socket, ssl, subprocess): it comes first.
from locust import FastHttpUser, constant, task

# isort: split
import argparse
import itertools
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from urllib.parse import urlencode

import gevent
import psutil
from locust.contrib.fasthttp import FastResponse
from locust.env import Environment

ROOT = Path(__file__).resolve().parent.parent
PDF_EVERY = 5  # every fifth report shown is downloaded as PDF too
UNKNOWN_SHARE = 0.1
MAX_STEPS = 40
WARMUP_SECONDS = 3
STEP_KINDS = ("step GET", "step POST")
REPORTS_SHOWN = itertools.count(1)
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
OPTION = re.compile(
    r'<label class="choice( unknown)?" for="[^"]*">\s*<input type="(radio|checkbox)" name="answer" value="([^"]+)"'
)
STEP_PATH = re.compile(r"/assessments/[0-9a-f-]{36}/[\w-]+/")
REPORT_PATH = re.compile(r"/reports/[0-9a-f-]{36}/")


@dataclass(frozen=True)
class Sample:
    phase: str
    name: str
    ms: float
    failed: bool
    done: float  # time.monotonic() when it completed


@dataclass(frozen=True)
class Phase:
    name: str
    started: float  # every user has started, and the warm-up is over
    ended: float
    server_cpu: float  # CPU seconds the server's processes used from `started` to `ended`

    def rate(self, samples: list[Sample], kinds: tuple[str, ...] | None = None) -> float:
        counted = [
            s
            for s in samples
            if s.phase == self.name
            and self.started <= s.done <= self.ended
            and (kinds is None or s.name in kinds)
        ]
        return len(counted) / (self.ended - self.started)

    def server_cpu_ms(self, samples: list[Sample]) -> float:
        """The server's CPU time per request completed in the measured part, in milliseconds."""
        completed = self.rate(samples) * (self.ended - self.started)
        return 1000 * self.server_cpu / completed if completed else math.nan


# --- The users ------------------------------------------------------------------------------------


class Browser(FastHttpUser):
    abstract = True
    default_headers = {"X-Forwarded-Proto": "https"}
    network_timeout = 30.0
    connection_timeout = 10.0
    wait_time = constant(0)  # the think time comes before each request: see send()

    def on_start(self) -> None:
        # Cookies are Secure; the TLS proxy is left out, so let them travel over http to the loopback.
        self.client.cookiejar.set_policy(DefaultCookiePolicy(secure_protocols=("https", "wss", "http")))
        self.origin = self.host.replace("http://", "https://", 1)
        self.page = "/"

    def send(
        self,
        method: str,
        path: str,
        name: str,
        *,
        expect: int,
        htmx: bool = False,
        form: list[tuple[str, str]] | None = None,
        check: Callable[[FastResponse], str | None] | None = None,
    ) -> FastResponse | None:
        """One request after a think time: its response when as expected, else None (recorded as failed)."""
        gevent.sleep(random.uniform(0.5, 1.5) * self.environment.parsed_options.think)
        headers = {}
        if htmx:
            headers |= {
                "HX-Request": "true",
                "HX-Target": "wizard",
                "HX-Current-URL": self.origin + self.page,
            }
        if method == "POST":
            headers |= {
                "Origin": self.origin,
                "Referer": self.origin + self.page,
                "Content-Type": "application/x-www-form-urlencoded",
            }
        data = urlencode(form) if form is not None else None
        with self.client.request(
            method, path, name=name, headers=headers, data=data, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code == 0:
                problem = repr(response.error)
            elif response.status_code != expect:
                problem = f"status {response.status_code}, expected {expect}"
            else:
                problem = check(response) if check else None
            if problem:
                response.failure(problem)
                return None
            if method == "GET":
                self.page = path
            return response


class TrivialUser(Browser):
    @task
    def healthz(self) -> None:
        self.send(
            "GET", "/healthz", "healthz", expect=200, check=lambda r: None if r.text == "ok" else "not ok"
        )


class StepsUser(Browser):
    """Wizard walks from the start page to the review: the step requests alone, for capacity."""

    @task
    def walk(self) -> None:
        self.walk_to_review()

    def walk_to_review(self) -> str | None:
        """Start an assessment and answer every step; the review's path, or None after a failure."""
        home = self.send("GET", "/", "home", expect=200, check=has_token)
        if home is None:
            return None
        started = self.send(
            "POST", "/start/", "start", expect=302, form=[token(home)], check=redirects(STEP_PATH)
        )
        if started is None:
            return None
        path = started.headers["Location"]
        for _ in range(MAX_STEPS):
            step = self.send("GET", path, "step GET", expect=200, htmx=True, check=has_options)
            if step is None:
                return None
            answer = [
                token(step),
                *(("answer", option) for option in choose(step.text)),
                ("direction", "next"),
            ]
            saved = self.send(
                "POST", path, "step POST", expect=200, htmx=True, form=answer, check=has_location
            )
            if saved is None:
                return None
            path = json.loads(saved.headers["HX-Location"])["path"]
            if path.endswith("/review/"):
                return path
        raise RuntimeError(f"the wizard did not reach the review in {MAX_STEPS} steps")


class WizardUser(StepsUser):
    """Complete journeys: the walk, the review, the report issued and shown, now and then its PDF."""

    @task
    def walk(self) -> None:
        path = self.walk_to_review()
        if path is None:
            return
        review = self.send("GET", path, "review", expect=200, htmx=True, check=has_token)
        if review is None:
            return
        cover = random.choice((("Remote access", "Load test"), ("", "")))  # the optional cover fields
        issued = self.send(
            "POST",
            path,
            "report issue",
            expect=302,
            form=[token(review), ("title", cover[0]), ("organisation", cover[1])],
            check=redirects(REPORT_PATH),
        )
        if issued is None:
            return
        report = issued.headers["Location"]
        shown = self.send("GET", report, "report", expect=200)
        if shown is not None and self.environment.parsed_options.pdf and next(REPORTS_SHOWN) % PDF_EVERY == 0:
            self.send("GET", f"{report}pdf/", "pdf", expect=200, check=is_pdf)


def token(page: FastResponse) -> tuple[str, str]:
    """The form's CSRF field, as htmx sends it with the form (the cookie is HttpOnly)."""
    return ("csrfmiddlewaretoken", TOKEN.search(page.text)[1])


def choose(page: str) -> list[str]:
    """A user's answer: "I don't know" now and then, else one option, or one or two boxes to tick."""
    options = OPTION.findall(page)
    unknown = [slug for is_unknown, _, slug in options if is_unknown]
    known = [slug for is_unknown, _, slug in options if not is_unknown]
    if unknown and (not known or random.random() < UNKNOWN_SHARE):
        return unknown[:1]
    if options[0][1] == "radio":
        return [random.choice(known)]
    return random.sample(known, min(len(known), random.choice((1, 2))))


def has_token(response: FastResponse) -> str | None:
    return None if TOKEN.search(response.text) else "no CSRF token in the page"


def has_options(response: FastResponse) -> str | None:
    return has_token(response) or (None if OPTION.search(response.text) else "no answer options in the step")


def has_location(response: FastResponse) -> str | None:
    location = response.headers.get("HX-Location")
    if not location:
        return "no HX-Location header"
    path = json.loads(location).get("path", "")
    return None if STEP_PATH.fullmatch(path) else f"HX-Location to {path!r}"


def redirects(pattern: re.Pattern[str]) -> Callable[[FastResponse], str | None]:
    def check(response: FastResponse) -> str | None:
        location = response.headers.get("Location", "")
        return None if pattern.fullmatch(location) else f"redirect to {location!r}"

    return check


def is_pdf(response: FastResponse) -> str | None:
    return None if response.content.startswith(b"%PDF-") else "not a PDF"


# --- The server and the run -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def production_server(startup_seconds: float = 300) -> Iterator[tuple[str, int]]:
    """`make serve` on a free port of 127.0.0.1, in its own process group, until the block ends.

    Yields its URL and the process id of `make`, whose descendants are the server.
    """
    with tempfile.TemporaryDirectory(prefix="advisor-load-") as scratch:
        port = free_port()
        environment = {
            **os.environ,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{scratch}/load.sqlite3",
            "STATIC_ROOT": f"{scratch}/static",
            "MEDIA_ROOT": f"{scratch}/media",
            "BEHIND_PROXY": "1",
            # Every simulated user comes from 127.0.0.1: per-address limits would stop them in seconds.
            "RATE_LIMITS": "0",
            "TASK_BACKEND": "immediate",
            "ACCESS_LOG": "/dev/null",
            "LOG_LEVEL": "WARNING",
        }
        log_path = Path(scratch, "server.log")
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                ["make", "--no-print-directory", "serve"],
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + startup_seconds
                while not healthy(base):
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"make serve did not come up:\n{log_path.read_text()[-3000:]}")
                    time.sleep(0.5)
                settle(server.pid)
                yield base, server.pid
            finally:
                # make waits for gunicorn, which stops its workers within graceful_timeout (20 s).
                with suppress(ProcessLookupError):
                    os.killpg(server.pid, signal.SIGTERM)
                try:
                    server.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait(timeout=10)


def settle(pid: int, timeout: float = 60) -> None:
    """Wait until every worker has booted and built its knowledge base: the server falls idle.

    The first worker answers /healthz before the others are ready; a phase started then would
    open every keep-alive connection on that one worker and measure a single process.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = server_cpu_seconds(pid)
        time.sleep(0.5)
        if server_cpu_seconds(pid) - before < 0.05:
            return


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def server_cpu_seconds(pid: int) -> float:
    """User and system CPU time used so far by the processes under `pid` (gunicorn and its workers)."""
    total = 0.0
    for process in psutil.Process(pid).children(recursive=True):
        with suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def run_phase(
    phase: str,
    user_class: type[Browser],
    seconds: float,
    options: argparse.Namespace,
    server: tuple[str, int],
    samples: list[Sample],
) -> tuple[Phase, Counter[str], bool]:
    """`options.users` users of `user_class`, measured for `seconds` after all have started and a warm-up.

    Returns the phase, the causes of its errors counted, and whether locust found its CPU saturated.
    """
    base, pid = server
    problems: Counter[str] = Counter()
    environment = Environment(user_classes=[user_class], host=base, parsed_options=options)

    def on_request(name: str, response_time: float, exception: Exception | None, **_: object) -> None:
        samples.append(Sample(phase, name, response_time, exception is not None, time.monotonic()))
        if exception is not None:
            problems[f"{phase}, {name}: {exception}"] += 1

    def on_user_error(exception: Exception, **_: object) -> None:
        problems[f"{phase}, in the user's code: {exception!r}"] += 1

    environment.events.request.add_listener(on_request)
    environment.events.user_error.add_listener(on_user_error)
    runner = environment.create_local_runner()
    runner.start(options.users, spawn_rate=options.spawn_rate or options.users)
    runner.spawning_greenlet.join()
    gevent.sleep(WARMUP_SECONDS)
    started, cpu_before = time.monotonic(), server_cpu_seconds(pid)
    gevent.sleep(seconds)
    ended, cpu_after = time.monotonic(), server_cpu_seconds(pid)
    runner.quit()
    return Phase(phase, started, ended, cpu_after - cpu_before), problems, runner.cpu_warning_emitted


def percentile(values: list[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def print_table(samples: list[Sample]) -> None:
    kinds: dict[tuple[str, str], list[Sample]] = {}
    for sample in samples:
        kinds.setdefault((sample.phase, sample.name), []).append(sample)
    print(f"{'phase':<8} {'kind':<13} {'count':>7} {'failed':>7} {'median_ms':>10} {'p95_ms':>8}")
    for (phase, name), group in kinds.items():
        times = [s.ms for s in group]
        failed = sum(s.failed for s in group)
        median = statistics.median(times)
        print(
            f"{phase:<8} {name:<13} {len(group):>7} {failed:>7} {median:>10.1f} {percentile(times, 0.95):>8.1f}"
        )


def parse_options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60, help="measured length of the wizard phase")
    parser.add_argument(
        "--trivial-seconds", type=int, default=10, help="measured length of the trivial phase"
    )
    parser.add_argument(
        "--capacity-seconds", type=int, default=10, help="measured length of the steps-only capacity phase"
    )
    parser.add_argument("--spawn-rate", type=float, help="users started per second (default: all in 1 s)")
    parser.add_argument("--think", type=float, default=1.0, help="mean pause before each request, s")
    parser.add_argument("--pdf", action=argparse.BooleanOptionalAction, default=True, help="download PDFs")
    return parser.parse_args()


def main() -> None:
    options = parse_options()
    flat_out = argparse.Namespace(**{**vars(options), "think": 0.0})
    samples: list[Sample] = []
    with production_server() as server:
        trivial, trivial_problems, trivial_cpu = run_phase(
            "trivial", TrivialUser, options.trivial_seconds, flat_out, server, samples
        )
        capacity, capacity_problems, capacity_cpu = run_phase(
            "steps", StepsUser, options.capacity_seconds, flat_out, server, samples
        )
        wizard, wizard_problems, wizard_cpu = run_phase(
            "wizard", WizardUser, options.seconds, options, server, samples
        )
    print_table(samples)
    trivial_rps, rps = trivial.rate(samples), wizard.rate(samples)
    capacity_steps_rps = capacity.rate(samples, STEP_KINDS)
    ratio = capacity_steps_rps / trivial_rps if trivial_rps else math.nan
    journeys = sum(s.phase == "wizard" and s.name == "report" and not s.failed for s in samples)
    print(f"trivial, flat out: {trivial_rps:.1f} requests/s over {trivial.ended - trivial.started:.1f} s")
    print(
        f"steps, flat out:   {capacity.rate(samples):.1f} requests/s, of which step GETs and POSTs "
        f"{capacity_steps_rps:.1f}/s, over {capacity.ended - capacity.started:.1f} s"
    )
    print(
        f"wizard, {options.users} users (think {options.think} s): {rps:.1f} requests/s over "
        f"{wizard.ended - wizard.started:.1f} s, of which steps {wizard.rate(samples, STEP_KINDS):.1f}/s; "
        f"{journeys} journeys reached their report"
    )
    print(f"ratio = {capacity_steps_rps:.1f} / {trivial_rps:.1f} = {ratio:.2f}")
    trivial_cpu_ms, steps_cpu_ms = trivial.server_cpu_ms(samples), capacity.server_cpu_ms(samples)
    print(
        f"server CPU per request, flat out: trivial {trivial_cpu_ms:.2f} ms, steps phase {steps_cpu_ms:.2f} ms "
        f"(ratio of the two {trivial_cpu_ms / steps_cpu_ms:.2f}); the server used "
        f"{trivial.server_cpu / (trivial.ended - trivial.started):.2f} and "
        f"{capacity.server_cpu / (capacity.ended - capacity.started):.2f} of {os.cpu_count()} cores"
    )
    if trivial_cpu or capacity_cpu or wizard_cpu:
        print(
            "locust's own CPU went above 90%: the load generator, not only the server, bounded these figures"
        )
    problems = trivial_problems + capacity_problems + wizard_problems
    for problem, count in problems.most_common(10):
        print(f"error x{count}: {problem}")
    step_p95 = percentile([s.ms for s in samples if s.phase == "wizard" and s.name in STEP_KINDS], 0.95)
    print(
        f"users={options.users} seconds={options.seconds} rps={rps:.1f} step_p95_ms={step_p95:.0f} "
        f"ratio={ratio:.2f} errors={problems.total()}"
    )


if __name__ == "__main__":
    main()
