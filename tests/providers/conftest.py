"""Fixtures for the provider tests live in tests/conftest.py (the registry tests use them too)."""
