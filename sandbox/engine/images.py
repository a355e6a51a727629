"""Logical images: each has an official name and a local build under `images/`.

Resolution prefers the official image (present in the engine, or pulled within a bounded time) and
falls back to the local build, building it when missing. Local builds are cached by a content
hash label, so a second set-up run reuses them. The image map lets a service Dockerfile's
`FROM python:3.11-slim` build against the local base inside a sandbox copy only.
"""

from __future__ import annotations

import hashlib
import importlib.util
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

from sandbox.engine.labels import cache_labels, temp_prefix

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


def _stream_build(client: docker.DockerClient, on_log: Progress, **kwargs: object) -> str:
    """Run an Engine API build, forwarding its log lines; return the image id or raise BuildError."""
    log: list[dict] = []
    image_id = ""
    for chunk in client.api.build(decode=True, rm=True, forcerm=True, **kwargs):
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
    tag: str,
    mapping: dict[str, str],
    labels: dict[str, str],
    buildargs: dict[str, str] | None = None,
    on_log: Progress = _quiet,
) -> str:
    """Build `dockerfile` over `context` with the image map applied, without writing into context.

    The mapped Dockerfile lives in a temporary folder outside the context; the Engine API SDK then
    ships it inside the build tarball, so the service folder is only read.
    """
    text = map_dockerfile(dockerfile.read_text(), mapping)
    with tempfile.TemporaryDirectory(prefix=temp_prefix("df")) as tmp:
        mapped = Path(tmp) / "Dockerfile"
        mapped.write_text(text)
        return _stream_build(
            client,
            on_log,
            path=str(context),
            dockerfile=str(mapped),
            tag=tag,
            labels=labels,
            buildargs=buildargs or {},
        )


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


def _spec_hash(client: docker.DockerClient, spec: ImageSpec) -> str:
    paths = [spec.path, *(package_dir(extra) for extra in spec.extra_context)]
    if spec.kind == "rootfs":
        bundle = ca_bundle()
        return content_hash(paths, [bundle.read_text() if bundle else ""])
    return content_hash(paths, [ensure_local(client, "base").digest])


def _build_rootfs(
    client: docker.DockerClient, spec: ImageSpec, tag_ref: str, labels: dict[str, str], on_log: Progress
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
    client: docker.DockerClient, spec: ImageSpec, tag_ref: str, labels: dict[str, str], on_log: Progress
) -> str:
    base = ensure_local(client, "base", on_log).ref
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
            labels=labels,
            buildargs={"BASE_IMAGE": base},
        )


def _adopt(client: docker.DockerClient, spec: ImageSpec, wanted: str, tag_ref: str):
    """A build of the same content under the alias only (made before builds had their own tags)."""
    image = _local_image(client, spec.local_tag)
    if image is None or image.labels.get("sandbox.image.hash") != wanted:
        return None
    image.tag(*tag_ref.split(":"))
    return image


def ensure_local(
    client: docker.DockerClient, logical: str, on_log: Progress = _quiet, force: bool = False
) -> ResolvedImage:
    """The local build of `logical`, built only when missing or when its inputs changed."""
    spec = SPECS[logical]
    recipe = spec.path / ("bootstrap.sh" if spec.kind == "rootfs" else "Dockerfile")
    if not recipe.is_file():
        raise ImageUnavailable(
            f"{logical}: no official image in the engine and no local recipe ({recipe} is missing)"
        )
    wanted = _spec_hash(client, spec)
    tag_ref = spec.build_tag(wanted)
    image = _local_image(client, tag_ref) or _adopt(client, spec, wanted, tag_ref)
    if force or image is None or image.labels.get("sandbox.image.hash") != wanted:
        on_log(f"building {tag_ref}")
        labels = cache_labels(logical, wanted)
        builder = _build_rootfs if spec.kind == "rootfs" else _build_dockerfile
        builder(client, spec, tag_ref, labels, on_log)
        image = client.images.get(tag_ref)
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


@dataclass
class Resolver:
    """Resolves logical images once per run and remembers each decision."""

    client: docker.DockerClient
    pull_timeout: float = float(os.environ.get("SANDBOX_PULL_TIMEOUT", "15"))
    allow_official: bool = os.environ.get("SANDBOX_LOCAL_IMAGES", "") not in ("1", "true", "yes")
    on_log: Progress = _quiet
    decisions: dict[str, ResolvedImage] = field(default_factory=dict)

    def resolve(self, logical: str) -> ResolvedImage:
        if logical not in self.decisions:
            self.decisions[logical] = self._decide(SPECS[logical])
        return self.decisions[logical]

    def _decide(self, spec: ImageSpec) -> ResolvedImage:
        if spec.official and self.allow_official:
            image = _local_image(self.client, spec.official)
            if image is None and _pull_bounded(self.client, spec.official, self.pull_timeout):
                image = _local_image(self.client, spec.official)
            if image is not None:
                return ResolvedImage(spec.name, spec.official, "official", image.id, spec.official)
        return ensure_local(self.client, spec.name, self.on_log)

    def image_map(self) -> dict[str, str]:
        """FROM substitutions for sandbox copies: official base name -> what it resolved to."""
        base = self.resolve("base")
        return {} if base.source == "official" else {SPECS["base"].official: base.ref}


def build_all(
    client: docker.DockerClient,
    on_log: Progress = _quiet,
    names: Iterable[str] = BUILD_ORDER,
    force: bool = False,
) -> list[ResolvedImage]:
    """Build (or reuse) every local image, base first."""
    return [ensure_local(client, name, on_log, force) for name in names]
