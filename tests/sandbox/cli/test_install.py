"""The tool installs from its wheel and works outside this repo: the wheel carries the image build
contexts, the repo is found from the working directory upward and `[tool.sandbox]` moves the
services root."""

from __future__ import annotations

import json
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_wheel_installs_into_a_fresh_venv_and_plans_a_temp_repo(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(ROOT)],
        check=True,
        timeout=300,
    )
    wheel = next((tmp_path / "dist").glob("sandbox_migrate-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    # The dependencies come from this interpreter's site-packages as a plain path (a .pth line), so
    # nothing is downloaded again and this checkout's editable install is not picked up.
    new_site = next(venv.glob("lib/python*/site-packages"))
    (new_site / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(["unzip", "-q", str(wheel), "-d", str(new_site)], check=True, timeout=120)
    python = venv / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import sandbox, pathlib; print(pathlib.Path(sandbox.__file__).parent)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv), where
    assert (Path(where) / "images" / "base" / "bootstrap.sh").is_file()
    assert (Path(where) / "images" / "influxdb3-lite" / "Dockerfile").is_file()

    repo = tmp_path / "monorepo"
    (repo / "apps" / "meter" / "tests").mkdir(parents=True)
    (repo / "apps" / "meter" / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (repo / "apps" / "meter" / "sandbox.toml").write_text('priority = "HIGH"\n')
    (repo / "apps" / "lib").mkdir()
    (repo / "apps" / "lib" / "Dockerfile").write_text("FROM scratch\n")
    (repo / "pyproject.toml").write_text('[tool.sandbox]\nservices = "apps"\nshared = ["lib"]\n')
    result = subprocess.run(
        [str(python), "-m", "sandbox.cli", "plan", "--json"],
        capture_output=True,
        text=True,
        cwd=repo / "apps" / "meter",
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert [(row["name"], row["phase"]) for row in json.loads(result.stdout)] == [("meter", "C")]
