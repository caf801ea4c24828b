"""Django's flush, which the append-only triggers refuse on history tables, except in the test suite.

pytest-django empties the database between transactional tests with `flush`;
`AUDIT_HISTORY_FLUSH_ALLOWED` (set only by config/settings_test.py) lets it
through the documented exception (core.chain.history_rewrite). Anywhere else,
flush fails on the first history table, as it should.
"""

from django.conf import settings
from django.core.management.commands import flush

from core import chain


class Command(flush.Command):
    def handle(self, **options):
        if not settings.AUDIT_HISTORY_FLUSH_ALLOWED:
            return super().handle(**options)
        with chain.history_rewrite(options["database"]):
            return super().handle(**options)
