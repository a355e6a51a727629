"""Removing what a run created: by label, at the end of the run, on Ctrl-C/SIGTERM, or later.

Ryuk is not available offline, so this module is the reaper: every object the sandbox creates
carries `sandbox.project` and `sandbox.run` labels (sandbox.engine.labels) and is found by them here.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, NotFound

from sandbox.engine.labels import (
    CACHE_KEY,
    PROJECT,
    PROJECT_KEY,
    ROLE_KEY,
    RUN_KEY,
    SERVICE_KEY,
    Owner,
    current_owner,
    labels_for,
    project_filter,
)

# A temporary folder the sandbox creates is named sandbox-<pid>-<start>-<kind>-<random> (temp_prefix),
# so `sandbox clean` can tell the folders of a dead process from those of a live one.
TEMP_NAME = re.compile(r"^sandbox-(\d+)-(\d+)-")
OWNER_FILE = "owner.json"


# The role of a kept run's marker: a labelled volume on the engine (no subnet, no process). The
# decision to keep lives where the objects live, so every removal path (a stage's own container,
# a dependency, a network) can ask the engine, and `sandbox clean` finds and removes it with the run.
KEEP_ROLE = "keep"


@dataclass
class CleanupReport:
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)  # services whose build cache a removal tagged

    @property
    def total(self) -> int:
        return len(self.containers) + len(self.networks) + len(self.images) + len(self.volumes)


def _keep_filter(run_id: str) -> dict[str, list[str]]:
    return {"label": [f"{PROJECT_KEY}={PROJECT}", f"{RUN_KEY}={run_id}", f"{ROLE_KEY}={KEEP_ROLE}"]}


def mark_kept(client: docker.DockerClient, run_id: str) -> None:
    """Mark the run as kept: its containers and networks outlive their stages and the run."""
    client.volumes.create(name=f"sandbox-keep-{run_id}", labels=labels_for(run_id, KEEP_ROLE))


def is_kept(client: docker.DockerClient, labels: dict[str, str] | None) -> bool:
    """Whether the object with these labels belongs to a run made with `verify --keep`."""
    run_id = (labels or {}).get(RUN_KEY)
    if not run_id:
        return False
    try:
        return bool(client.volumes.list(filters=_keep_filter(run_id)))
    except (APIError, OSError):
        return False  # the engine did not answer: removing is the safe default


@dataclass(frozen=True)
class KeptObjects:
    """What a kept run left on the engine, for the end-of-run note."""

    containers: list[str]
    networks: list[str]

    def lines(self, run_id: str) -> list[str]:
        return [
            f"--keep: {len(self.containers)} container(s) and {len(self.networks)} network(s) of run "
            f"{run_id} are kept for inspection (labelled sandbox.run={run_id}):",
            *(f"  container {name}" for name in self.containers),
            *(f"  network   {name}" for name in self.networks),
            f"remove them with: sandbox clean --run {run_id}",
        ]


def kept_objects(client: docker.DockerClient, run_id: str) -> KeptObjects:
    selector = project_filter(run_id)
    containers = [
        (c.attrs.get("Names") or [c.id[:12]])[0].lstrip("/")
        for c in client.containers.list(all=True, filters=selector, sparse=True)
    ]
    networks = [n.name for n in client.networks.list(filters=selector)]
    return KeptObjects(sorted(containers), sorted(networks))


def new_run_id() -> str:
    """Sortable and unique even for two runs started in the same second."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def remove_labelled(
    client: docker.DockerClient, run_id: str | None = None, include_cached_images: bool = False
) -> CleanupReport:
    """Remove the project's containers, networks and run images (of one run, or all runs)."""
    return remove_matching(client, project_filter(run_id), lambda labels: True, include_cached_images)


def remove_matching(
    client: docker.DockerClient,
    selector: dict[str, list[str]],
    wanted: Callable[[dict[str, str]], bool],
    include_cached_images: bool = False,
    images: bool = True,
) -> CleanupReport:
    """Remove the selected objects whose labels `wanted` accepts.

    Objects come and go while this works (auto-removed containers, a run's own cleanup): a
    listing is sparse (no per-object inspect that could fail), and NotFound or a 409 "removal
    already in progress" count as removed."""
    report = CleanupReport()
    for container in client.containers.list(all=True, filters=selector, sparse=True):
        if wanted(container.attrs.get("Labels") or {}):
            name = (container.attrs.get("Names") or [container.id[:12]])[0].lstrip("/")
            _attempt(report, report.containers, name, lambda c=container: c.remove(force=True, v=True))
    for network in client.networks.list(filters=selector):
        if wanted(network.attrs.get("Labels") or {}):
            _attempt(report, report.networks, network.name, network.remove)
    for volume in client.volumes.list(filters=selector):  # a kept run's marker
        if wanted(volume.attrs.get("Labels") or {}):
            _attempt(report, report.volumes, volume.name, lambda v=volume: v.remove(force=True))
    if not images:  # the caller removes the images it knows (remove_run)
        return report
    # Run images inherit the cache label of the base they build FROM; the run label tells them apart.
    found = [
        image
        for image in listed_images(client, selector)
        if (RUN_KEY in image.labels and wanted(image.labels))
        or (include_cached_images and image.labels.get(CACHE_KEY) == "true")
    ]
    _remove_images(client, found, report)
    return report


