"""Real processes for the tests that need them: a throwaway PostgreSQL cluster, the production server
(gunicorn with the settings of `make serve`), and a small HTTP client that walks the wizard as a browser
without JavaScript does.

The server runs as production does behind a TLS proxy: DEBUG off, and each request carries
`X-Forwarded-Proto: https` from 127.0.0.1, so Secure cookies and strict CSRF origin checks apply.
"""

from __future__ import annotations

import glob
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_bin() -> Path | None:
    """The newest PostgreSQL server installed from Debian packages, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


class PostgresCluster:
    """An unprivileged cluster in a temporary directory on 127.0.0.1 (run as `postgres` when we are root)."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries are missing: apt-get install postgresql")
        self.dir = Path(tempfile.mkdtemp(prefix="advisor-pg-"))
        self.port = free_port()
        self.url = f"postgres://advisor@127.0.0.1:{self.port}/advisor"
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.dir / "db"), "-A", "trust", "-U", "advisor")
        self.start()
        self.create("advisor")

    def create(self, name: str, template: str | None = None) -> str:
        """A new database, copied from `template` if given; its URL."""
        copy = ["-T", template] if template else []
        createdb = str(self.bin / "createdb")
        self._run(createdb, "-h", "127.0.0.1", "-p", str(self.port), "-U", "advisor", *copy, name)
        return f"postgres://advisor@127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        options = f"-k {self.dir} -p {self.port} -h 127.0.0.1"
        pg_ctl = str(self.bin / "pg_ctl")
        self._run(
            pg_ctl, "-D", str(self.dir / "db"), "-o", options, "-l", str(self.dir / "log"), "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.dir / "db"), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.remove()


def server_environment(database_url: str, scratch: Path, static_root: Path, **extra: str) -> dict[str, str]:
    """What `make serve` needs, for one site whose servers share the database, the media and the key."""
    return {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": extra.pop("SECRET_KEY", "live-tests-" + secrets.token_urlsafe(32)),
        "ALLOWED_HOSTS": "127.0.0.1",
        "BEHIND_PROXY": "1",
        "DATABASE_URL": database_url,
        "STATIC_ROOT": str(static_root),
        "MEDIA_ROOT": str(scratch / "media"),
        "LOG_LEVEL": "WARNING",
        "ACCESS_LOG": str(scratch / "access.log"),
        "DJANGO_SETTINGS_MODULE": "advisor.settings",
        **extra,
    }


def run_probe(script: str, environment: dict[str, str], *arguments: str, timeout: float = 300) -> dict:
    """Run one of the tests' probe scripts as its own process; the JSON object on its last line."""
    result = subprocess.run(
        [sys.executable, f"tests/{script}", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def manage(environment: dict[str, str], *command: str) -> None:
    subprocess.run(
        [sys.executable, "manage.py", *command, "-v", "0"],
        cwd=ROOT,
        env=environment,
        check=True,
        capture_output=True,
        timeout=180,
    )


def prepare(environment: dict[str, str]) -> None:
    """What `make serve` does to the database before it starts gunicorn: migrations, the knowledge base."""
    manage(environment, "migrate", "--no-input")
    manage(environment, "load_knowledge_base")


@dataclass
class Server:
    """gunicorn with advisor/gunicorn_conf.py on one port, in its own process group."""

    environment: dict[str, str]
    logs: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        environment = {**self.environment, "PORT": str(self.port), "WEB_CONCURRENCY": "2", "WEB_THREADS": "2"}
        self.log = open(self.logs / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "-c", "python:advisor.gunicorn_conf", "advisor.wsgi"],
            cwd=ROOT,
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"The server on port {self.port} exited: {self.output()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"The server on port {self.port} did not answer within {timeout} s")

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once, as a crash or an OOM kill would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "log", None):
            self.log.close()

    def output(self) -> str:
        self.log.flush()
        return (self.logs / f"server-{self.port}.log").read_text(errors="replace")


@contextmanager
def running(*servers: Server) -> Iterator[tuple[Server, ...]]:
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


class Browser:
    """A browser without JavaScript, as the TLS proxy passes it on: cookies, CSRF tokens, redirects by hand.

    Cookies are Secure in production, and the proxy has already removed TLS, so the cookie jar is told
    to send them over this loopback connection.
    """

    def __init__(self, address: str | None = None) -> None:
        """`address` is the client address the proxy reports, so each simulated user counts on its own."""
        self.address = address
        policy = http.cookiejar.DefaultCookiePolicy(secure_protocols=("https", "wss", "http"))
        self.cookies = http.cookiejar.CookieJar(policy)
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), NoRedirect
        )

    def request(self, url: str, data: dict | list | None = None, timeout: float = 30) -> Reply:
        parts = urllib.parse.urlsplit(url)
        origin = f"https://{parts.netloc}"
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        request = urllib.request.Request(url, data=body, method="POST" if data is not None else "GET")
        request.add_header("X-Forwarded-Proto", "https")
        if self.address:
            request.add_header("X-Forwarded-For", self.address)
        if data is not None:
            request.add_header("Origin", origin)
            request.add_header("Referer", origin + parts.path)
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return Reply(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, dict(error.headers), error.read().decode(errors="replace"))

    def csrf_token(self) -> str:
        return next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")


def options_of(page: str) -> tuple[str, list[str]]:
    """The input type (radio or checkbox) and the option values of a wizard step page."""
    found = re.findall(r'<input type="(radio|checkbox)" name="answer" value="([^"]+)"', page)
    assert found, "no options on this page"
    return found[0][0], [value for _, value in found]


def pick(kind: str, values: list[str]) -> list[str]:
    """A plausible answer: the first option that is not "I don't know"."""
    known = [value for value in values if value != "unknown"]
    return [known[0] if known else values[0]]


def path_of(location: str) -> str:
    return urllib.parse.urlsplit(location).path
