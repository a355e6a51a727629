"""asyncio-mqtt 0.16 -> aiomqtt 2: before/after per rule (MQ-1..MQ-15), negative cases, idempotence."""

from __future__ import annotations

from tests.migrators.helpers import (
    assert_codemod,
    dedent,
    migrate_twice,
    python_output,
    read,
    run_file,
    write_tree,
)

A = "aiomqtt"


def test_mq2_import_forms_and_attribute_uses():
    assert_codemod(
        A,
        """
        import asyncio_mqtt
        from asyncio_mqtt import Client, MqttError, Will, ProtocolVersion
        from asyncio_mqtt.error import MqttConnectError
        from asyncio_mqtt.types import PayloadType

        async def main():
            async with asyncio_mqtt.Client("h") as c:
                pass
            raise asyncio_mqtt.MqttError("x")
        """,
        """
        import aiomqtt
        from aiomqtt import Client, MqttError, Will, ProtocolVersion
        from aiomqtt.exceptions import MqttConnectError
        from aiomqtt.types import PayloadType

        async def main():
            async with aiomqtt.Client("h") as c:
                pass
            raise aiomqtt.MqttError("x")
        """,
        rules={"MQ-2"},
    )


def test_mq2_aiomqtt_1x_submodules_move():
    # aiomqtt 1.x kept its exceptions in aiomqtt.error (aiomqtt.exceptions in 2.0) and Topic/Wildcard
    # in aiomqtt.client (aiomqtt.topic in 2.0, exported at the top level).
    assert_codemod(
        A,
        """
        import aiomqtt.error
        from aiomqtt.error import MqttCodeError
        from aiomqtt.client import Client, Topic
        from aiomqtt.client import Will

        def failed(exc):
            return isinstance(exc, (aiomqtt.error.MqttError, MqttCodeError)) and Topic("a").matches("a")
        """,
        """
        import aiomqtt.exceptions
        from aiomqtt.exceptions import MqttCodeError
        from aiomqtt import Client, Topic
        from aiomqtt.client import Will

        def failed(exc):
            return isinstance(exc, (aiomqtt.exceptions.MqttError, MqttCodeError)) and Topic("a").matches("a")
        """,
        rules={"MQ-2"},
    )


def test_mq2_aiomqtt_1x_topic_constant_moves_and_a_mixed_import_is_marked():
    assert_codemod(
        A,
        """
        from aiomqtt.client import MAX_TOPIC_LENGTH
        from aiomqtt.client import Client, MAX_TOPIC_LENGTH as LIMIT
        """,
        """
        from aiomqtt.topic import MAX_TOPIC_LENGTH
        # MIGRATION-BLOCKER(MQ-2): Client, MAX_TOPIC_LENGTH from aiomqtt.client (aiomqtt 1.x) has no known home in aiomqtt 2; import it from aiomqtt (top level, .exceptions or .types)
        from aiomqtt.client import Client, MAX_TOPIC_LENGTH as LIMIT
        """,
        rules={"MQ-2"},
    )


def test_mq2_alias_forms():
    assert_codemod(
        A,
        """
        import asyncio_mqtt as aiomqtt
        import asyncio_mqtt as mqtt
        from asyncio_mqtt.client import Topic
        """,
        """
        import aiomqtt
        import aiomqtt as mqtt
        from aiomqtt import Topic
        """,
        rules={"MQ-2"},
    )


def test_mq3_mq4_constructor_and_identifier_through_alias():
    assert_codemod(
        A,
        """
        from asyncio_mqtt import Client as MQTT

        async def run():
            async with MQTT("broker", 1883, client_id="svc", message_retry_set=20, keepalive=30) as client:
                print(client.id)
        """,
        """
        from aiomqtt import Client as MQTT

        async def run():
            async with MQTT("broker", 1883, identifier="svc", keepalive=30) as client:
                print(client.identifier)
        """,
        rules={"MQ-2", "MQ-3", "MQ-4"},
    )


def test_mq4_unrelated_id_untouched():
    code = """
        import aiomqtt

        async def run(user):
            return user.id
        """
    assert_codemod(A, code, code, rules=set())


