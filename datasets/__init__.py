"""Datasets: the files a version is trained, validated or judged on, identified by their SHA-256.

Fineprint keeps each dataset's pre-check report (datasets.checks) and, for golden sets, their
fingerprints; the raw bytes only when DATASET_KEEP_FILES is on (docs/datasets.md).
"""