def listed_images(client: docker.DockerClient, selector: dict[str, Any]) -> list:
    """The selected images from one listing call: docker-py's `images.list` inspects each image
    after listing, and an image removed in between (another run's cleanup) raises ImageNotFound."""
    return [
        client.images.prepare_model(
            # The summary's names for what an inspected image holds (labels, parent): same model.
            {**summary, "Config": {"Labels": summary.get("Labels") or {}}, "Parent": summary.get("ParentId")}
        )
        for summary in client.api.images(filters=selector)
    ]


def stop_run_containers(client: docker.DockerClient, run_id: str) -> None:
    """Remove the run's containers now, so whatever waits on them (tests, health) returns."""
    report = CleanupReport()
    for container in client.containers.list(all=True, filters=project_filter(run_id), sparse=True):
        _attempt(
            report, report.containers, container.id[:12], lambda c=container: c.remove(force=True, v=True)
        )


def _remove_images(client: docker.DockerClient, images: list, report: CleanupReport) -> None:
    """Remove in passes until a pass removes nothing more: an image in use as another's parent
    (the cached base under the images built FROM it) goes once its children are gone."""
    pending = list(images)
    while pending:
        failed = []
        for image in pending:
            try:
                report.cached.extend(_remove_run_image(client, image))
                report.images.append(image.tags[0] if image.tags else image.short_id)
            except NotFound:
                report.images.append(image.short_id)
            except APIError as exc:
                if _vanishing(exc):
                    report.images.append(image.short_id)
                else:
                    failed.append(image)
        if len(failed) == len(pending):
            report.errors.extend(f"image {image.short_id}: still in use" for image in failed)
            return
        pending = failed


def _remove_run_image(client: docker.DockerClient, image) -> list[str]:
    """Remove a run's image with the builder's LABEL steps under it, keeping its last real build step
    as the build cache of its service and role (a `sandbox-cache/` tag, bounded by prune_cache).

    noprune keeps the untagged build layers: they are the build cache that makes the next run's
    `docker build` quick. The LABEL steps are not: they name the run and its owner process, so no
    later build reuses them, and every one left would stay a dangling `<none>` image for good."""
    steps, ancestor = label_steps(client, image.id)
    tagged = ancestor is not None and tag_cache(client, ancestor, image.labels)
    client.images.remove(image.id, force=True, noprune=True)
    for step in steps[1:]:
        try:
            client.images.remove(step, force=True, noprune=True)
        except APIError:  # another image builds on this step (a twin build of the run): it stays
            break
    return [image.labels[SERVICE_KEY]] if tagged else []


def label_steps(client: docker.DockerClient, image_id: str) -> tuple[list[str], str | None]:
    """The ids of the image's own `LABEL sandbox.*` build steps from the top (the image first when it
    is one), and the layer under them: the last real step of its Dockerfile (None: not known locally).

    sandbox.engine.images.build_mapped adds them as one LABEL step; the classic builder, given a
    build's `labels`, adds one step per label in no fixed order (images built before that)."""
    steps: list[str] = []
    for layer in client.api.history(image_id):
        layer_id = layer.get("Id") or "<missing>"
        if layer_id == "<missing>":
            return steps, None
        if "LABEL sandbox." not in (layer.get("CreatedBy") or "") or (steps and layer.get("Tags")):
            return steps, layer_id
        steps.append(layer_id)
    return steps, None


# --- the build cache: bounded per service and role ------------------------------------------------------

CACHE_REPO = "sandbox-cache"
CACHE_KEEP = 3  # build caches kept per service and role (service image, test image): the newest


