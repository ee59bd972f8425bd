"""One submission's Docker stages: build, image, run, probe, registry, stop, waste, cache.

Each module does one stage's work on the engine and returns frozen facts (``grader.facts``):
``build`` (with ``buildkit_log``, ``context``), ``image``, ``isolation``, ``run`` and
``runtime``, ``probe`` (with ``page_text``, ``deadline``: the only importer of ``requests``
for the student's app), ``registry`` and ``registry_trust`` (the registry API v2, the other
importer of ``requests``), ``stopping``, ``waste`` (with ``layers``, ``overlay``),
``cache_probe``. May import dockerfile, intake, labs, engine, facts; never grading (the
pipeline calls the stages, not the other way round).
"""
