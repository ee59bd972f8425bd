"""A class run beyond one process: shards for CI matrices, their merge, a Celery queue."""