def tag_cache(client: docker.DockerClient, layer_id: str, labels: dict[str, str]) -> bool:
    """Name the last real build step of a run's image `sandbox-cache/<service>:<role>.<run>`, so the
    cache can be counted per service and role and the oldest dropped (prune_cache)."""
    service, role, run_id = labels.get(SERVICE_KEY), labels.get(ROLE_KEY), labels.get(RUN_KEY)
    if not (service and role and run_id):
        return False
    client.api.tag(layer_id, f"{CACHE_REPO}/{_tag_safe(service)}", f"{_tag_safe(role)}.{_tag_safe(run_id)}")
    return True


def keep_build(client: docker.DockerClient, image_id: str, labels: dict[str, str], built: RunImages) -> None:
    """A run's build (service or test image, built without a LABEL step) named as the build cache of
    its service and role at once (tag_cache with the run's labels): the run has nothing to remove,
    and prune_cache bounds it like any cache. Recorded in `built.cached` (a run that built caches
    waits for its bound)."""
    tag_cache(client, image_id, labels)
    built.add_cache(image_id)


def _tag_safe(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "-", text.lower()).strip("-")[:60] or "x"


@dataclass(frozen=True)
class CacheEntry:
    """One kept build cache: an image with its `sandbox-cache/` tags of one service and role."""

    repository: str
    role: str
    image_id: str
    created: int
    tags: tuple[str, ...]


def cache_entries(client: docker.DockerClient) -> list[CacheEntry]:
    """The kept build caches, one entry per image and (service, role) group."""
    found: dict[tuple[str, str, str], list[str]] = {}
    created: dict[str, int] = {}
    for summary in client.api.images(filters={"reference": f"{CACHE_REPO}/*"}):
        created[summary["Id"]] = int(summary.get("Created") or 0)
        for tag in summary.get("RepoTags") or []:
            repository, _, name = tag.rpartition(":")
            if repository.startswith(f"{CACHE_REPO}/"):
                found.setdefault((repository, name.split(".", 1)[0], summary["Id"]), []).append(tag)
    return [
        CacheEntry(repository, role, image_id, created[image_id], tuple(sorted(tags)))
        for (repository, role, image_id), tags in found.items()
    ]


def prune_cache(
    client: docker.DockerClient, keep: int | None = CACHE_KEEP, services: set[str] | None = None
) -> CleanupReport:
    """Keep the newest `keep` build caches per service and role (of `services` only, when given) and
    untag the rest; an untagged cache layer that no other image builds on is deleted with the
    untagged layers under it that nothing else uses. `keep=None` keeps every cache and drops only
    the older names of each (every run that reuses a cache names it again: without this a
    developer's engine gathered hundreds of names per cache, and every listing walks them all).

    Never another live run's: a name of a run whose owner is alive (or on another host) stays, and
    the removal is not forced, so the engine refuses to delete a layer a container still uses (a
    build step in flight) or that another image builds on; it is then only untagged, and its layers
    go once nothing builds on them."""
    report = CleanupReport()
    groups: dict[tuple[str, str], list[CacheEntry]] = {}
    wanted = {f"{CACHE_REPO}/{_tag_safe(name)}" for name in services} if services is not None else None
    for entry in cache_entries(client):
        if wanted is None or entry.repository in wanted:
            groups.setdefault((entry.repository, entry.role), []).append(entry)
    dropped = []
    for entries in groups.values():
        # Newest by use: a run that reused a cached step tags the old layer again (run ids sort by time).
        entries.sort(key=lambda e: (max(e.tags), e.created), reverse=True)
        for index, entry in enumerate(entries):
            # A kept cache keeps its newest name only: every run that reused it added one.
            dropped += entry.tags if keep is not None and index >= max(0, keep) else sorted(entry.tags)[:-1]
    if dropped:  # the engine's runs are listed only when there is a name to drop
        live = {run_id for run_id, run in engine_runs(client).items() if run.state != "gone"}
        for tag in dropped:
            if _tag_run(tag) not in live:
                _remove_unforced(client, tag, tag, report)
    return report


def _tag_run(tag: str) -> str:
    """The run a cache name was given by (`sandbox-cache/<service>:<role>.<run id>`)."""
    return tag.rpartition(":")[2].partition(".")[2]


