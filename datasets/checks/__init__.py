"""The dataset pre-check: a Django-free engine that reads a JSONL file once, in bounded memory,
and returns a deterministic, JSON-serialisable report (see docs/datasets.md).

Django code (the Celery task, the API, the admin, the `check_dataset` command) calls only the
names exported here.
"""

from __future__ import annotations

from datasets.checks.models import UnknownBaseModel, context_limit, encoding_for
from datasets.checks.policy import default_policy
from datasets.checks.report import check_file, golden_fingerprint

__all__ = [
    "UnknownBaseModel",
    "check_file",
    "context_limit",
    "default_policy",
    "encoding_for",
    "golden_fingerprint",
]
