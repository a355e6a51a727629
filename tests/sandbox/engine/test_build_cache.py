"""The services' docker build cache stays bounded, on a real engine, with a small fixture service.

A run's image is removed with every LABEL step the builder added under it (no dangling `<none>`
image is left per build); its last real build step is kept as `sandbox-cache/<service>:<role>.<run>`
and reused by the next build; at the end of a run only the newest N per service and role stay.
`sandbox clean --cache` (drop_cache) removes dangling cache layers of dead owners, never a live one's.

Every image here carries a `cachetest=<id>` label of its own, and the service name is unique, so the
tests never touch another run's objects on the shared engine.
"""

from __future__ import annotations

import io
import os
import uuid

import docker
import pytest
from docker.errors import ImageNotFound

from sandbox.engine.cleanup import CACHE_REPO, RunImages, drop_cache, new_run_id, prune_cache, run_scope
from sandbox.engine.labels import OWNER_HOST_KEY, OWNER_PID_KEY, OWNER_START_KEY, current_owner, labels_for

BASE = "sandbox/base:local"


@pytest.fixture
def mark(docker_client: docker.DockerClient):
    """A label value of this test's own; whatever carries it is removed afterwards."""
    value = uuid.uuid4().hex[:10]
    yield value
    for tag in (
        t for s in docker_client.api.images(filters={"reference": f"{CACHE_REPO}/*"}) for t in s["RepoTags"]
    ):
        if value in tag:
            docker_client.images.remove(tag, force=True)
    # a build stopped half-way (an interrupted test) leaves its step's container: it carries the label too
    for container in docker_client.containers.list(all=True, filters={"label": f"cachetest={value}"}):
        container.remove(force=True)
    for summary in docker_client.api.images(all=True, filters={"label": f"cachetest={value}"}):
        try:
            docker_client.images.remove(summary["Id"], force=True)
        except docker.errors.APIError:
            pass


def _build(client, mark: str, content: str, labels: dict[str, str], tag: str | None = None) -> list[str]:
    """Build a one-step image over the base; the build log's lines."""
    dockerfile = f"FROM {BASE}\nLABEL cachetest={mark}\nRUN echo {content} > /cache-probe\n"
    lines = []
    for chunk in client.api.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag=tag, labels=labels, rm=True, forcerm=True, decode=True
    ):
        assert "error" not in chunk, chunk
        lines.append(chunk.get("stream", ""))
    return lines


def _run(client, mark: str, service: str, content: str) -> tuple[str, list[str]]:
    """One run that builds the service image, ended by its run scope; (run id, build log)."""
    run_id = new_run_id()
    with run_scope(client, run_id):
        log = _build(
            client, mark, content, labels_for(run_id, "service-image", service), f"cachetest/{mark}:{run_id}"
        )
    return run_id, log


def _cache_tags(client, service: str) -> list[str]:
    return sorted(
        tag
        for summary in client.api.images(filters={"reference": f"{CACHE_REPO}/{service}"})
        for tag in summary["RepoTags"]
    )


def test_a_run_leaves_no_label_layers_and_the_bound_keeps_the_newest_caches(docker_client, mark) -> None:
    service = f"cachetest-{mark}"
    runs = [_run(docker_client, mark, service, f"v{i}")[0] for i in range(4)]
    assert len(_cache_tags(docker_client, service)) == 4  # each run kept its last real build step
    assert prune_cache(docker_client, keep=2, services={service}).errors == []  # a run's bound
    # Nothing of the builder's LABEL steps is left: every layer carrying the run's labels went.
    leftovers = docker_client.api.images(all=True, filters={"label": [f"cachetest={mark}", "sandbox.role"]})
    assert leftovers == []
    # The two newest runs' caches stay, named by service, role and run; the older two were dropped.
    assert _cache_tags(docker_client, service) == [
        f"{CACHE_REPO}/{service}:service-image.{run}" for run in runs[2:]
    ]
    # ... and their own layers with them (nothing else builds on a `RUN echo v0`).
    kept = {docker_client.images.get(tag).id for tag in _cache_tags(docker_client, service)}
    probes = docker_client.api.images(all=True, filters={"label": f"cachetest={mark}"})
    assert {p["Id"] for p in probes if not p["RepoTags"]} <= kept | _layers_under(docker_client, kept)


def _layers_under(client, images: set[str]) -> set[str]:
    return {layer["Id"] for image in images for layer in client.api.history(image)[1:]}


def test_the_kept_cache_serves_the_next_build(docker_client, mark) -> None:
    service = f"cachetest-{mark}"
    _run(docker_client, mark, service, "same")
    second, log = _run(docker_client, mark, service, "same")
    assert "Using cache" in "".join(log)  # the RUN step came from the cache, not a new container
    # The reused layer got a second name; the bound keeps one cache, under its newest name.
    assert len(_cache_tags(docker_client, service)) == 2
    prune_cache(docker_client, keep=3, services={service})
    assert _cache_tags(docker_client, service) == [f"{CACHE_REPO}/{service}:service-image.{second}"]