def drop_cache(client: docker.DockerClient, selector: dict[str, list[str]] | None = None) -> CleanupReport:
    """`sandbox clean --cache`: every kept build cache, and every dangling `<none>` layer labelled as
    the project's cache (left by failed builds, and by runs from before the LABEL steps were removed)
    whose owner process is not alive; the base, dependency and migrator images stay.

    `selector`: only the dangling layers with these labels too, and no kept cache (tests on a shared
    engine use a label of their own)."""
    report = prune_cache(client, keep=0) if selector is None else CleanupReport()
    labels = [f"{PROJECT_KEY}={PROJECT}", f"{CACHE_KEY}=true", *(selector or {}).get("label", [])]
    for summary in client.api.images(filters={"dangling": True, "label": labels}):
        owner = Owner.from_labels(summary.get("Labels") or {})
        if owner is not None and owner.state() != "gone":
            continue  # a live process's (or another host's) layer: never another live run's
        _remove_unforced(client, summary["Id"], summary["Id"][7:19], report)
    return report


def _remove_unforced(client: docker.DockerClient, ref: str, name: str, report: CleanupReport) -> None:
    """Remove an image (or untag it) without force, with the untagged parents nothing else uses; a 409
    (a container uses it, an image builds on it) keeps it and is no error of the cleanup."""
    try:
        client.images.remove(ref, force=False, noprune=False)
        report.images.append(name)
    except NotFound:
        report.images.append(name)
    except APIError as exc:
        if exc.status_code != 409:
            report.errors.append(f"image {name}: {exc.explanation or exc}")


def _attempt(report: CleanupReport, bucket: list[str], name: str, action) -> None:
    try:
        action()
        bucket.append(name)
    except NotFound:  # removed meanwhile (auto-remove, a concurrent cleanup): the goal is reached
        bucket.append(name)
    except APIError as exc:
        if _vanishing(exc):
            bucket.append(name)
        else:
            report.errors.append(f"{name}: {exc.explanation or exc}")


def _vanishing(exc: APIError) -> bool:
    """409s that mean someone else is already removing the object: the goal is reached."""
    text = str(exc.explanation or exc).lower()
    return exc.status_code == 409 and (
        "in progress" in text or "marked for removal" in text or "dead" in text
    )


class Cancellation:
    """One cancellation path for SIGINT and SIGTERM, for the block's duration (main thread only).

    The first signal sets `cancelled` and calls `on_cancel` (no exception: workers see the event,
    stop starting new work and return once their in-flight Docker call does); a second signal of
    either kind raises KeyboardInterrupt in the main thread, which forces the cleanup now."""

    def __init__(self, cancelled: threading.Event, on_cancel: Callable[[], None] = lambda: None) -> None:
        self.cancelled = cancelled
        self.on_cancel = on_cancel
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: object) -> None:
        if self.cancelled.is_set():
            raise KeyboardInterrupt(f"signal {signum} again: forcing")
        self.cancelled.set()
        self.on_cancel()

    def __enter__(self) -> Cancellation:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


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
def signals_ignored() -> Iterator[None]:
    """SIGINT and SIGTERM ignored for the block: a cleanup is not cut short by a late signal."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@dataclass
class RunImages:
    """The images a run built, recorded as each build returns: the run's end removes them by id
    instead of listing the engine's images, which walks every image the engine holds (seconds on an
    engine with thousands). `complete` turns False when a build may have finished unrecorded (it
    timed out, raised, or the run was interrupted): the end then lists by label as before."""

    ids: list[str] = field(default_factory=list)
    complete: bool = True
    # builds kept as caches from the start (keep_build): never removed by the run, only bounded
    cached: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, image_id: str) -> None:
        with self._lock:
            self.ids.append(image_id)

    def add_cache(self, image_id: str) -> None:
        with self._lock:
            self.cached.append(image_id)

    def incomplete(self) -> None:
        self.complete = False


@dataclass
class Teardowns:
    """Removals a stage hands off so that it ends at once (a service's dependencies, its running
    container): on a loaded engine each removal takes a second or more, and in a fleet the next phase
    waits for every service of this one to end. The run waits for all of them (`join`) before its
    final sweep, so nothing outlives the run; an interrupted run's sweep removes them anyway."""

    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def later(self, work: Callable[[], None], name: str = "teardown") -> None:
        thread = threading.Thread(target=_quietly, args=(work,), name=name, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def join(self, seconds: float | None = None) -> bool:
        """Wait for every removal handed off so far (at most `seconds`); False: some still run."""
        deadline = None if seconds is None else time.monotonic() + seconds
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)


def _quietly(work: Callable[[], None]) -> None:
    try:
        work()
    except Exception:  # a removal that failed: the run's final sweep removes by label anyway
        pass


