"""grader/engine.py's labels: what an image carries (two label steps) and whose run it is."""

from __future__ import annotations

from grader.engine import (
    LABEL,
    LABEL_OWNER,
    LABEL_RUN,
    LABEL_SUBMISSION,
    Engine,
    image_labels,
    new_run_labels,
    run_of,
)


def test_an_image_carries_the_grader_label_valued_with_its_run_and_the_owner() -> None:
    labels = {**new_run_labels(), LABEL_SUBMISSION: "alice"}
    built = image_labels(labels)
    assert built == {LABEL: labels[LABEL_RUN], LABEL_OWNER: labels[LABEL_OWNER]}
    assert image_labels({LABEL: "1"}) == {LABEL: "1"}  # no run: the label as given


def test_run_of_reads_a_container_and_an_image_alike() -> None:
    labels = new_run_labels()
    container = {**labels, LABEL_SUBMISSION: "alice"}
    assert run_of(container) == run_of(image_labels(labels)) == labels[LABEL_RUN]
    assert run_of({"maintainer": "x"}) is None


def test_the_sweep_of_a_run_takes_its_images_and_containers_only() -> None:
    labels = new_run_labels()
    run = labels[LABEL_RUN]
    assert Engine._sweepable(image_labels(labels), run)
    assert Engine._sweepable({**labels, LABEL_SUBMISSION: "a"}, run)
    other = new_run_labels()
    assert not Engine._sweepable(image_labels(other), run)
