"""The recorded resolution (.sandbox/images.env) and the official names: pure logic."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.engine.images import SPECS, ResolvedImage, official_name, read_env_file, write_env_file


def _found(logical: str, ref: str, source: str = "local") -> ResolvedImage:
    return ResolvedImage(logical, ref, source, "sha256:" + "0" * 64, SPECS[logical].official)  # type: ignore[arg-type]


def test_a_partial_build_keeps_what_an_earlier_one_recorded(tmp_path: Path) -> None:
    path = tmp_path / ".sandbox" / "images.env"
    write_env_file(path, [_found("base", "python:3.11-slim", "official"), _found("mosquitto", "sandbox/m:1")])
    write_env_file(path, [_found("mosquitto", "eclipse-mosquitto:2", "official")])
    assert read_env_file(path) == {
        "SANDBOX_BASE_IMAGE": "python:3.11-slim",
        "SANDBOX_BASE_SOURCE": "official",
        "SANDBOX_MOSQUITTO_IMAGE": "eclipse-mosquitto:2",
        "SANDBOX_MOSQUITTO_SOURCE": "official",
    }
    assert path.read_text().startswith("# written by `sandbox images build`")


def test_official_names_under_a_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SANDBOX_OFFICIAL_PREFIX", raising=False)
    assert official_name(SPECS["influxdb3"]) == "influxdb:3-core"
    monkeypatch.setenv("SANDBOX_OFFICIAL_PREFIX", "mirror.example.com/hub/")
    assert official_name(SPECS["base"]) == "mirror.example.com/hub/python:3.11-slim"
    assert official_name(SPECS["base"], prefix="") == "python:3.11-slim"
    assert official_name(SPECS["migrator"]) is None
