"""Hand fixes: reviewed patches a person adds on top of the codemod output.

A codemod leaves a `MIGRATION-BLOCKER` marker where it cannot prove a conversion; the person's
answer is an edit of the *migrated* code, which cannot be made in the pre-migration repo. Such an
edit is stored as a patch in the service's own folder, committed and reviewed with the service:

    services/<service>/migration-fixes/0001-retention-period.patch

Patches carry repo-relative paths (`services/<service>/...`, `services/common/...`), so one fix
can cover the service's shared paths too. They are applied in name order on top of the codemod
output, first exactly (git tolerates moved line numbers), then as a 3-way merge against the
codemod output the fix was made on (the patch carries its full preimage as context, see
`save_fix`); a fix that still does not apply fails the `fix` step with its rejected hunks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

FIXES_DIR = "migration-fixes"
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_ORDERED = re.compile(r"^(\d{4})-([a-z0-9][a-z0-9-]*)\.patch$")
# git identity for the throwaway repositories the fixes are made and applied in.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "sandbox",
    "GIT_AUTHOR_EMAIL": "sandbox@localhost",
    "GIT_COMMITTER_NAME": "sandbox",
    "GIT_COMMITTER_EMAIL": "sandbox@localhost",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


class FixError(RuntimeError):
    """A fix cannot be saved, found or dropped; the message says what to do next."""


@dataclass(frozen=True)
class Fix:
    name: str  # without order and suffix: "retention-period"
    path: Path  # services/<service>/migration-fixes/0001-retention-period.patch
    order: int

    @property
    def reason(self) -> str:
        """The free text above the first `diff --git` line (git apply ignores it)."""
        head = self.path.read_text(errors="replace").split("diff --git", 1)[0]
        return "\n".join(line.removeprefix("#").strip() for line in head.splitlines()).strip()


@dataclass
class FixOutcome:
    applied: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)  # applied only by the 3-way merge
    failed: str | None = None  # name of the first fix that did not apply
    rejects: list[str] = field(default_factory=list)  # files holding its rejected hunks
    log: str = ""

    @property
    def ok(self) -> bool:
        return self.failed is None


def fixes_dir(service_dir: Path) -> Path:
    return service_dir / FIXES_DIR


def list_fixes(service_dir: Path) -> list[Fix]:
    """The service's fixes in the order they apply; a file with another name is an error."""
    folder = fixes_dir(service_dir)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        match = _ORDERED.match(path.name)
        if not match:
            raise FixError(
                f"{path}: not a fix (expected NNNN-name.patch); rename it or remove it from {FIXES_DIR}/"
            )
        found.append(Fix(match.group(2), path, int(match.group(1))))
    return found


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise FixError(f"fix name {name!r}: use lower-case letters, digits and '-' (at most 63 characters)")
    return name


def find_fix(service_dir: Path, name: str) -> Fix:
    for fix in list_fixes(service_dir):
        if fix.name == name:
            return fix
    known = ", ".join(f.name for f in list_fixes(service_dir)) or "none"
    raise FixError(f"{service_dir.name}: no fix named {name!r} (fixes: {known})")


def drop_fix(service_dir: Path, name: str) -> Path:
    fix = find_fix(service_dir, name)
    fix.path.unlink()
    if not any(fixes_dir(service_dir).iterdir()):
        fixes_dir(service_dir).rmdir()
    return fix.path


def git(cwd: Path, *args: str, check: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """git with a fixed identity and no user or system config (the result must not depend on them);
    any owner is safe: the migrator hands the copy to an unprivileged user while it runs."""
    env = {**os.environ, **_GIT_ENV}
    proc = subprocess.run(
        ["git", "-c", "safe.directory=*", *args], cwd=cwd, env=env, input=stdin, capture_output=True
    )
    if check and proc.returncode != 0:
        raise FixError(f"git {' '.join(args)} in {cwd}: {proc.stderr.decode(errors='replace').strip()}")
    return proc


def init_history(root: Path, message: str) -> None:
    """Make `root` a git repository whose one commit is its current content."""
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--allow-empty", "-m", message)


def edited_diff(root: Path) -> str:
    """The person's edits since the base commit, new files included, with the whole preimage as
    context so a later codemod change can be merged 3-way (the patch is then self-contained)."""
    git(root, "add", "-A")
    args = ("diff", "--cached", "--no-color", "--no-ext-diff", "--no-renames", "--full-index", "-U100000")
    return git(root, *args).stdout.decode()


def save_fix(service_dir: Path, name: str, reason: str, patch: str) -> Path:
    """Store `patch` as the next fix of the service; refuses an empty patch or a taken name."""
    check_name(name)
    if not patch.strip():
        raise FixError("no edits to save: change the files in the fix copy first (git diff shows nothing)")
    existing = list_fixes(service_dir)
    if any(fix.name == name for fix in existing):
        raise FixError(f"a fix named {name!r} exists; drop it first (sandbox fix SERVICE --drop {name})")
    order = max((fix.order for fix in existing), default=0) + 1
    path = fixes_dir(service_dir) / f"{order:04d}-{name}.patch"
    header = "".join(f"# {line}\n".replace("# \n", "#\n") for line in (reason or name).splitlines())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + patch)
    return path


