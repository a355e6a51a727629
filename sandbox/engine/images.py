"""Logical images: each has an official name and a local build under `images/`.

Resolution prefers the official image (present in the engine, or pulled within a bounded time) and
falls back to the local build, building it when missing. Local builds are cached by a content
hash label, so a second set-up run reuses them. Images built from a Dockerfile (migrator, and the
Mosquitto and InfluxDB stand-ins where their official image is missing) build FROM whichever base
resolved: with `python:3.11-slim` in the engine nothing is bootstrapped from Debian at all. The
image map lets a service Dockerfile's `FROM python:3.11-slim` build against the resolved base inside
a sandbox copy only.

SANDBOX_OFFICIAL_PREFIX puts every official name under a registry mirror or namespace
(`mirror.example.com/dockerhub/` gives `mirror.example.com/dockerhub/python:3.11-slim`); the tests
use it to simulate "official images present" under names no other run on the engine resolves.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import docker
from docker.errors import APIError, BuildError, ImageNotFound

from sandbox.engine.containers import BUILD_LIMITS, BUILD_SHM_BYTES
from sandbox.engine.labels import BASE_LABEL, cache_labels, temp_prefix

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def project_root() -> Path:
    """The repository root: where `images/`, `services/` and `migrators/` live."""
    override = os.environ.get("SANDBOX_ROOT")
    return Path(override).resolve() if override else Path(__file__).resolve().parents[2]


def images_root() -> Path:
    """The image build contexts, shipped with the package: `sandbox/images` is a link to the repo's
    `images/` in a checkout and package data in an installed wheel (which has no repo around it)."""
    return Path(__file__).resolve().parents[1] / "images"


def package_dir(name: str) -> Path:
    """Where an importable package's source is (the migrator image copies `migrators`), found
    without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ImageUnavailable(f"package {name!r} not found: install sandbox-migrate with its migrators")
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class ImageSpec:
    """One logical image: its official name (None: there is none) and its local build."""

    name: str
    official: str | None
    local_tag: str
    folder: str
    kind: Literal["rootfs", "dockerfile"]
    extra_context: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        return images_root() / self.folder

    def build_tag(self, content: str) -> str:
        """The tag of the build of `content`: clones with other image sources on one engine (a
        branch, a worktree) get other tags and never swap an image under each other's runs.
        `local_tag` stays an alias of the newest build, for people and compose."""
        return f"{self.local_tag.split(':')[0]}:local-{content[:12]}"


SPECS: dict[str, ImageSpec] = {
    "base": ImageSpec("base", "python:3.11-slim", "sandbox/base:local", "base", "rootfs"),
    "mosquitto": ImageSpec(
        "mosquitto", "eclipse-mosquitto:2", "sandbox/mosquitto:local", "mosquitto", "dockerfile"
    ),
    "influxdb3": ImageSpec(
        "influxdb3", "influxdb:3-core", "sandbox/influxdb3-lite:local", "influxdb3-lite", "dockerfile"
    ),
    "migrator": ImageSpec(
        "migrator", None, "sandbox/migrator:local", "migrator", "dockerfile", extra_context=("migrators",)
    ),
}
BUILD_ORDER = ("base", "mosquitto", "influxdb3", "migrator")


@dataclass(frozen=True)
class ResolvedImage:
    """What a logical image resolved to for this run; the run report records it."""

    logical: str
    ref: str
    source: Literal["official", "local"]
    digest: str
    official: str | None

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


class ImageUnavailable(RuntimeError):
    """Neither the official image nor a local build could be had; the message says why."""


# --- content hashing (the cache key of local builds) -------------------------------------------


def _files_under(path: Path) -> Iterable[Path]:
    if path.is_file():
        yield path
        return
    for item in sorted(path.rglob("*")):
        if item.is_file() and "__pycache__" not in item.parts and item.suffix != ".pyc":
            yield item


def content_hash(paths: Iterable[Path], extra: Iterable[str] = ()) -> str:
    """A stable hash of file names and bytes, plus extra strings (base image id, CA bundle)."""
    digest = hashlib.sha256()
    for root in paths:
        for item in _files_under(root):
            digest.update(str(item.relative_to(root.parent)).encode())
            digest.update(item.read_bytes())
    for value in extra:
        digest.update(value.encode())
    return digest.hexdigest()[:16]


def ca_bundle() -> Path | None:
    """The host's CA bundle, in the order pip and requests look for it."""
    for var in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        value = os.environ.get(var)
        if value and Path(value).is_file():
            return Path(value)
    for candidate in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"):
        if Path(candidate).is_file():
            return Path(candidate)
    return None


# --- the Dockerfile image map ---------------------------------------------------------------------

