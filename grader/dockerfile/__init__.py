"""The Dockerfile read without Docker: parsed, resolved, linted, its mistakes."""