def test_mq5_construction_outside_a_loop_is_marked():
    assert_codemod(
        A,
        """
        import aiomqtt

        CLIENT = aiomqtt.Client("h")

        class Svc:
            def __init__(self):
                self.client = aiomqtt.Client("h")

        async def main():
            client = aiomqtt.Client("h")
        """,
        """
        import aiomqtt

        # MIGRATION-BLOCKER(MQ-5): aiomqtt>=2.3.1 needs a running loop to construct Client (at module level); construct it inside the async entry point / lazily before `async with`
        CLIENT = aiomqtt.Client("h")

        class Svc:
            def __init__(self):
                # MIGRATION-BLOCKER(MQ-5): aiomqtt>=2.3.1 needs a running loop to construct Client (in sync __init__()); construct it inside the async entry point / lazily before `async with`
                self.client = aiomqtt.Client("h")

        async def main():
            client = aiomqtt.Client("h")
        """,
        rules={"MQ-5"},
    )


def test_mq6_connect_disconnect_and_timeout_moves_to_constructor():
    assert_codemod(
        A,
        """
        from asyncio_mqtt import Client

        async def main():
            client = Client("h")
            await client.connect(timeout=5)
            await client.publish("t", b"x")
            await client.disconnect()
        """,
        """
        from aiomqtt import Client

        async def main():
            client = Client("h", timeout=5)
            await client.__aenter__()
            await client.publish("t", b"x")
            await client.__aexit__(None, None, None)
        """,
        rules={"MQ-2", "MQ-3", "MQ-6"},
    )


def test_mq6_force_disconnect_is_impossible():
    assert_codemod(
        A,
        """
        import aiomqtt

        async def stop(client: aiomqtt.Client):
            await client.force_disconnect()
        """,
        """
        import aiomqtt

        async def stop(client: aiomqtt.Client):
            # MIGRATION-BLOCKER(MQ-6): force_disconnect() has no replacement in aiomqtt 2; leaving `async with client:` (or __aexit__) forces the disconnect when a clean one fails
            await client.force_disconnect()
        """,
        rules={"MQ-6"},
    )


def test_mq6_unrelated_connect_untouched():
    code = """
        import aiomqtt

        async def db(pool):
            await pool.connect(timeout=3)
        """
    assert_codemod(A, code, code, rules=set())


def test_mq7_messages_context_to_iterator_with_queue_args():
    assert_codemod(
        A,
        """
        from asyncio_mqtt import Client

        async def main():
            async with Client("h") as client:
                async with client.messages(queue_maxsize=100) as messages:
                    await client.subscribe("t/#")
                    async for message in messages:
                        print(message.topic.value)
        """,
        """
        from aiomqtt import Client

        async def main():
            async with Client("h", max_queued_incoming_messages=100) as client:
                await client.subscribe("t/#")
                async for message in client.messages:
                    print(message.topic.value)
        """,
        rules={"MQ-2", "MQ-3", "MQ-7"},
    )


def test_mq7_two_concurrent_contexts_are_impossible():
    before = """
        import aiomqtt

        async def main(client: aiomqtt.Client):
            async with client.messages() as a:
                async with client.messages() as b:
                    async for m in a:
                        pass
        """
    after = """
        import aiomqtt

        async def main(client: aiomqtt.Client):
            # MIGRATION-BLOCKER(MQ-7): messages() is gone in aiomqtt 2: iterate `async for m in client.messages` (one shared queue; two concurrent readers compete, use a distributor task as in the aiomqtt migration guide)
            async with client.messages() as a:
                # MIGRATION-BLOCKER(MQ-7): messages() is gone in aiomqtt 2: iterate `async for m in client.messages` (one shared queue; two concurrent readers compete, use a distributor task as in the aiomqtt migration guide)
                async with client.messages() as b:
                    async for m in a:
                        pass
        """
    assert_codemod(A, before, after, rules={"MQ-7"})


def test_mq8_filtered_messages_with_wildcards_and_topic_type():
    assert_codemod(
        A,
        """
        import json
        from asyncio_mqtt import Client

        async def main():
            async with Client("h") as client:
                async with client.filtered_messages("sensors/+/temp/#") as messages:
                    await client.subscribe("sensors/#")
                    async for message in messages:
                        room = message.topic.split("/")[1]
                        if message.topic == "sensors/a/temp":
                            print(json.dumps({message.topic: str(message.topic)}), f"{message.topic}")
        """,
        """
        import json
        from aiomqtt import Client

        async def main():
            async with Client("h") as client:
                await client.subscribe("sensors/#")
                async for message in client.messages:
                    if not message.topic.matches("sensors/+/temp/#"):
                        continue
                    room = message.topic.value.split("/")[1]
                    if message.topic.value == "sensors/a/temp":
                        print(json.dumps({message.topic.value: str(message.topic)}), f"{message.topic}")
        """,
        rules={"MQ-2", "MQ-8"},
    )


