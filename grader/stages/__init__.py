"""One submission's Docker stages: build, image, run, probe, registry, stop, waste, cache."""
