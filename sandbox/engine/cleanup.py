"""Removing what a run created: by label, at the end of the run, on Ctrl-C/SIGTERM, or later.

Ryuk is not available offline, so this module is the reaper: every object the sandbox creates
carries `sandbox.project` and `sandbox.run` labels (sandbox.engine.labels) and is found by them here.
"""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import docker
from docker.errors import APIError, NotFound

from sandbox.engine.labels import CACHE_KEY, RUN_KEY, project_filter


@dataclass
class CleanupReport:
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.containers) + len(self.networks) + len(self.images)


def new_run_id() -> str:
    """Sortable and unique even for two runs started in the same second."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def remove_labelled(
    client: docker.DockerClient, run_id: str | None = None, include_cached_images: bool = False
) -> CleanupReport:
    """Remove the project's containers, networks and run images (of one run, or all runs)."""
    report = CleanupReport()
    selector = project_filter(run_id)
    for container in client.containers.list(all=True, filters=selector):
        _attempt(report, report.containers, container.name, lambda c=container: c.remove(force=True, v=True))
    for network in client.networks.list(filters=selector):
        _attempt(report, report.networks, network.name, network.remove)
    # Run images inherit the cache label of the base they build FROM; the run label tells them apart.
    images = [
        image
        for image in client.images.list(filters=selector)
        if RUN_KEY in image.labels or (include_cached_images and image.labels.get(CACHE_KEY) == "true")
    ]
    _remove_images(client, images, report)
    return report


def _remove_images(client: docker.DockerClient, images: list, report: CleanupReport) -> None:
    """Remove in passes until a pass removes nothing more: an image in use as another's parent
    (the cached base under the images built FROM it) goes once its children are gone."""
    pending = list(images)
    while pending:
        failed = []
        for image in pending:
            try:
                # noprune keeps the untagged build layers: they are the build cache that makes the
                # next run's `docker build` quick (test images are built FROM the service image's
                # unlabelled ancestor, so their layers carry no run label either).
                chain = _labelled_parents(client, image)
                client.images.remove(image.id, force=True, noprune=True)
                for parent in chain:  # the builder's own LABEL steps: they carry the run label too
                    client.images.remove(parent, force=True, noprune=True)
                report.images.append(image.tags[0] if image.tags else image.short_id)
            except NotFound:
                report.images.append(image.short_id)
            except APIError:
                failed.append(image)
        if len(failed) == len(pending):
            report.errors.extend(f"image {image.short_id}: still in use" for image in failed)
            return
        pending = failed


def _labelled_parents(client: docker.DockerClient, image) -> list[str]:
    """Untagged parents carrying the same run label (one per LABEL step of the classic builder)."""
    run_id, chain = image.labels.get(RUN_KEY), []
    parent_id = image.attrs.get("Parent")
    while parent_id:
        parent = client.images.get(parent_id)
        if parent.tags or parent.labels.get(RUN_KEY) != run_id:
            break
        chain.append(parent.id)
        parent_id = parent.attrs.get("Parent")
    return chain


def _attempt(report: CleanupReport, bucket: list[str], name: str, action) -> None:
    try:
        action()
        bucket.append(name)
    except NotFound:  # removed meanwhile (auto-remove, a concurrent cleanup): the goal is reached
        bucket.append(name)
    except APIError as exc:
        report.errors.append(f"{name}: {exc.explanation or exc}")


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so `finally` blocks (and cleanup) run on both."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread; the caller's finally still runs
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def run_scope(client: docker.DockerClient, run_id: str, keep: bool = False) -> Iterator[CleanupReport]:
    """Everything labelled with `run_id` is removed when the block ends, however it ends.

    A second Ctrl-C during cleanup is ignored so the cleanup itself is not cut short.
    """
    report = CleanupReport()
    with sigterm_as_interrupt():
        try:
            yield report
        finally:
            if not keep:
                main = threading.current_thread() is threading.main_thread()
                previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
                try:
                    done = remove_labelled(client, run_id)
                    report.containers, report.networks = done.containers, done.networks
                    report.images, report.errors = done.images, done.errors
                finally:
                    if main:
                        signal.signal(signal.SIGINT, previous)
