"""A run's image gets its labels in one LABEL step (build_mapped appends one line), which the cleanup
still knows as the run's own step: on a real engine, with a throwaway Dockerfile FROM the base image."""

from __future__ import annotations

import uuid
from pathlib import Path

import docker
import pytest

from sandbox.engine.cleanup import label_steps
from sandbox.engine.images import build_mapped, label_instruction

BASE = "sandbox/base:local"


def test_the_labels_are_one_line_with_the_keys_first_and_quoted_values() -> None:
    line = label_instruction({"sandbox.service": 'we "ird" name', "sandbox.run": "r1", "sandbox.host": "hé"})
    assert line == '\nLABEL sandbox.host="hé" sandbox.run="r1" sandbox.service="we \\"ird\\" name"\n'
    assert label_instruction({}) == ""


@pytest.fixture
def built(docker_client: docker.DockerClient, tmp_path: Path):
    """build_mapped of a two-step Dockerfile with labels of this test's own; removed afterwards."""
    mark = uuid.uuid4().hex[:10]
    labels = {"sandbox.labeltest": mark, "sandbox.service": 'a "quoted" value', "sandbox.run": f"r-{mark}"}
    (tmp_path / "Dockerfile").write_text(f'FROM {BASE}\nCMD ["true"]')  # no newline at the end
    image_id = build_mapped(docker_client, tmp_path, tmp_path / "Dockerfile", f"labeltest:{mark}", {}, labels)
    yield image_id, labels
    docker_client.images.remove(image_id, force=True)


def test_one_label_step_carries_every_label(docker_client: docker.DockerClient, built) -> None:
    image_id, labels = built
    image = docker_client.images.get(image_id)
    assert {key: image.labels.get(key) for key in labels} == labels
    steps, ancestor = label_steps(docker_client, image_id)
    assert steps == [image_id]  # the image itself is the one LABEL step
    history = docker_client.api.history(image_id)
    assert "LABEL sandbox." in history[0]["CreatedBy"] and "LABEL" not in history[1]["CreatedBy"]
    assert ancestor == history[1]["Id"]  # the last real step: what the build cache keeps
