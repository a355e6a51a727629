"""`sandbox doctor` and `sandbox images` on the real engine, through the installed console script."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SANDBOX = str(Path(__file__).resolve().parents[3] / ".venv" / "bin" / "sandbox")


def _run(*args: str) -> subprocess.CompletedProcess:
    executable = SANDBOX if Path(SANDBOX).exists() else shutil.which("sandbox")
    return subprocess.run([executable, *args], capture_output=True, text=True, timeout=600)


def test_doctor_exits_zero_with_every_line_ok() -> None:
    result = _run("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) >= 7
    assert all(line.startswith("OK") for line in lines), result.stdout
    assert any("docker engine" in line for line in lines)
    assert any("Ryuk" in line and "disabled" in line for line in lines)


def test_images_lists_each_logical_image_with_digest() -> None:
    result = _run("images")
    assert result.returncode == 0, result.stderr
    for logical in ("base", "mosquitto", "influxdb3", "migrator"):
        assert logical in result.stdout
    assert "sha256:" in result.stdout


def test_images_build_rejects_unknown_names_with_exit_2() -> None:
    result = _run("images", "build", "postgres")
    assert result.returncode == 2
    assert "unknown image postgres" in result.stderr