def remove_run(client: docker.DockerClient, run_id: str, built: RunImages | None = None) -> CleanupReport:
    """Remove the run's labelled objects; its images by their recorded ids when the record is complete."""
    if built is None or not built.complete:
        return remove_labelled(client, run_id)
    report = remove_matching(client, project_filter(run_id), lambda labels: True, images=False)
    images = []
    for image_id in dict.fromkeys(built.ids):
        try:
            images.append(client.images.get(image_id))
        except NotFound:  # removed meanwhile: the goal is reached
            report.images.append(image_id[7:19])
    _remove_images(client, images, report)
    return report


@contextmanager
def run_scope(
    client: docker.DockerClient, run_id: str, keep: bool = False, built: RunImages | None = None
) -> Iterator[CleanupReport]:
    """Everything labelled with `run_id` is removed when the block ends, however it ends; with
    `keep`, nothing is (the run is marked kept, so the stages leave their containers too). `built`:
    the images the run recorded (RunImages), removed without a listing of the engine's images.

    Signals are ignored during the removal so the cleanup itself is not cut short.
    """
    report = CleanupReport()
    if keep:
        mark_kept(client, run_id)
    with sigterm_as_interrupt():
        try:
            yield report
        finally:
            if not keep:
                with signals_ignored():
                    done = remove_run(client, run_id, built)
                report.containers, report.networks = done.containers, done.networks
                report.images, report.errors, report.cached = done.images, done.errors, done.cached


# --- sandbox clean: runs whose owner is gone ----------------------------------------------------------


@dataclass
class EngineRun:
    """One run's objects on the engine and who owns it."""

    run_id: str
    owner: Owner | None
    objects: int = 0
    kept: bool = False  # made with `verify --keep`: its objects wait for `clean --run` or `--force`

    @property
    def state(self) -> str:
        return self.owner.state() if self.owner else "unowned"


def engine_runs(client: docker.DockerClient) -> dict[str, EngineRun]:
    """The runs that have labelled containers, networks or images on the engine."""
    runs: dict[str, EngineRun] = {}
    listed = [
        *(
            c.attrs.get("Labels") or {}
            for c in client.containers.list(all=True, filters=project_filter(), sparse=True)
        ),
        *(n.attrs.get("Labels") or {} for n in client.networks.list(filters=project_filter())),
        *(v.attrs.get("Labels") or {} for v in client.volumes.list(filters=project_filter())),
        *(i.labels for i in listed_images(client, project_filter())),
    ]
    for labels in listed:
        run_id = labels.get(RUN_KEY)
        if not run_id:
            continue
        run = runs.setdefault(run_id, EngineRun(run_id, Owner.from_labels(labels)))
        run.objects += 1
        run.kept = run.kept or labels.get(ROLE_KEY) == KEEP_ROLE
    return runs


def remove_runs(client: docker.DockerClient, run_ids: set[str]) -> CleanupReport:
    """Remove the objects of exactly these runs."""
    return remove_matching(client, project_filter(), lambda labels: labels.get(RUN_KEY) in run_ids)


def write_owner(folder: Path, run_id: str) -> None:
    """The run folder names its owner, so a later clean can tell a dead run's folder from a live one."""
    owner = current_owner()
    data = {"run": run_id, "host": owner.host, "pid": owner.pid, "start": owner.start}
    (folder / OWNER_FILE).write_text(json.dumps(data) + "\n")


def folder_owner(folder: Path) -> Owner | None:
    try:
        data = json.loads((folder / OWNER_FILE).read_text())
        return Owner(str(data["host"]), int(data["pid"]), str(data["start"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def dead_run_folders(runs_root: Path) -> list[Path]:
    """Run folders without a report.json whose owning process is gone (killed with SIGKILL)."""
    found = []
    for folder in sorted(runs_root.iterdir()) if runs_root.is_dir() else []:
        owner = folder_owner(folder)
        if folder.is_dir() and not (folder / "report.json").exists() and owner and owner.state() == "gone":
            found.append(folder)
    return found


def dead_temp_folders(root: Path | None = None) -> list[Path]:
    """sandbox-<pid>-<start>-* folders in the temp dir whose owning process is gone."""
    root = root or Path(tempfile.gettempdir())
    host = current_owner().host
    found = []
    for path in sorted(root.glob("sandbox-*")):
        match = TEMP_NAME.match(path.name)
        if match and path.is_dir() and Owner(host, int(match[1]), match[2]).state() == "gone":
            found.append(path)
    return found


def remove_folders(folders: list[Path]) -> list[str]:
    """Remove the folders; the errors, if any (a folder vanishing meanwhile is not one)."""
    errors = []
    for folder in folders:
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:
            pass
        except OSError as exc:
            errors.append(f"{folder}: {exc}")
    return errors