def test_the_default_bound_keeps_every_cache_under_its_newest_name(docker_client, mark) -> None:
    service = f"cachetest-{mark}"
    first = _run(docker_client, mark, service, "one")[0]
    reused = [_run(docker_client, mark, service, "two")[0] for _ in range(3)]  # one cache, three names
    assert len(_cache_tags(docker_client, service)) == 4
    assert (
        prune_cache(docker_client, keep=None, services={service}).errors == []
    )  # a run without --cache-keep
    # Both caches stay (no layer is dropped); the reused one keeps its newest name only.
    assert _cache_tags(docker_client, service) == sorted(
        f"{CACHE_REPO}/{service}:service-image.{run}" for run in (first, reused[-1])
    )


def test_a_name_given_by_a_live_run_stays_until_that_run_is_gone(docker_client, mark) -> None:
    # Two runs of one service reuse one cache; the first is still live (an object of its own on
    # the engine, owned by this process), so a bound leaves its name: never another live run's.
    service = f"cachetest-{mark}"
    first = _run(docker_client, mark, service, "same")[0]
    network = docker_client.networks.create(
        f"cachetest-{mark}", labels={**labels_for(first, "access"), "cachetest": mark}
    )
    try:
        second = _run(docker_client, mark, service, "same")[0]
        assert prune_cache(docker_client, keep=None, services={service}).errors == []
        assert _cache_tags(docker_client, service) == sorted(
            f"{CACHE_REPO}/{service}:service-image.{run}" for run in (first, second)
        )
    finally:
        network.remove()
    prune_cache(docker_client, keep=None, services={service})  # the first run is gone now
    assert _cache_tags(docker_client, service) == [f"{CACHE_REPO}/{service}:service-image.{second}"]


def test_the_bound_keeps_a_cache_a_container_uses_until_it_is_free(docker_client, mark) -> None:
    service = f"cachetest-{mark}"
    _run(docker_client, mark, service, "in-use")
    (tag,) = _cache_tags(docker_client, service)
    image_id = docker_client.images.get(tag).id
    user = docker_client.containers.create(tag, ["true"], labels={"cachetest": mark})
    try:
        report = prune_cache(docker_client, keep=0, services={service})
        assert report.errors == []  # the engine refused (409): kept, and not an error
        assert docker_client.images.get(image_id).id == image_id and _cache_tags(docker_client, service)
    finally:
        user.remove(force=True)
    prune_cache(docker_client, keep=0, services={service})  # unused now: the next bound drops it
    assert _cache_tags(docker_client, service) == []
    with pytest.raises(ImageNotFound):
        docker_client.images.get(image_id)


def _dangling(client, mark: str, owner: dict[str, str]) -> str:
    labels = {"cachetest": mark, **owner}
    _build(client, mark, uuid.uuid4().hex, labels)
    (found,) = [
        s["Id"]
        for s in client.api.images(filters={"dangling": True, "label": [f"cachetest={mark}"]})
        if all((s["Labels"] or {}).get(k) == v for k, v in owner.items())
    ]
    return found


def test_clean_cache_drops_dangling_layers_of_dead_owners_only(docker_client, mark) -> None:
    me = current_owner()
    alive = {OWNER_HOST_KEY: me.host, OWNER_PID_KEY: str(me.pid), OWNER_START_KEY: me.start}
    dead = {**alive, OWNER_PID_KEY: str(_unused_pid()), OWNER_START_KEY: "1"}
    live_layer, dead_layer = _dangling(docker_client, mark, alive), _dangling(docker_client, mark, dead)
    report = drop_cache(docker_client, {"label": [f"cachetest={mark}"]})
    assert report.errors == []
    with pytest.raises(ImageNotFound):
        docker_client.images.get(dead_layer)
    assert docker_client.images.get(live_layer).id == live_layer


def _unused_pid() -> int:
    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid += 1
    return pid


def test_a_run_removes_the_images_it_recorded_without_listing_the_engine(
    docker_client, mark, monkeypatch
) -> None:
    import sandbox.engine.cleanup as cleanup_mod

    def no_listing(*args, **kwargs):
        raise AssertionError("listed the engine's images")

    service, run_id, built = f"cachetest-{mark}", new_run_id(), RunImages()
    monkeypatch.setattr(cleanup_mod, "listed_images", no_listing)
    with run_scope(docker_client, run_id, built=built):
        _build(
            docker_client,
            mark,
            "recorded",
            labels_for(run_id, "service-image", service),
            f"cachetest/{mark}:r",
        )
        built.add(docker_client.images.get(f"cachetest/{mark}:r").id)
    assert docker_client.api.images(all=True, filters={"label": f"sandbox.run={run_id}"}) == []
    monkeypatch.undo()
    # A build the record may have missed (it raised, timed out): the end lists by label instead.
    run_id, built = new_run_id(), RunImages()
    with run_scope(docker_client, run_id, built=built):
        _build(
            docker_client,
            mark,
            "unrecorded",
            labels_for(run_id, "service-image", service),
            f"cachetest/{mark}:u",
        )
        built.incomplete()
    assert docker_client.api.images(all=True, filters={"label": f"sandbox.run={run_id}"}) == []