_FROM = re.compile(r"^(?P<lead>\s*FROM\s+(?:--\S+\s+)*)(?P<image>\S+)(?P<rest>.*)$", re.IGNORECASE)


def map_dockerfile(text: str, mapping: dict[str, str]) -> str:
    """Rewrite `FROM <official>` lines to the mapped image; everything else is kept byte for byte."""
    out = []
    for line in text.splitlines(keepends=True):
        match = _FROM.match(line)
        if match and match.group("image") in mapping:
            line = f"{match.group('lead')}{mapping[match.group('image')]}{match.group('rest')}"
            if not line.endswith("\n") and text.endswith("\n"):
                line += "\n"
        out.append(line)
    return "".join(out)


def _stream_build(
    client: docker.DockerClient, on_log: Progress, cpu_shares: int | None = None, **kwargs: object
) -> str:
    """Run an Engine API build, forwarding its log lines; return the image id or raise BuildError.
    `cpu_shares`: the RUN steps' CPU weight, when not BUILD_LIMITS' default."""
    log: list[dict] = []
    image_id = ""
    container_limits = dict(BUILD_LIMITS)
    if cpu_shares is not None:
        container_limits["cpushares"] = cpu_shares
    limits = {"container_limits": container_limits, "shmsize": BUILD_SHM_BYTES}
    for chunk in client.api.build(decode=True, rm=True, forcerm=True, **limits, **kwargs):
        log.append(chunk)
        if "stream" in chunk and chunk["stream"].strip():
            on_log(chunk["stream"].rstrip())
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = chunk["aux"]["ID"]
        if "error" in chunk:
            raise BuildError(chunk["error"].strip(), log)
    if not image_id:
        raise BuildError("the engine reported no image id", log)
    return image_id


def build_mapped(
    client: docker.DockerClient,
    context: Path,
    dockerfile: Path,
    tag: str | None,
    mapping: dict[str, str],
    labels: dict[str, str],
    buildargs: dict[str, str] | None = None,
    on_log: Progress = _quiet,
    cpu_shares: int | None = None,
) -> str:
    """Build `dockerfile` over `context` with the image map applied, without writing into context.

    The mapped Dockerfile lives in a temporary folder outside the context; the Engine API SDK then
    ships it inside the build tarball, so the service folder is only read.
    """
    text = map_dockerfile(dockerfile.read_text(), mapping) + label_instruction(labels)
    with tempfile.TemporaryDirectory(prefix=temp_prefix("df")) as tmp:
        mapped = Path(tmp) / "Dockerfile"
        mapped.write_text(text)
        return _stream_build(
            client,
            on_log,
            cpu_shares,
            path=str(context),
            dockerfile=str(mapped),
            tag=tag,
            buildargs=buildargs or {},
        )


def label_instruction(labels: dict[str, str]) -> str:
    """One `LABEL` line with every label, appended to the Dockerfile. Given as the build's `labels`,
    the classic builder adds one LABEL step per label, each a container created, committed and
    removed (a second or more each on a loaded engine); a run's labels change every run, so none of
    those steps is ever cached. One line is one step. The keys come first unquoted (`LABEL sandbox.`
    is how sandbox.engine.cleanup.label_steps knows the step), the values quoted."""
    if not labels:
        return ""
    pairs = " ".join(
        f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in sorted(labels.items())
    )
    return f"\nLABEL {pairs}\n"


# --- local builds ------------------------------------------------------------------------------


def debian_mirror() -> str:
    """The Debian mirror the host's apt uses (never a hard-coded host), or SANDBOX_DEBIAN_MIRROR."""
    if os.environ.get("SANDBOX_DEBIAN_MIRROR"):
        return os.environ["SANDBOX_DEBIAN_MIRROR"]
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        if not source.is_file():
            continue
        for line in source.read_text(errors="replace").splitlines():
            line = line.strip()
            uri = None
            if line.startswith("URIs:"):
                uri = line.split()[1]
            elif line.startswith("deb ") and "[" not in line.split()[1]:
                uri = line.split()[1]
            if uri and uri.rstrip("/").endswith("/debian"):
                return uri
    raise ImageUnavailable(
        "no Debian mirror found in /etc/apt/sources.list*; set SANDBOX_DEBIAN_MIRROR to a Debian archive URL"
    )


def _local_image(client: docker.DockerClient, tag: str):
    try:
        return client.images.get(tag)
    except ImageNotFound:
        return None


def _spec_hash(spec: ImageSpec, base: ResolvedImage | None) -> str:
    """The cache key: the recipe's files, plus the CA bundle (rootfs) or the base image id (a
    build on another base is another build)."""
    paths = [spec.path, *(package_dir(extra) for extra in spec.extra_context)]
    if spec.kind == "rootfs":
        bundle = ca_bundle()
        return content_hash(paths, [bundle.read_text() if bundle else ""])
    assert base is not None, "a Dockerfile image is built FROM a resolved base"
    return content_hash(paths, [base.digest])


