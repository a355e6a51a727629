"""Throwaway Mosquitto from the dependency module: real aiomqtt round trips, host and container."""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from pathlib import Path

import pytest

from sandbox.deps import ServiceDeps
from sandbox.deps.mosquitto import mqtt_round_trip
from sandbox.engine.images import Resolver, build_mapped
from sandbox.engine.labels import PROJECT_KEY, RUN_KEY, labels_for
from tests.sandbox.docker_objects import containers

CLIENT_SCRIPT = textwrap.dedent("""
    import asyncio, os, aiomqtt
    async def main():
        host, port = os.environ["MQTT_HOST"], int(os.environ["MQTT_PORT"])
        async with aiomqtt.Client(host, port, identifier="peer") as client:
            await client.subscribe("fleet/echo", qos=1)
            await client.publish("fleet/echo", b"from-container", qos=1)
            async with asyncio.timeout(10):
                async for message in client.messages:
                    print(message.topic.value, message.payload.decode())
                    return
    asyncio.run(main())
""")


@pytest.fixture(scope="module")
def aiomqtt_client_image(docker_client, tmp_path_factory) -> str:
    """A small image with aiomqtt, built on the resolved base (layer cache makes re-runs instant)."""
    context: Path = tmp_path_factory.mktemp("aiomqtt-client")
    (context / "Dockerfile").write_text(
        "FROM python:3.11-slim\nRUN pip install --no-cache-dir aiomqtt==2.5.1\n"
        'COPY client.py /client.py\nCMD ["python", "/client.py"]\n'
    )
    (context / "client.py").write_text(CLIENT_SCRIPT)
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    image_id = build_mapped(
        docker_client,
        context,
        context / "Dockerfile",
        f"sandbox-test/aiomqtt:{run_id}",
        Resolver(docker_client).image_map(),
        labels_for(run_id, "test"),
    )
    yield image_id
    docker_client.images.remove(image_id, force=True)


def test_mosquitto_round_trip_from_host(docker_client) -> None:
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    with ServiceDeps(docker_client, labels_for(run_id, "deps"), needs=("mosquitto",)) as deps:
        env = deps.host_env
        asyncio.run(mqtt_round_trip(env["MQTT_HOST"], int(env["MQTT_PORT"])))
        assert deps.started_in["mosquitto"] < 30


def test_mosquitto_round_trip_from_second_container(docker_client, aiomqtt_client_image) -> None:
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    labels = labels_for(run_id, "deps")
    with ServiceDeps(docker_client, labels, needs=("mosquitto",)) as deps:
        output = docker_client.containers.run(
            aiomqtt_client_image,
            environment=deps.container_env,
            network=deps.network,
            labels=labels_for(run_id, "test"),
            remove=True,
        ).decode()
    assert output.strip() == "fleet/echo from-container"


def test_dependency_network_is_private_and_labelled(docker_client) -> None:
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    with ServiceDeps(docker_client, labels_for(run_id, "deps"), needs=("mosquitto",)) as deps:
        network = docker_client.networks.get(deps.network)
        assert network.attrs["Internal"] is True
        assert network.attrs["Labels"][RUN_KEY] == run_id
        container = deps.containers["mosquitto"].get_wrapped_container()
        assert container.labels[PROJECT_KEY] == "sandbox-migrate"
        assert deps.container_env["MQTT_HOST"] == "mosquitto"
    assert not containers(docker_client, {"label": f"{RUN_KEY}={run_id}"})
    assert not docker_client.networks.list(filters={"label": f"{RUN_KEY}={run_id}"})


def test_dependencies_run_without_the_image_healthcheck(docker_client) -> None:
    """The local Mosquitto image checks itself every 2 s (a `runc exec` each time); the sandbox's own
    round trip proves readiness, so its dependency containers switch that check off: no health state,
    no exec of the image's check while they run."""
    run_id = f"test-{uuid.uuid4().hex[:8]}"
    with ServiceDeps(docker_client, labels_for(run_id, "deps"), needs=("mosquitto", "influxdb3")) as deps:
        for name, container in deps.containers.items():
            wrapped = container.get_wrapped_container()
            wrapped.reload()
            assert wrapped.attrs["Config"]["Healthcheck"]["Test"] == ["NONE"], name
            assert "Health" not in wrapped.attrs["State"], name
        image = docker_client.images.get(deps.images["mosquitto"].ref)
        if deps.images["mosquitto"].source != "official":  # the local build has a 2 s HEALTHCHECK
            assert image.attrs["Config"]["Healthcheck"]["Test"][0] == "CMD-SHELL"