def test_mq8_paho_only_attributes_and_message_passed_on():
    assert_codemod(
        A,
        """
        import aiomqtt

        async def main(client: aiomqtt.Client):
            async with client.filtered_messages("a/#") as ms:
                async for m in ms:
                    print(m.timestamp)
        """,
        """
        import aiomqtt

        async def main(client: aiomqtt.Client):
            # MIGRATION-BLOCKER(MQ-8): m.timestamp is paho-only; aiomqtt.Message has topic, payload, qos, retain, mid, properties
            async for m in client.messages:
                if not m.topic.matches("a/#"):
                    continue
                print(m.timestamp)
        """,
        rules={"MQ-8"},
    )


def test_mq7_filtered_messages_handed_to_another_function_says_topic_changes():
    # the reader is another method (`message.topic.split("/")` there): the marker says the topic is a Topic
    new = read_marked(
        """
        import aiomqtt

        async def main(client: aiomqtt.Client, handle):
            async with client.filtered_messages("sensors/+/temp") as temps:
                await handle(temps)
        """
    )
    assert "filtered_messages() is gone in aiomqtt 2" in new
    assert "their .topic becomes a Topic: .value for the str" in new


def read_marked(before: str) -> str:
    new, _ = run_file(A, dedent(before), rel="app/mod.py")
    return new


def test_mq9_topic_from_messages_is_noop():
    code = """
        import aiomqtt

        async def main(client: aiomqtt.Client):
            async for m in client.messages:
                if m.topic.matches("a/+"):
                    print(m.topic.value, str(m.topic))
        """
    assert_codemod(A, code, code, rules=set())


def test_mq11_mq12_reason_codes_and_subscribe_result():
    assert_codemod(
        A,
        """
        import aiomqtt
        import paho.mqtt.client as mqtt

        async def main(client: aiomqtt.Client):
            rc = await client.subscribe("t")
            ok = rc[0] == 1
            assert rc == (1,)
            try:
                pass
            except aiomqtt.MqttCodeError as e:
                if isinstance(e.rc, mqtt.ReasonCodes):
                    pass
        """,
        """
        import aiomqtt
        import paho.mqtt.client as mqtt

        async def main(client: aiomqtt.Client):
            rc = await client.subscribe("t")
            ok = rc[0] == 1
            # MIGRATION-BLOCKER(MQ-12): subscribe() now returns list[ReasonCode], not a tuple of ints (comparison on rc breaks); compare rc[0] == 1 / rc[0] >= 128 instead
            assert rc == (1,)
            try:
                pass
            except aiomqtt.MqttCodeError as e:
                # MIGRATION-BLOCKER(MQ-11): MqttCodeError.rc is now paho 2's ReasonCode; check this isinstance
                if isinstance(e.rc, mqtt.ReasonCodes):
                    pass
        """,
        rules={"MQ-11", "MQ-12"},
    )


def test_mq13_paho_used_directly():
    assert_codemod(
        A,
        """
        import aiomqtt
        import paho.mqtt.client as mqtt

        async def main(client: aiomqtt.Client):
            client._client.on_connect = lambda *a: None
            raw = mqtt.Client()
        """,
        """
        import aiomqtt
        import paho.mqtt.client as mqtt

        async def main(client: aiomqtt.Client):
            # MIGRATION-BLOCKER(MQ-13): direct paho use: aiomqtt 2 runs paho with callback API VERSION2 (client, userdata, flags, reason_code, properties); see https://eclipse.dev/paho/files/paho.mqtt.python/html/migrations.html
            client._client.on_connect = lambda *a: None
            # MIGRATION-BLOCKER(MQ-13): paho Client next to aiomqtt: paho 2 needs CallbackAPIVersion.VERSION2 callbacks (a bare Client() warns); see https://eclipse.dev/paho/files/paho.mqtt.python/html/migrations.html
            raw = mqtt.Client()
        """,
        rules={"MQ-13"},
    )


