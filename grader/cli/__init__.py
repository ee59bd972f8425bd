"""The command line: ``grade``'s arguments, what it runs, its progress display.

Owns: ``entry`` (``grade``'s arguments, the head start of a single submission's build),
``command`` (what ``grade`` does, every exit code and printed error), ``progress`` and ``live``
(the class run's plain lines and live table). The top layer: may import every package below
(classrun, grading, report, stages, dockerfile, intake, labs, engine, facts); none imports it.
"""
