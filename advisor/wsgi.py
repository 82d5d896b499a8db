"""WSGI entry point for production servers."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advisor.settings")

application = get_wsgi_application()

# The views (and WeasyPrint behind them) load here, not on each worker's first request; with gunicorn's
# preload_app that happens once, before the workers fork.
import advisor.urls  # noqa: E402, F401