def test_mq14_mq15_reconnect_loop_and_pending_threshold():
    assert_codemod(
        A,
        """
        import asyncio
        import asyncio_mqtt as aiomqtt

        async def main():
            while True:
                try:
                    async with aiomqtt.Client("h", logger=None) as client:
                        client._pending_calls_threshold = 5
                except aiomqtt.MqttError:
                    await asyncio.sleep(1)
        """,
        """
        import asyncio
        import aiomqtt

        async def main():
            while True:
                try:
                    async with aiomqtt.Client("h", logger=None) as client:
                        client.pending_calls_threshold = 5
                except aiomqtt.MqttError:
                    await asyncio.sleep(1)
        """,
        rules={"MQ-2", "MQ-15"},
    )


def test_code_in_strings_and_comments_untouched():
    code = """
        import aiomqtt

        HELP = "use asyncio_mqtt.Client(client_id=...) and client.filtered_messages('a/#')"
        # asyncio_mqtt.connect() in a comment
        """
    assert_codemod(A, code, code, rules=set())


def test_mq1_requirements_and_forced_paho(tmp_path):
    write_tree(
        tmp_path,
        {
            "requirements.txt": "asyncio-mqtt==0.16.1 ; python_version >= '3.8'  # broker\npaho-mqtt==1.6.1\nhttpx\n",
            "app.py": "import asyncio_mqtt\n",
        },
    )
    migrate_twice(tmp_path, only=["aiomqtt"])
    assert read(tmp_path, "requirements.txt") == (
        "aiomqtt==2.5.1 ; python_version >= '3.8'  # broker\npaho-mqtt>=2.1,<3\nhttpx\n"
    )


def test_mq1_aiomqtt_already_present_drops_asyncio_mqtt(tmp_path):
    write_tree(tmp_path, {"requirements.txt": "asyncio-mqtt==0.16.1\naiomqtt==1.2.1\n"})
    migrate_twice(tmp_path, only=["aiomqtt"])
    assert read(tmp_path, "requirements.txt") == "aiomqtt==2.5.1\n"


def test_mq4_mq6_clients_held_through_annotations_aliases_and_factories():
    # a Client injected into a class, annotated on it, aliased, returned by an annotated factory or
    # entered through an exit stack: connect()/disconnect() are gone in 2.0 (AttributeError at run
    # time), so each is rewritten like a client built in place
    assert_codemod(
        A,
        """
        import contextlib
        from typing import Optional

        from asyncio_mqtt import Client


        class Publisher:
            def __init__(self, client: Optional[Client]):
                self.client = client

            async def start(self):
                await self.client.connect()
                return self.client.id


        class Holder:
            client: Client

            async def stop(self):
                await self.client.disconnect()


        async def get_client() -> Client:
            return Client("h")


        async def main():
            client = await get_client()
            conn = client
            await conn.connect()
            async with contextlib.AsyncExitStack() as stack:
                entered = await stack.enter_async_context(Client("h", client_id="x"))
                return entered.id
        """,
        """
        import contextlib
        from typing import Optional

        from aiomqtt import Client


        class Publisher:
            def __init__(self, client: Optional[Client]):
                self.client = client

            async def start(self):
                await self.client.__aenter__()
                return self.client.identifier


        class Holder:
            client: Client

            async def stop(self):
                await self.client.__aexit__(None, None, None)


        async def get_client() -> Client:
            return Client("h")


        async def main():
            client = await get_client()
            conn = client
            await conn.__aenter__()
            async with contextlib.AsyncExitStack() as stack:
                entered = await stack.enter_async_context(Client("h", identifier="x"))
                return entered.identifier
        """,
        rules={"MQ-2", "MQ-3", "MQ-4", "MQ-6"},
    )


def test_mq6_unresolved_client_named_receiver_is_marked_but_paho_connect_is_not():
    assert_codemod(
        A,
        """
        from asyncio_mqtt import Client


        class Service:
            def __init__(self, deps):
                self.client = deps.mqtt
                self.paho_client = deps.paho

            async def start(self):
                await self.client.connect()
                self.paho_client.connect("broker", 1883)
        """,
        """
        from aiomqtt import Client


        class Service:
            def __init__(self, deps):
                self.client = deps.mqtt
                self.paho_client = deps.paho

            async def start(self):
                # MIGRATION-BLOCKER(MQ-6): if self.client is an aiomqtt Client: connect() is gone; use `async with client:` (or __aenter__/__aexit__)
                await self.client.connect()
                self.paho_client.connect("broker", 1883)
        """,
        rules={"MQ-2", "MQ-6"},
    )


