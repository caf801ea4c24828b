"""Auditor exports in the admin (docs/audit.md)."""