def apply_fixes(work: Path, fixes: list[Fix], rejects_dir: Path) -> FixOutcome:
    """Apply the fixes in order to the tree at `work` (repo-relative layout).

    Each fix is tried exactly first, then 3-way; the first that fails stops the others, and its
    rejected hunks are saved under `rejects_dir`. `work` gets no `.git`: the history lives in a
    temporary folder beside it.
    """
    outcome = FixOutcome()
    if not fixes:
        return outcome
    with tempfile.TemporaryDirectory(prefix="sandbox-fix-") as tmp:
        git_dir = Path(tmp) / "git"
        repo = ("--git-dir", str(git_dir), "--work-tree", str(work))
        git(work, "init", "-q", "--bare", str(git_dir))
        git(work, *repo, "add", "-A")
        git(work, *repo, "commit", "-q", "--allow-empty", "-m", "codemods")
        for fix in fixes:
            outcome.log += f"$ git apply {fix.path.name}\n"
            exact = git(work, *repo, "apply", "--index", "--whitespace=nowarn", str(fix.path), check=False)
            if exact.returncode == 0:
                outcome.applied.append(fix.name)
                continue
            outcome.log += exact.stderr.decode(errors="replace")
            if _merge_3way(work, repo, fix, outcome):
                outcome.applied.append(fix.name)
                outcome.merged.append(fix.name)
                continue
            outcome.failed = fix.name
            outcome.rejects = _save_rejects(work, repo, fix, rejects_dir, outcome)
            break
    return outcome


def _merge_3way(work: Path, repo: tuple[str, ...], fix: Fix, outcome: FixOutcome) -> bool:
    """Rebuild the fix's preimage from its full context, then let git merge it 3-way."""
    for preimage in preimages(fix.path.read_text(errors="replace")):
        git(work, *repo, "hash-object", "-w", "--stdin", stdin=preimage)
    proc = git(work, *repo, "apply", "--3way", "--index", "--whitespace=nowarn", str(fix.path), check=False)
    outcome.log += f"$ git apply --3way {fix.path.name}  (exit {proc.returncode})\n"
    outcome.log += proc.stderr.decode(errors="replace")
    if proc.returncode == 0:
        return True
    # Leave the tree as it was before this fix: conflict markers must never reach a build.
    git(work, *repo, "reset", "-q", "--hard", "HEAD", check=False)
    return False


def _save_rejects(
    work: Path, repo: tuple[str, ...], fix: Fix, rejects_dir: Path, outcome: FixOutcome
) -> list[str]:
    """`git apply --reject` writes .rej files beside the sources; move them to the run folder."""
    proc = git(work, *repo, "apply", "--reject", "--whitespace=nowarn", str(fix.path), check=False)
    outcome.log += proc.stderr.decode(errors="replace")
    saved = []
    for rej in sorted(work.rglob("*.rej")):
        target = rejects_dir / fix.path.stem / rej.relative_to(work)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(rej), target)
        saved.append(str(target))
    rejects_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(fix.path, rejects_dir / fix.path.name)
    git(work, *repo, "reset", "-q", "--hard", "HEAD", check=False)
    return saved


def preimages(patch: str) -> list[bytes]:
    """The old content of each modified file of a whole-file-context patch (`edited_diff`).

    A patch saved by `sandbox fix --save` holds every line of the file it changes, so the file the
    fix was made on can be rebuilt and given to git as the base of a 3-way merge.
    """
    found: list[bytes] = []
    old: list[str] | None = None
    last_old = False  # whether the previous hunk line belonged to the old side
    for line in patch.splitlines():
        if line.startswith("diff --git "):
            if old:
                found.append("".join(old).encode())
            old, last_old = [], False
        elif old is None or line.startswith(("new file mode", "--- ", "+++ ", "@@", "index ")):
            continue
        elif line.startswith((" ", "-")):
            old.append(line[1:] + "\n")
            last_old = True
        elif line.startswith("+"):
            last_old = False
        elif line.startswith("\\") and last_old and old:  # "\ No newline at end of file"
            old[-1] = old[-1][:-1]
    if old:
        found.append("".join(old).encode())
    return found
