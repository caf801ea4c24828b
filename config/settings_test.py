"""Settings for the test suite: the real settings with test-safe defaults."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
os.environ.setdefault("AUDIT_CHAIN_KEY", "tests-only-audit-chain-key-not-a-secret-0123456789")
os.environ.setdefault("FINEPRINT_VAR_DIR", tempfile.mkdtemp(prefix="fineprint-test-"))

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed: tests only
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The test client, pytest-django's live server and the integration workers speak plain HTTP on
# loopback: no redirect to HTTPS here (tests/core/test_deploy_settings.py checks the real default).
SECURE_SSL_REDIRECT = False
# No closing day for new fine-tuning jobs: tests that are not about it must not depend on today's
# date (tests/lifecycle sets it where it matters).
OPENAI_LAST_FINE_TUNING_DAY = None
# pytest-django empties the database between transactional tests (flush): history included.
AUDIT_HISTORY_FLUSH_ALLOWED = True