def test_mq2_dotted_strings_naming_the_old_module():
    # patch()/import_module()/sys.modules strings: asyncio_mqtt is not installed after the upgrade
    assert_codemod(
        A,
        """
        import importlib
        import sys
        from unittest.mock import patch

        import asyncio_mqtt

        HELP = "asyncio_mqtt.Client is the old name"


        def test_patch():
            with patch("asyncio_mqtt.Client"), patch("asyncio_mqtt.client.Client"):
                pass
            with patch("asyncio_mqtt.error.MqttCodeError"), patch('svc.mqtt.asyncio_mqtt.Client'):
                pass
            with patch("asyncio_mqtt.client.Topic"), patch("asyncio_mqtt.client.mqtt.Client"):
                pass
            assert importlib.import_module("asyncio_mqtt") is sys.modules["asyncio_mqtt"]
            patch("asyncio_mqtt.client._outgoing_calls_sem")
        """,
        """
        import importlib
        import sys
        from unittest.mock import patch

        import aiomqtt

        HELP = "asyncio_mqtt.Client is the old name"


        def test_patch():
            with patch("aiomqtt.Client"), patch("aiomqtt.client.Client"):
                pass
            with patch("aiomqtt.exceptions.MqttCodeError"), patch('svc.mqtt.aiomqtt.Client'):
                pass
            with patch("aiomqtt.Topic"), patch("aiomqtt.client.mqtt.Client"):
                pass
            assert importlib.import_module("aiomqtt") is sys.modules["aiomqtt"]
            # MIGRATION-BLOCKER(MQ-2): "asyncio_mqtt.client._outgoing_calls_sem" names a place aiomqtt 2 does not have; point it at aiomqtt (top level, .client, .exceptions or .types)
            patch("asyncio_mqtt.client._outgoing_calls_sem")
        """,
        rules={"MQ-2"},
    )


def test_mq2_mapped_dotted_strings_resolve_in_the_installed_aiomqtt():
    # behaviour: every place a string is mapped to exists in the aiomqtt 2 this project installs
    import pkgutil

    from migrators.upgrades.aiomqtt import CLIENT_MODULE_NAMES, EXCEPTION_NAMES, TOP_NAMES, map_dotted_string

    old = ["asyncio_mqtt"]
    old += [f"asyncio_mqtt.{name}" for name in TOP_NAMES]
    old += [f"asyncio_mqtt.client.{name}" for name in CLIENT_MODULE_NAMES | {"Topic", "Wildcard"}]
    old += [f"asyncio_mqtt.error.{name}" for name in EXCEPTION_NAMES]
    old += ["asyncio_mqtt.types.PayloadType"]
    for name in old:
        mapped = map_dotted_string(name)
        assert mapped is not None, name
        assert pkgutil.resolve_name(mapped) is not None, (name, mapped)


def test_mq6_test_doubles_and_patches_of_gone_members_are_marked():
    # AsyncMock(spec=Client) has no .connect on aiomqtt 2 (AttributeError), patch.object(Client,
    # "connect") and patch("...Client.connect") raise AttributeError: each was silent before
    assert_codemod(
        A,
        """
        from unittest.mock import AsyncMock, create_autospec, patch

        from asyncio_mqtt import Client


        async def test_start(monkeypatch):
            client = AsyncMock(spec=Client)
            await client.connect()
            client.connect.assert_awaited_once()
            assert client.id
            auto = create_autospec(Client, instance=True)
            auto.disconnect = AsyncMock()
            with patch.object(Client, "connect", new_callable=AsyncMock):
                pass
            monkeypatch.setattr(auto, "filtered_messages", None)
            with patch("asyncio_mqtt.Client.connect"), patch.object(Client, "publish"):
                pass
        """,
        """
        from unittest.mock import AsyncMock, create_autospec, patch

        from aiomqtt import Client


        async def test_start(monkeypatch):
            client = AsyncMock(spec=Client)
            await client.__aenter__()
            # MIGRATION-BLOCKER(MQ-6): client.connect: aiomqtt 2's Client has no connect (the code now awaits client.__aenter__() / __aexit__(None, None, None)); mock or assert on that instead
            client.connect.assert_awaited_once()
            assert client.identifier
            auto = create_autospec(Client, instance=True)
            auto.disconnect = AsyncMock()
            # MIGRATION-BLOCKER(MQ-6): Client.connect: aiomqtt 2's Client has no connect (the code now awaits client.__aenter__() / __aexit__(None, None, None)); mock or assert on that instead
            with patch.object(Client, "connect", new_callable=AsyncMock):
                pass
            # MIGRATION-BLOCKER(MQ-8): auto.filtered_messages: aiomqtt 2's Client has no filtered_messages (the code now iterates client.messages); mock or assert on that instead
            monkeypatch.setattr(auto, "filtered_messages", None)
            # MIGRATION-BLOCKER(MQ-2): "asyncio_mqtt.Client.connect" names a place aiomqtt 2 does not have; point it at aiomqtt (top level, .client, .exceptions or .types)
            with patch("asyncio_mqtt.Client.connect"), patch.object(Client, "publish"):
                pass
        """,
        rules={"MQ-2", "MQ-4", "MQ-6", "MQ-8"},
    )


