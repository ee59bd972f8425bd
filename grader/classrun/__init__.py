"""A class run: every submission of a class, graded in parallel, reused, cleaned up, merged.

Owns: ``batch`` (the run), ``jobs`` (one submission's way through it), ``workers`` (stages run
ahead in threads, on the least-loaded engine), ``cleanup``, ``reuse`` and ``secret`` (a report
kept when nothing changed), ``watchdog``; beyond one process: ``shards`` and ``merge`` (CI
matrices), ``tasks``, ``payload``, ``remote`` and ``worker`` (a Celery queue). May import
grading, report and every layer below; only cli imports it.
"""
