#!/usr/bin/env python
"""Django's command-line utility for Protocol Advisor."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "advisor.settings")
    # A developer's tool: without DEBUG set, commands run as in development. The servers (wsgi.py,
    # make serve, make worker) default to DEBUG off and then require SECRET_KEY.
    os.environ.setdefault("DEBUG", "1")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as problem:
        sys.exit(f"Configuration error: {problem}")


if __name__ == "__main__":
    main()
