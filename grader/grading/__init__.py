"""One submission graded: its pipeline of stages, the pytest session, the rubric, verdicts.

Owns: ``pipeline`` (``Pipeline`` and ``STAGE_INPUTS``: each stage run at most once, on
demand; built up by ``stage_cache`` < ``static_stages`` < ``build_stages`` < ``run_stages``),
``diagnostics`` (layer cache, timed stop, waste), ``session`` (pytest outcomes into reports),
``single`` (one submission through pytest), ``rubric`` (what checks use), ``verdicts`` (a
failure into a check's result), ``known_breakages`` (log patterns), ``legacy`` (old reports
read), ``settings`` (how to grade). May import report, stages, dockerfile, intake, labs,
engine, facts; classrun and cli import it.
"""
