"""What a run left on the engine, read without racing the run.

docker-py's `containers.list()` and `images.list()` inspect each listed object in a second request;
an object the live run removes between the two answers 404 and fails the test. The engine's list
answer already holds names, labels and networks, so the tests read that one answer only (the
product's sweep does the same: `sparse=True`, `cleanup.listed_images`).
"""

from __future__ import annotations

from dataclasses import dataclass

import docker


@dataclass(frozen=True)
class Listed:
    """One container as the engine's list answer shows it."""

    name: str
    labels: dict[str, str]
    networks: tuple[str, ...]
    state: str

    @property
    def running(self) -> bool:
        return self.state == "running"


def containers(client: docker.DockerClient, filters: dict, *, stopped: bool = True) -> list[Listed]:
    """The containers matching `filters` (stopped ones too unless `stopped=False`), in one request."""
    return [
        Listed(
            name=row["Names"][0].lstrip("/"),
            labels=row.get("Labels") or {},
            networks=tuple((row.get("NetworkSettings") or {}).get("Networks") or {}),
            state=row.get("State", ""),
        )
        for row in client.api.containers(all=stopped, filters=filters)
    ]


def leftovers(client: docker.DockerClient, filters: dict) -> list[str]:
    """Every container, network and image matching `filters`, as 'kind name' lines."""
    return (
        [f"container {c.name}" for c in containers(client, filters)]
        + [f"network {n.name}" for n in client.networks.list(filters=filters)]
        + [f"image {row['Id'].split(':')[-1][:12]}" for row in client.api.images(all=True, filters=filters)]
    )
