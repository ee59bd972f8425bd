"""One submission graded: the pipeline, the pytest session, the rubric, verdicts."""
