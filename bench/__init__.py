"""The benchmark: the grader against the raw Docker floor, run with ``python -m bench``."""
