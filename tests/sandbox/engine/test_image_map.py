"""The Dockerfile image map: pure text substitution on FROM lines only."""

from sandbox.engine.images import map_dockerfile

MAPPING = {"python:3.11-slim": "sandbox/base:local"}


def test_maps_plain_from() -> None:
    assert map_dockerfile("FROM python:3.11-slim\nRUN pip install x\n", MAPPING) == (
        "FROM sandbox/base:local\nRUN pip install x\n"
    )


def test_keeps_stage_name_and_platform_flag() -> None:
    text = "FROM --platform=linux/amd64 python:3.11-slim AS build\nFROM build\n"
    assert map_dockerfile(text, MAPPING) == (
        "FROM --platform=linux/amd64 sandbox/base:local AS build\nFROM build\n"
    )


def test_leaves_other_images_and_non_from_lines_alone() -> None:
    text = "from python:3.12-slim\n# FROM python:3.11-slim in a comment\nRUN echo FROM python:3.11-slim\n"
    assert map_dockerfile(text, MAPPING) == text


def test_lowercase_from_is_mapped() -> None:
    assert map_dockerfile("from python:3.11-slim\n", MAPPING) == "from sandbox/base:local\n"


def test_empty_mapping_is_identity() -> None:
    text = "FROM python:3.11-slim\n"
    assert map_dockerfile(text, {}) == text