def test_mq6_gone_members_are_really_gone_from_the_installed_client():
    # behaviour: the members the markers name are absent from aiomqtt 2's Client (so the marked
    # mocks and patches fail), and the replacements the markers name are present
    import aiomqtt

    from migrators.upgrades.aiomqtt import GONE_MEMBERS

    assert not [name for name in GONE_MEMBERS if hasattr(aiomqtt.Client, name)]
    assert all(
        hasattr(aiomqtt.Client, name) for name in ("__aenter__", "__aexit__", "messages", "identifier")
    )


SUBCLASS = """
    import asyncio_mqtt
    from asyncio_mqtt import Client


    class MqttClient(asyncio_mqtt.Client):
        def __init__(self, host: str, name: str):
            super().__init__(hostname=host, client_id=name, message_retry_set=10)

        async def start(self):
            await self.connect()
            return self.id

        async def stop(self):
            await self.disconnect()
            await super().disconnect()


    class Wrapped(MqttClient):
        async def connect(self):
            await self.__aenter__()

        async def go(self):
            await self.connect()


    async def main():
        c = MqttClient("h", "n")
        await c.connect()


    DEFAULT = MqttClient("h", "module")
    """


def test_mq3_mq4_mq6_a_subclass_of_the_client():
    # inside `class MqttClient(Client)` self is a Client: super().__init__ takes the Client's
    # arguments (client_id= is a TypeError on 2.x), self.connect() is gone unless the class defines it
    assert_codemod(
        A,
        SUBCLASS,
        """
        import aiomqtt
        from aiomqtt import Client


        class MqttClient(aiomqtt.Client):
            def __init__(self, host: str, name: str):
                super().__init__(hostname=host, identifier=name)

            async def start(self):
                await self.__aenter__()
                return self.identifier

            async def stop(self):
                await self.__aexit__(None, None, None)
                await super().__aexit__(None, None, None)


        class Wrapped(MqttClient):
            async def connect(self):
                await self.__aenter__()

            async def go(self):
                await self.connect()


        async def main():
            c = MqttClient("h", "n")
            await c.__aenter__()


        # MIGRATION-BLOCKER(MQ-5): aiomqtt>=2.3.1 needs a running loop to construct Client (at module level); construct it inside the async entry point / lazily before `async with`
        DEFAULT = MqttClient("h", "module")
        """,
        rules={"MQ-2", "MQ-3", "MQ-4", "MQ-5", "MQ-6"},
    )


def test_mq3_migrated_subclass_is_built_by_the_installed_aiomqtt(tmp_path):
    # behaviour: the migrated subclass's super().__init__ arguments are accepted by aiomqtt 2.5.1
    code = SUBCLASS.replace('\n    DEFAULT = MqttClient("h", "module")\n', "\n")
    write_tree(tmp_path, {"svc/mq.py": code, "requirements.txt": "asyncio-mqtt==0.16.2\n"})
    migrate_twice(tmp_path, only=[A])
    probe = "import asyncio, mq\nasync def build():\n    return mq.MqttClient('localhost', 'n1').identifier\nprint(asyncio.run(build()))"
    assert python_output(probe, tmp_path / "svc") == "n1"


