#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # A checkout with no SECRET_KEY in its environment is a development checkout: run as `make run`
    # does (DEBUG on, embedded defaults), so the README's commands work as written. A deployment
    # always sets SECRET_KEY, and DEBUG=0 without one still fails loudly in the settings.
    if not os.environ.get("SECRET_KEY"):
        os.environ.setdefault("DEBUG", "1")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
