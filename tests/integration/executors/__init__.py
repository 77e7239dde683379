"""Executors and executor YAML files that the integration tests run inside Pea processes."""
