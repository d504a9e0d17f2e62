"""Developer tooling shared by scripts/demo and the end-to-end tests (not part of the provider)."""
