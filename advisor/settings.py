"""Settings for Protocol Advisor.

One module for every environment: what differs in production comes from
environment variables, and the defaults are safe for a developer's machine.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


FLAG_VALUES = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def env_flag(name: str, default: bool = False) -> bool:
    """A yes/no setting; a value it does not understand stops start-up rather than meaning "no"."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in FLAG_VALUES:
        raise ImproperlyConfigured(
            f"{name}={os.environ[name]!r} is not understood: use 1 or 0 (true/false, yes/no and on/off work too)."
        )
    return FLAG_VALUES[raw]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None


def env_rate(name: str, default: str) -> str:
    """A rate limit such as 60/h: a count, a slash, then s, m, h or d (optionally a number first: 10/5m)."""
    raw = os.environ.get(name, "").strip() or default
    if not re.fullmatch(r"\d+/\d*[smhd]", raw):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a rate: write it like 60/h (per s, m, h or d).")
    return raw


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def checkout_secret_key() -> str:
    """For DEBUG only: a random key kept in this checkout, so sessions survive a restart of `make run`."""
    key_file = BASE_DIR / ".secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


DEBUG = env_flag("DEBUG")
if os.environ.get("SECRET_KEY", "").strip():
    SECRET_KEY = os.environ["SECRET_KEY"].strip()
elif DEBUG:
    SECRET_KEY = checkout_secret_key()
else:
    # Each server must sign with the same key, and a key written into the checkout would differ per
    # server, fail on a read-only image, or end up baked into one.
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. With DEBUG off it is required: set the same long random value on every "
        "server, e.g. the output of: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
BEHIND_PROXY = env_flag("BEHIND_PROXY")
# The admin's address; moving it off /admin/ keeps it out of every scanner's first guess.
ADMIN_PATH = os.environ.get("ADMIN_PATH", "admin/").strip("/") + "/"

INSTALLED_APPS = [
    "advisor.apps.AdvisorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "axes",
    "advisor",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "advisor.middleware.RequestLimitsMiddleware",
    "advisor.middleware.PrivatePagesMiddleware",
    "advisor.owned.OwnedAssessmentsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First: refuses any login attempt from a client that is locked out, before a password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "advisor.urls"
WSGI_APPLICATION = "advisor.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3's connection pool, through Django; it replaces persistent connections. Each connection
    # is checked as it is taken, so after the database restarts the next request gets a live one; a
    # request waits at most DATABASE_POOL_TIMEOUT seconds for a connection, then gets a 503, not a hang.
    from psycopg_pool import ConnectionPool

    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "pool": {
            "min_size": 1,
            "max_size": env_int("DATABASE_POOL_SIZE", 4),
            "timeout": env_int("DATABASE_POOL_TIMEOUT", 5),
            "check": ConnectionPool.check_connection,
        },
        **DATABASES["default"].get("OPTIONS", {}),
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Many users at once on the embedded database: a transaction takes the write lock when it starts
    # (a save that reads, then writes, would otherwise be refused the lock instead of waiting for it),
    # waits up to 20 s for it, and readers never block the writer (write-ahead log).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **DATABASES["default"].get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# A strict policy: nothing inline, nothing from other origins. Django's admin and
# our templates carry the per-request nonce on their <script> and <link> tags.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "media/"

# Report PDFs render as a task. The immediate backend runs it in the request, so `make run` needs no
# worker; TASK_BACKEND=database queues it for `manage.py db_worker` (django-tasks-db) in production.
TASK_BACKENDS = {
    "immediate": "django.tasks.backends.immediate.ImmediateBackend",
    "database": "django_tasks_db.DatabaseBackend",
}
TASK_BACKEND = os.environ.get("TASK_BACKEND", "immediate")
if TASK_BACKEND not in TASK_BACKENDS:
    raise ImproperlyConfigured(f"TASK_BACKEND={TASK_BACKEND!r} is not one of: {', '.join(TASK_BACKENDS)}.")
TASKS = {"default": {"BACKEND": TASK_BACKENDS[TASK_BACKEND]}}
# A render claims its PDF for this long and renews the claim while it works; when a render dies, the
# next request or worker takes the PDF up once the claim has run out, so well within a minute.
PDF_RENDER_LEASE_SECONDS = 30

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Sessions live in the database, so logging out or changing a password ends them for good: a copied
# cookie is worth nothing afterwards. `manage.py clearsessions` removes expired ones (make serve runs it).
# Only admins need one: the wizard keeps this browser's assessments in a signed cookie (advisor.owned).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The site uses none of these browser features; deny them to this page and anything it might embed.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}
if not DEBUG:
    SECURE_SSL_REDIRECT = env_flag("SECURE_SSL_REDIRECT", True)
    # Load balancers probe liveness and readiness over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    # The preload token alone enrols nothing: the domain's owner submits it to the browsers' list.
    SECURE_HSTS_PRELOAD = env_flag("SECURE_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None

# Two caches. "default" lives in each process: page fragments and computed answers, cheap to rebuild.
# "shared" holds the rate-limit counters, which every process and server must see: Redis when
# REDIS_URL is set, else a table in the site's own database, so the embedded setup needs nothing more.
# The database table counts by read-then-write, so two requests in the same instant may count once:
# close enough for the embedded setup; Redis counts exactly.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "advisor"},
    "shared": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}
    if os.environ.get("REDIS_URL")
    else {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "advisor_shared_cache",
        "OPTIONS": {"MAX_ENTRIES": 20000},
    },
}
RATELIMIT_ENABLE = env_flag("RATE_LIMITS", True)  # off only for load tests from one address
RATELIMIT_USE_CACHE = "shared"
RATELIMIT_IP_META_KEY = "advisor.clients.client_ip"
RATELIMIT_VIEW = "advisor.views.too_many_requests"
# Requests per client address (IPv6 counted per /64), per hour unless the rate says otherwise.
# An office behind one NAT address shares them, hence room for a few dozen colleagues.
RATE_LIMITS = {
    "start": env_rate("RATE_LIMIT_START", "60/h"),
    "report": env_rate("RATE_LIMIT_REPORT", "60/h"),
    "reevaluate": env_rate("RATE_LIMIT_REEVALUATE", "30/h"),
    "pdf": env_rate("RATE_LIMIT_PDF", "60/h"),
    "feedback": env_rate("RATE_LIMIT_FEEDBACK", "20/h"),
    "api": env_rate("RATE_LIMIT_API", "120/m"),
}

# Admin logins: after 5 wrong passwords for one user name from one address, that pair is locked out
# for an hour (`manage.py axes_reset` lifts every lockout at once, `axes_reset_username NAME` one).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 1  # hours; templates/admin/locked_out.html says so
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "advisor.clients.client_ip"
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_SENSITIVE_PARAMETERS = ["password"]
AXES_VERBOSE = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO").upper()},
    # WeasyPrint reports each layout step at INFO; only its warnings matter here.
    "loggers": {"weasyprint.progress": {"level": "WARNING"}},
}

# Answers and admin forms are small; refuse anything much larger before parsing it (see
# advisor.middleware.RequestLimitsMiddleware for bodies of any kind).
DATA_UPLOAD_MAX_MEMORY_SIZE = 512 * 1024
MAX_REQUEST_BODY_BYTES = DATA_UPLOAD_MAX_MEMORY_SIZE
CSRF_FAILURE_VIEW = "advisor.views.csrf_failure"