def test_mq4_mq6_mq8_a_client_another_module_of_the_service_provides(tmp_path):
    # main.py never names asyncio_mqtt: it was not even read, and its connect()/disconnect(), .id and
    # filtered_messages() (whose .topic.split breaks on a Topic) were all silent
    write_tree(
        tmp_path,
        {
            "requirements.txt": "asyncio-mqtt==0.16.2\n",
            "app/__init__.py": "",
            "app/broker.py": """
            from asyncio_mqtt import Client


            def make_client() -> Client:
                return Client("h")


            async def open_client():
                return Client("h")


            class Bus:
                def __init__(self):
                    self.client = None
            """,
            "app/main.py": """
            from app import broker
            from app.broker import Bus, make_client


            async def run():
                conn = make_client()
                await conn.connect()
                async with conn.filtered_messages("a/#") as msgs:
                    async for msg in msgs:
                        print(msg.topic.split("/"))
                other = await broker.open_client()
                print(other.id)


            async def run_bus(db):
                bus = Bus()
                await db.connect()
                async with db.messages() as rows:
                    async for row in rows:
                        print(row)
            """,
            "app/unrelated.py": """
            async def run(pool):
                await pool.connect()
                print(pool.id)
            """,
        },
    )
    result = migrate_twice(tmp_path, only=[A])
    main = read(tmp_path, "app/main.py")
    assert sorted((p, c.rule) for p, c in result.markers) == [
        ("app/broker.py", "MQ-5"),
        ("app/main.py", "MQ-4"),
        ("app/main.py", "MQ-6"),
    ], result.markers
    assert "if conn is an aiomqtt Client: connect() is gone" in main
    assert "if other is an aiomqtt Client, use .identifier" in main
    assert 'if not msg.topic.matches("a/#"):' in main and 'msg.topic.value.split("/")' in main
    # another library's connect() and messages() in the same file, and a file importing no MQTT module
    assert "await db.connect()" in main and "async with db.messages() as rows:" in main
    assert "MIGRATION-BLOCKER" not in read(tmp_path, "app/unrelated.py")


def test_mqtt_facts_read_the_providers_of_each_module():
    from migrators.upgrades.aiomqtt import MqttFacts, _providers, imports_mqtt_module

    text = dedent("""
        import asyncio_mqtt as mq
        from asyncio_mqtt import Client

        CLIENT = Client("h")
        typed: Client | None = None


        def factory(
            host: str,
        ) -> "Client":
            return Client(host)


        def plain():
            return mq.Client("h")


        async def other():
            return 1


        class Sub(mq.Client):
            pass
        """)
    assert _providers(text) == {"CLIENT", "typed", "factory", "plain", "Sub"}
    facts = MqttFacts({"app.broker": {"make"}, "broker": {"make"}})
    assert imports_mqtt_module("from app.broker import make\n", facts)
    assert imports_mqtt_module("from .broker import make\n", facts)
    assert imports_mqtt_module("from app import (\n    broker,\n)\n", facts)
    assert imports_mqtt_module("import app.broker as b\n", facts)
    assert not imports_mqtt_module("from app.settings import HOST\n", facts)


def test_another_librarys_client_provides_no_mqtt_client():
    # `http = httpx.Client()` in an MQTT module was taken for an MQTT client from its text: a module
    # importing it got MQ-6 on `await http.disconnect()` (an httpx call)
    from migrators.upgrades.aiomqtt import _providers

    text = dedent("""
        import httpx
        import paho.mqtt.client as mqtt
        from asyncio_mqtt import Client as Mqtt, MqttError

        http = httpx.Client(timeout=5)
        session: httpx.Client = httpx.Client()
        paho_client = mqtt.Client()


        def make_http() -> httpx.Client:
            return httpx.Client()


        def make_http2():
            return httpx.Client()


        class Api(httpx.Client):
            pass
        """)
    assert _providers(text) == {"paho_client"}


def test_a_module_using_an_http_client_of_an_mqtt_module_is_not_marked(tmp_path):
    write_tree(
        tmp_path,
        {
            "requirements.txt": "asyncio-mqtt==0.16.2\nhttpx==0.27.0\n",
            "app/__init__.py": "",
            "app/broker.py": """
                import httpx
                from asyncio_mqtt import Client

                http = httpx.Client(timeout=5)
                mqtt = Client("broker")
                """,
            "app/api.py": """
                from app.broker import http, mqtt


                async def close() -> None:
                    await http.disconnect()
                    await mqtt.disconnect()
                """,
        },
    )
    migrate_twice(tmp_path, only=["aiomqtt"])
    api = read(tmp_path, "app/api.py")
    lines = api.splitlines()
    assert (
        not lines[lines.index("    await http.disconnect()") - 1].lstrip().startswith("# MIGRATION-BLOCKER")
    )
    assert (
        lines[lines.index("    await mqtt.disconnect()") - 1].lstrip().startswith("# MIGRATION-BLOCKER(MQ-6)")
    )


