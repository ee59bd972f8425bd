"""The Dockerfile read without Docker: parsed, resolved, linted, its mistakes.

Owns: ``parse`` (instructions with lines), ``resolve`` (one reading as Docker reads it),
``instructions`` (helpers on them), ``mistakes`` (pure detectors), ``lint`` (hadolint),
``builder_syntax`` (what only BuildKit builds), ``stated`` (the image as the Dockerfile states
it). Pure but for hadolint's subprocess; checks may import it. May import intake, labs,
engine's pure modules, facts.
"""
