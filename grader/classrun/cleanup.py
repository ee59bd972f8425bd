"""What a class run removes from its engines, and when, so that clean-up waits for nothing.

- The containers dead runs left (by label and owner) are removed while the first build runs,
  and the build cgroups of grading processes that are gone (``grader.engine.cgroups.sweep_dead``).
- This run's images stay until the end of the run: later students reuse the build cache of
  earlier ones (only the grader's label layer is removed, never the student's layers).
- Each submission's network and firewall rules are released in the background once its
  container is removed (``Pipeline.close``); the end of the run waits for those releases,
  then removes the containers, networks and images carrying this run's label, and the
  images of dead runs. Listing images by label costs the engine a pass over every image it
  holds (100 ms of its time with a few hundred, at the start competing with the first
  build), so that list is taken once, after the run's last image is built, while its
  container stops (not while it starts: the engine is then busy), and only the removals are
  left for the end. Images the
  pipelines say they built are removed too, in case one came after the listing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from grader.classrun.workers import EnginePool
from grader.engine import cgroups
from grader.errors import EngineError
from grader.stages import isolation

log = logging.getLogger(__name__)


def background(target: Callable[..., None], *args: object) -> threading.Thread:
    """Run ``target(*args)`` in a thread, now; the caller joins it."""
    thread = threading.Thread(target=target, args=args, name=f"grader-{target.__name__}")
    thread.start()
    return thread


class Cleanup:
    """The clean-up of one class run on every engine of its pool."""

    def __init__(self, pool: EnginePool, run_id: str) -> None:
        self.pool = pool
        self.run_id = run_id
        self._built: dict[int, set[str]] = {}
        self._listed: dict[int, list[str]] | None = None
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Remove the containers of dead runs, in the background (their images: ``finish``)."""
        self._threads.append(background(self._leftovers))

    def _leftovers(self) -> None:
        if swept := cgroups.sweep_dead():  # this machine's, whichever engines are used
            log.info("removed %d build cgroups of earlier runs", swept)
        for engine in self.pool.engines:
            try:
                if swept := engine.sweep(images=()):
                    log.info(
                        "removed %d containers of earlier runs from %s", swept, engine.base_url
                    )
            except EngineError as exc:  # the run's own stages will report an engine that failed
                log.warning("could not remove leftovers from %s: %s", engine.base_url, exc)

    def built(self, engine: int, image_ids: list[str]) -> None:
        """Images a submission's pipeline built on engine ``engine`` (removed at the end)."""
        with self._lock:
            self._built.setdefault(engine, set()).update(image_ids)

    def list_when(self, last_built: threading.Event, quiet: threading.Event) -> None:
        """List this run's images by label once ``last_built`` is set (the run's last image
        is built) and ``quiet`` too (the engine has little else to do: not while a container
        starts), in the background."""
        self._threads.append(background(self._list, last_built, quiet))

    def _list(self, last_built: threading.Event, quiet: threading.Event) -> None:
        last_built.wait()
        quiet.wait()
        listed: dict[int, list[str]] = {}
        for index, engine in enumerate(self.pool.engines):
            try:
                listed[index] = engine.run_images(self.run_id, dead_too=True)
            except EngineError as exc:  # listed again at the end
                log.info("could not list this run's images on %s: %s", engine.base_url, exc)
                return
        with self._lock:
            self._listed = listed

    def now(self) -> None:
        """Remove this run's containers and images from every engine, listing both (after an
        interruption: stop the containers the workers are waiting on)."""
        for engine in self.pool.engines:
            try:
                engine.sweep(self.run_id)
            except EngineError as exc:  # the engine went away: the next run's sweep will do it
                log.warning("could not remove this run's objects from %s: %s", engine.base_url, exc)

    def finish(self) -> threading.Thread:
        """Remove this run's containers and images, in the background (join the thread)."""
        return background(self._finish)

    def _finish(self) -> None:
        for thread in self._threads:
            thread.join()
        isolation.wait_released()  # the networks the pipelines' close released, and rules
        if not cgroups.remove_own():  # each build removes its own: this is for what held on
            log.warning("build cgroups of this run are still in use: the next run removes them")
        with self._lock:
            listed, built = self._listed, self._built
        for index, engine in enumerate(self.pool.engines):
            try:
                found = engine.run_images(self.run_id, True) if listed is None else listed[index]
                engine.sweep(self.run_id, {*found, *built.get(index, ())})
            except EngineError as exc:  # the engine went away: the next run's sweep will do it
                log.warning("could not remove this run's objects from %s: %s", engine.base_url, exc)
