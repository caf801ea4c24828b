import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _require_postgresql():
    # The integration suite exists to exercise the real services; on anything
    # else it must fail, not pass vacuously.
    assert connection.vendor == "postgresql", "Run the integration suite with DATABASE_URL=postgres://..."
