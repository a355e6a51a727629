"""Labels put on every container, network and image the sandbox creates.

Cleanup finds leftovers by these labels alone (Ryuk cannot be pulled offline), so every
create call in the project goes through `labels_for`.
"""

from __future__ import annotations

PROJECT_KEY = "sandbox.project"
PROJECT = "sandbox-migrate"
RUN_KEY = "sandbox.run"
ROLE_KEY = "sandbox.role"
SERVICE_KEY = "sandbox.service"
CACHE_KEY = "sandbox.cache"


def labels_for(run_id: str, role: str, service: str | None = None) -> dict[str, str]:
    """Labels for an object that belongs to one run and is removed when the run ends."""
    labels = {PROJECT_KEY: PROJECT, RUN_KEY: run_id, ROLE_KEY: role}
    if service:
        labels[SERVICE_KEY] = service
    return labels


def cache_labels(logical: str, content_hash: str) -> dict[str, str]:
    """Labels for a reusable image built once and kept across runs (base, deps, migrator)."""
    return {
        PROJECT_KEY: PROJECT,
        CACHE_KEY: "true",
        "sandbox.image": logical,
        "sandbox.image.hash": content_hash,
    }


def project_filter(run_id: str | None = None) -> dict[str, list[str]]:
    """A Docker API filter selecting the project's objects, optionally of one run."""
    wanted = [f"{PROJECT_KEY}={PROJECT}"]
    if run_id:
        wanted.append(f"{RUN_KEY}={run_id}")
    return {"label": wanted}
