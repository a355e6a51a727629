"""The offline base builds an unmodified `FROM python:3.11-slim` Dockerfile that pip-installs from PyPI."""

from __future__ import annotations

import uuid
from pathlib import Path

from sandbox.engine.images import Resolver, build_mapped
from sandbox.engine.labels import labels_for

SERVICE_DOCKERFILE = """\
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
RUN useradd --create-home app
USER app
CMD ["python", "-c", "import six, sys; print('six', six.__version__, sys.version_info[:2])"]
"""


def test_unmodified_service_dockerfile_builds_on_local_base(docker_client, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(SERVICE_DOCKERFILE)
    (tmp_path / "requirements.txt").write_text("six==1.16.0\n")
    resolver = Resolver(docker_client)
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    tag = f"sandbox-test/base-check:{run_id}"
    image_id = build_mapped(
        docker_client,
        tmp_path,
        tmp_path / "Dockerfile",
        tag,
        resolver.image_map(),
        labels_for(run_id, "test"),
    )
    try:
        output = docker_client.containers.run(image_id, remove=True).decode()
        assert output.strip() == "six 1.16.0 (3, 11)"
        # The sandbox copy built with the map; the folder on disk still says python:3.11-slim.
        assert (tmp_path / "Dockerfile").read_text() == SERVICE_DOCKERFILE
    finally:
        docker_client.images.remove(image_id, force=True)


def test_base_behaves_like_python_slim(docker_client) -> None:
    base = Resolver(docker_client).resolve("base")
    script = (
        "import shutil, ssl, sys; "
        "print(sys.version_info[:2], bool(shutil.which('pip')), bool(shutil.which('python')), "
        "ssl.get_default_verify_paths().openssl_cafile)"
    )
    output = docker_client.containers.run(base.ref, ["python", "-c", script], remove=True).decode()
    assert output.strip() == "(3, 11) True True /usr/lib/ssl/cert.pem"


def test_base_trusts_the_host_ca_bundle(docker_client) -> None:
    """Every certificate of the host bundle is in the image's bundle (proxy CAs included)."""
    from sandbox.engine.images import ca_bundle

    bundle = ca_bundle()
    assert bundle is not None, "no host CA bundle: set PIP_CERT or SSL_CERT_FILE"
    first_cert = (
        bundle.read_text().split("-----END CERTIFICATE-----")[0].split("-----BEGIN CERTIFICATE-----")[1]
    )
    image_bundle = docker_client.containers.run(
        Resolver(docker_client).resolve("base").ref,
        ["cat", "/etc/ssl/certs/ca-certificates.crt"],
        remove=True,
    ).decode()
    assert first_cert.strip().splitlines()[0] in image_bundle
