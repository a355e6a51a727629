"""No host file leaves the host: symlinks, special files and `../` / absolute paths in every path key
of sandbox.toml, through the real CLI and engine, plus the workspace's own checks (defence in depth,
whatever the config parser accepts). One run also proves one bad service is only its own failure."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sandbox.config import ServiceConfig
from sandbox.workspace import CopyRefused, create
from tests.sandbox.pipeline.fixture_fleet import BASE, SANDBOX_TOML, run_report, sandbox, write_service

SECRET = "host-secret-7f3a9c"


def _outside(tmp_path: Path) -> Path:
    """A folder beside the repo holding a 'host' secret and a Dockerfile that would COPY it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shadow").write_text(SECRET + "\n")
    (outside / "Dockerfile").write_text(BASE["Dockerfile"].replace("COPY app/ app/", "COPY shadow /shadow"))
    return outside


def _service(services: Path, name: str, toml_extra: str = "") -> Path:
    """A copy of ok-svc under another name, with `toml_extra` in front of its sandbox.toml."""
    staging = services.parent / "staging"
    root = write_service(staging, "ok-svc").rename(services / name)
    staging.rmdir()
    (root / "sandbox.toml").write_text(toml_extra + SANDBOX_TOML)
    return root


def _leaks(repo: Path) -> list[str]:
    """Files of the run folders (workspaces, logs, reports) holding the secret."""
    found = []
    for path in (repo / ".sandbox").rglob("*"):
        if path.is_file() and not path.is_symlink() and SECRET.encode() in path.read_bytes():
            found.append(str(path))
    return found


@pytest.fixture
def escape_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    services = repo / "services"
    outside = _outside(tmp_path)
    write_service(services, "ok-svc")
    link = _service(services, "symlink-svc")
    os.symlink(outside / "shadow", link / "requirements-leak.txt")
    fifo = _service(services, "fifo-svc")
    os.mkfifo(fifo / "app" / "pipe")
    _service(services, "shared-svc", 'shared = ["../../outside"]\n')
    _service(services, "context-svc", f'context = "{outside}"\n')
    _service(services, "dockerfile-svc", 'dockerfile = "../../../outside/Dockerfile"\n')
    return repo


ESCAPES = {
    "symlink-svc": "requirements-leak.txt",
    "fifo-svc": "FIFO",
    "shared-svc": "shared",
    "context-svc": "context",
    "dockerfile-svc": "dockerfile",
}


def test_escapes_are_refused_and_the_fleet_goes_on(escape_repo: Path) -> None:
    done = sandbox(escape_repo, "verify", "ok-svc", *ESCAPES, "-j", "2", timeout=900)
    report = run_report(escape_repo)
    by_name = report["services"]
    assert set(by_name) == {"ok-svc", *ESCAPES}, done.stdout + done.stderr
    assert by_name["ok-svc"]["overall_success"], json.dumps(by_name["ok-svc"], indent=1)
    for name, word in ESCAPES.items():
        service = by_name[name]
        assert not service["overall_success"], name
        assert service["failed_stage"] in ("resolve", "copy"), (name, service["failed_stage"])
        assert word in service["reason"], (name, service["reason"])
    assert "Traceback" not in done.stderr
    assert _leaks(escape_repo) == []
    assert SECRET not in done.stdout + done.stderr


def _config(repo: Path, name: str, **changes) -> ServiceConfig:
    return ServiceConfig(name=name, path=repo / "services" / name, **changes)


def test_the_workspace_refuses_escapes_whatever_the_parser_accepted(
    escape_repo: Path, tmp_path: Path
) -> None:
    """Each refusal names the file or key and says why; nothing is copied."""
    cases = {
        "symlink-svc": ({}, "requirements-leak.txt: symlink to"),
        "fifo-svc": ({}, "app/pipe: a FIFO"),
        "ok-svc": ({"shared": ("../../outside",)}, "shared '../../outside' resolves to"),
        "context-svc": ({"context": "/etc"}, "context '/etc' resolves to /etc, outside the repo"),
        "dockerfile-svc": ({"dockerfile": "/etc/hostname"}, "dockerfile '/etc/hostname' resolves"),
    }
    for index, (name, (changes, reason)) in enumerate(cases.items()):
        folder = tmp_path / f"run{index}"
        with pytest.raises(CopyRefused, match=reason.replace("(", r"\(")):
            create(_config(escape_repo, name, **changes), escape_repo, folder)
        assert not (folder / "work").exists()


def test_links_inside_the_copied_tree_are_copied_as_links(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    root = write_service(repo / "services", "ok-svc")
    os.symlink("app/server.py", root / "server-link.py")
    ws = create(_config(repo, "ok-svc"), repo, tmp_path / "run")
    copied = ws.service_dir / "server-link.py"
    assert copied.is_symlink() and os.readlink(copied) == "app/server.py"
    assert copied.read_text() == (root / "app" / "server.py").read_text()
