"""gunicorn settings: `gunicorn -c config/gunicorn.py config.wsgi:application`.

Command-line flags (--workers, --bind) still override these.
"""

import gc
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
timeout = 30


def post_worker_init(worker):
    # Everything loaded at start-up (Django, the app, its URL and model
    # registries) lives for the whole process: freezing it keeps the garbage
    # collector from scanning it again on every full collection, which cost
    # list requests about 50 ms at their 99th percentile (docs/benchmarks.md).
    gc.freeze()