PATCHED_SERVICE = {
    "requirements.txt": "asyncio-mqtt==0.16.2\n",
    "svc/__init__.py": "",
    "svc/mqtt.py": """
        from asyncio_mqtt import Client


        class Bridge:
            async def start(self, host):
                self.client = Client(host, client_id="bridge", message_retry_set=5)
                await self.client.connect()
        """,
    "tests/__init__.py": "",
    "tests/test_bridge.py": """
        import asyncio
        from unittest.mock import AsyncMock, patch

        from svc import mqtt


        def test_start():
            with patch("svc.mqtt.Client") as fake:
                fake.return_value.connect = AsyncMock()
                asyncio.run(mqtt.Bridge().start("h"))
                fake.assert_called_once_with("h", client_id="bridge", message_retry_set=5)


        @patch("svc.mqtt.Client")
        def test_decorated(fake):
            asyncio.run(mqtt.Bridge().start("h"))
            fake.assert_called_with("h", client_id="bridge", message_retry_set=5)
            fake.return_value.connect.assert_awaited_once()
        """,
}


def test_mq3_assertions_on_a_patched_client_class_follow_the_constructor(tmp_path):
    # the code's Client(..., client_id=) becomes identifier=: a test asserting the patched class was
    # called with client_id= failed after the migration, with no marker
    write_tree(tmp_path, PATCHED_SERVICE)
    result = migrate_twice(tmp_path, only=[A])
    test = read(tmp_path, "tests/test_bridge.py")
    assert test.count('("h", identifier="bridge")') == 2, test
    assert [(p, c.rule) for p, c in result.markers] == [("tests/test_bridge.py", "MQ-6")]
    assert test.index("fake.return_value.connect: aiomqtt 2's Client has no connect") < test.index(
        "fake.return_value.connect.assert_awaited_once()"
    )


def test_mq3_migrated_patched_client_test_passes_on_the_installed_aiomqtt(tmp_path):
    # behaviour: with the marked assertion taken out, the migrated suite passes on aiomqtt 2.5.1
    import subprocess
    import sys

    files = dict(PATCHED_SERVICE)
    files["tests/test_bridge.py"] = files["tests/test_bridge.py"].replace(
        "            fake.return_value.connect.assert_awaited_once()\n", ""
    )
    write_tree(tmp_path, files)
    result = migrate_twice(tmp_path, only=[A])
    assert not result.markers, result.markers
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "tests"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


def test_mq6_a_fake_client_with_the_old_members_put_in_the_clients_place_is_marked(tmp_path):
    # the code now awaits client.__aenter__(): a test fake offering only connect() breaks it
    # (AttributeError), and the fake was left unmarked
    files = {
        "requirements.txt": "asyncio-mqtt==0.16.2\n",
        "svc/__init__.py": "",
        "svc/mqtt.py": """
            from asyncio_mqtt import Client


            async def start(host):
                client = Client(host)
                await client.connect()
                return client
            """,
        "tests/test_start.py": """
            import asyncio

            from svc import mqtt


            class FakeClient:
                def __init__(self, *args, **kwargs):
                    self.connected = False

                async def connect(self):
                    self.connected = True


            class FakeDb:
                async def connect(self):
                    pass


            def test_start(monkeypatch):
                monkeypatch.setattr(mqtt, "Client", FakeClient)
                assert asyncio.run(mqtt.start("h")).connected
            """,
    }
    write_tree(tmp_path, files)
    result = migrate_twice(tmp_path, only=[A])
    assert [(p, c.rule) for p, c in result.markers] == [("tests/test_start.py", "MQ-6")]
    test = read(tmp_path, "tests/test_start.py")
    assert test.index("FakeClient stands in for the Client") < test.index("class FakeClient")
    # behaviour: the migrated code really calls what the marker names, which the fake lacks
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:asyncio", "tests"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "__aenter__" in proc.stdout, proc.stdout