def _build_rootfs(
    client: docker.DockerClient,
    spec: ImageSpec,
    tag_ref: str,
    labels: dict[str, str],
    on_log: Progress,
    base: ResolvedImage | None = None,
) -> str:
    if shutil.which("debootstrap") is None:
        raise ImageUnavailable(
            "building the offline base needs debootstrap: "
            "run ./scripts/setup.sh (installs it on Debian) or apt-get install debootstrap"
        )
    bundle = ca_bundle()
    if bundle is None:
        raise ImageUnavailable("no CA bundle found: set PIP_CERT or SSL_CERT_FILE")
    with tempfile.TemporaryDirectory(prefix=temp_prefix("rootfs")) as tmp:
        rootfs, archive = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        on_log(f"debootstrap bookworm from {debian_mirror()} (about a minute)")
        proc = subprocess.run(
            [str(spec.path / "bootstrap.sh"), str(rootfs), str(bundle), debian_mirror()],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise ImageUnavailable(f"debootstrap failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
        on_log("importing the root filesystem")
        with tarfile.open(archive, "w") as tar:
            tar.add(rootfs, arcname=".")
        repository, tag = tag_ref.split(":")
        changes = [
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            "ENV PIP_ROOT_USER_ACTION=ignore",
            'CMD ["python3"]',
            *(f"LABEL {key}={value}" for key, value in labels.items()),
        ]
        client.api.import_image_from_file(str(archive), repository=repository, tag=tag, changes=changes)
    return client.images.get(tag_ref).id


def _build_dockerfile(
    client: docker.DockerClient,
    spec: ImageSpec,
    tag_ref: str,
    labels: dict[str, str],
    on_log: Progress,
    base: ResolvedImage | None = None,
) -> str:
    assert base is not None, "a Dockerfile image is built FROM a resolved base"
    with tempfile.TemporaryDirectory(prefix=temp_prefix("ctx")) as tmp:
        context = Path(tmp) / "context"
        shutil.copytree(spec.path, context, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for extra in spec.extra_context:
            shutil.copytree(
                package_dir(extra), context / extra, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        return _stream_build(
            client,
            on_log,
            path=str(context),
            tag=tag_ref,
            labels={**labels, BASE_LABEL: base.ref},
            buildargs={"BASE_IMAGE": base.ref},
        )


def _adopt(client: docker.DockerClient, spec: ImageSpec, wanted: str, tag_ref: str):
    """A build of the same content under the alias only (made before builds had their own tags)."""
    image = _local_image(client, spec.local_tag)
    if image is None or image.labels.get("sandbox.image.hash") != wanted:
        return None
    image.tag(*tag_ref.split(":"))
    return image


def ensure_local(
    client: docker.DockerClient,
    logical: str,
    on_log: Progress = _quiet,
    force: bool = False,
    base: ResolvedImage | None = None,
) -> ResolvedImage:
    """The local build of `logical`, built only when missing or when its inputs changed.

    A Dockerfile image builds FROM `base` (what the run resolved; default: the local base)."""
    spec = SPECS[logical]
    recipe = spec.path / ("bootstrap.sh" if spec.kind == "rootfs" else "Dockerfile")
    if not recipe.is_file():
        raise ImageUnavailable(
            f"{logical}: no official image in the engine and no local recipe ({recipe} is missing)"
        )
    if spec.kind == "dockerfile" and base is None:
        base = ensure_local(client, "base", on_log)
    wanted = _spec_hash(spec, base)
    tag_ref = spec.build_tag(wanted)
    image = _local_image(client, tag_ref) or _adopt(client, spec, wanted, tag_ref)
    if force or image is None or image.labels.get("sandbox.image.hash") != wanted:
        on_log(f"building {tag_ref}" + (f" FROM {base.ref}" if base else ""))
        labels = cache_labels(logical, wanted)
        builder = _build_rootfs if spec.kind == "rootfs" else _build_dockerfile
        builder(client, spec, tag_ref, labels, on_log, base)
        image = client.images.get(tag_ref)
    if base is None or base.source == "local":
        # The alias (for people and compose) names the build on the local base; a build on an
        # official base is found through the resolution (.sandbox/images.env), never the alias.
        image.tag(*spec.local_tag.split(":"))
    return ResolvedImage(logical, tag_ref, "local", image.id, spec.official)


# --- resolution -------------------------------------------------------------------------------------


def _pull_bounded(client: docker.DockerClient, ref: str, timeout: float) -> bool:
    """Try to pull `ref`; give up after `timeout` seconds (offline engines may hang on DNS)."""
    result: dict[str, bool] = {"ok": False}

    def pull() -> None:
        try:
            client.images.pull(ref)
            result["ok"] = True
        except (APIError, OSError):
            result["ok"] = False

    worker = threading.Thread(target=pull, daemon=True)
    worker.start()
    worker.join(timeout)
    return result["ok"]


def official_name(spec: ImageSpec, prefix: str | None = None) -> str | None:
    """The official name to look for: SPECS' name under SANDBOX_OFFICIAL_PREFIX (a mirror or a
    test namespace), or None when the image has no official counterpart."""
    if spec.official is None:
        return None
    prefix = os.environ.get("SANDBOX_OFFICIAL_PREFIX", "") if prefix is None else prefix
    return f"{prefix}{spec.official}"


def _env_pull_timeout() -> float:
    return float(os.environ.get("SANDBOX_PULL_TIMEOUT", "15"))


def _env_allow_official() -> bool:
    return os.environ.get("SANDBOX_LOCAL_IMAGES", "") not in ("1", "true", "yes")


@dataclass
class Resolver:
    """Resolves logical images once per run and remembers each decision.

    `pull_timeout` 0: only what the engine already holds counts (set-up on a machine without
    Docker Hub never waits on a pull)."""

    client: docker.DockerClient
    pull_timeout: float = field(default_factory=_env_pull_timeout)
    allow_official: bool = field(default_factory=_env_allow_official)
    on_log: Progress = _quiet
    force: bool = False  # rebuild the local builds this resolver makes
    prefix: str | None = None  # SANDBOX_OFFICIAL_PREFIX when None
    decisions: dict[str, ResolvedImage] = field(default_factory=dict)

    def resolve(self, logical: str) -> ResolvedImage:
        if logical not in self.decisions:
            self.decisions[logical] = self._decide(SPECS[logical])
        return self.decisions[logical]

    def _decide(self, spec: ImageSpec) -> ResolvedImage:
        official = self._official(spec)
        if official is not None:
            return official
        base = self.resolve("base") if spec.kind == "dockerfile" else None
        return ensure_local(self.client, spec.name, self.on_log, self.force, base)

    def _official(self, spec: ImageSpec) -> ResolvedImage | None:
        name = official_name(spec, self.prefix)
        if name is None or not self.allow_official:
            return None
        image = _local_image(self.client, name)
        if image is None and self.pull_timeout > 0 and _pull_bounded(self.client, name, self.pull_timeout):
            image = _local_image(self.client, name)
        if image is None:
            return None
        return ResolvedImage(spec.name, name, "official", image.id, spec.official)

    def image_map(self) -> dict[str, str]:
        """FROM substitutions for sandbox copies: official base name -> what it resolved to."""
        base = self.resolve("base")
        official = SPECS["base"].official
        return {} if base.ref == official else {official: base.ref}


def build_all(
    client: docker.DockerClient,
    on_log: Progress = _quiet,
    names: Iterable[str] = BUILD_ORDER,
    force: bool = False,
    env_file: Path | None = None,
) -> list[ResolvedImage]:
    """Resolve every wanted image, base first, building the local ones that are missing.

    The official image wins where the engine holds it; it is pulled (bounded) only with
    SANDBOX_PULL_OFFICIAL=1, so a machine without Docker Hub never waits on a pull. `env_file`
    records the decisions for compose and CI (see `write_env_file`)."""
    pull = float(os.environ.get("SANDBOX_PULL_TIMEOUT", "120")) if _pull_wanted() else 0.0
    resolver = Resolver(client, pull_timeout=pull, on_log=on_log, force=force)
    found = [resolver.resolve(name) for name in names]
    if env_file is not None:
        write_env_file(env_file, resolver.decisions.values())
    return found


def _pull_wanted() -> bool:
    return os.environ.get("SANDBOX_PULL_OFFICIAL", "") in ("1", "true", "yes")


def env_name(logical: str) -> str:
    return f"SANDBOX_{logical.upper()}_IMAGE"


def write_env_file(path: Path, decisions: Iterable[ResolvedImage]) -> None:
    """The resolution as KEY=VALUE lines: `docker-compose --env-file` reads it for the image names
    of compose.sandbox.yml, the nightly's image cache saves exactly these refs. Only the images
    resolved now are written; others keep what an earlier run recorded."""
    known = read_env_file(path)
    for found in decisions:
        known[env_name(found.logical)] = found.ref
        known[f"SANDBOX_{found.logical.upper()}_SOURCE"] = found.source
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(f"{key}={value}\n" for key, value in sorted(known.items()))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("# written by `sandbox images build`: what each logical image resolved to\n" + body)
    tmp.replace(path)


def read_env_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs if not key.startswith("#")}
