"""The audit chain in the admin: checkpoints and the verifier's runs (docs/audit.md)."""
