"""asyncio-mqtt 0.16 (and aiomqtt 1.x) -> aiomqtt 2.x (docs/rules.md, MQ-1 … MQ-15).

Client objects are followed by name: ``x = Client(...)``, ``async with Client(...) as x``, a
parameter annotated ``Client``, or ``self.x = Client(...)`` anywhere in the class. Aliases of the
import (``from asyncio_mqtt import Client as MQTT``) resolve through libcst's QualifiedNameProvider.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
import libcst.matchers as m

from migrators.core.codemod import LightVisitor, MigrationCodemod, dotted, import_aliases
from migrators.core.tree import ProjectTree
from migrators.core.upgrade import Packages, Upgrade
from migrators.core.versions import Versions, version_at_least
from migrators.core.walk import find_all, walk
from migrators.files.requirements import Requirement, RequirementRule, bounds, requirement_files

OLD = "asyncio_mqtt"
NEW = "aiomqtt"
TOP_NAMES = {
    "Client",
    "Message",
    "MessagesIterator",
    "MqttCodeError",
    "MqttError",
    "MqttReentrantError",
    "ProtocolVersion",
    "ProxySettings",
    "TLSParameters",
    "Topic",
    "TopicLike",
    "Wildcard",
    "WildcardLike",
    "Will",
}
EXCEPTION_NAMES = {"MqttCodeError", "MqttConnectError", "MqttError", "MqttReentrantError"}
V1_CLIENT_ONLY = {"Topic", "TopicLike", "Wildcard", "WildcardLike", "MAX_TOPIC_LENGTH"}  # gone from .client
TYPES_NAMES = {"PayloadType", "SocketOption", "SubscribeTopic", "WebSocketHeaders", "PahoSocket"}
CLIENT_QNAMES = {f"{p}.{s}" for p in (OLD, NEW) for s in ("Client", "client.Client")}
PAHO_CLIENT = {"paho.mqtt.client.Client"}
CTOR_RENAMES = {"client_id": "identifier", "max_queued_messages": "max_queued_outgoing_messages"}
CTOR_DROPS = {"message_retry_set"}
PAHO_ONLY_ATTRS = {"timestamp", "state", "dup", "info"}
MESSAGE_CONTEXTS = {"messages", "filtered_messages", "unfiltered_messages"}
MQTT_DOCS = "https://eclipse.dev/paho/files/paho.mqtt.python/html/migrations.html"
# Every rule starts from one of these (lower-cased) in the code it acts on, or from an import alias or
# a name the codemod learned around it (a client, a subscribe() result): a def or class whose text
# holds none is not traversed (see AiomqttCodemod._inert). "mqtt": the modules, asyncio_mqtt names and
# _looks_like_client; "client": Client(), paho's Client, ._client and _looks_like_client; "connect":
# connect/disconnect/force_disconnect; "messages": the message contexts; "subscribe" and "rc": MQ-11/12.
INERT_WORDS = ("mqtt", "client", "connect", "messages", "subscribe", "rc", "_pending_calls_threshold")


_IMPORTS_MQTT = re.compile(rf"^\s*(?:from|import)\s+(?:{OLD}|{NEW})\b", re.M)
_FACTORY_ANNOTATED = re.compile(
    r"^(?:async\s+)?def\s+(\w+)\s*\([^)]*\)\s*->\s*[^:]*?([\w.]*\bClient)\b", re.M
)
_TOP_DEF = re.compile(r"^(?:async\s+)?def\s+(\w+)")
_RETURNS_CLIENT = re.compile(r"^\s+return\s+(?:await\s+)?([\w.]*\bClient)\(")
_MODULE_CLIENT = re.compile(
    r"^(\w+)\s*(?::[^=\n]*?([\w.]*\bClient)\b[^=\n]*|(?::[^=\n]*)?=\s*([\w.]*\bClient)\()", re.M
)
_CLIENT_CLASS = re.compile(r"^class\s+(\w+)\s*\([^)]*?([\w.]*\bClient)\b", re.M)
# How the module names the MQTT Client class (`Client` from asyncio_mqtt/aiomqtt/paho, `aiomqtt.Client`,
# `mqtt.Client` of `import paho.mqtt.client as mqtt`): another library's `httpx.Client()` provides none
_FROM_MQTT = re.compile(rf"^\s*from\s+(?:{OLD}|{NEW}|paho\.mqtt\.client)[\w.]*\s+import\s+\(?([^)\n]*)", re.M)
_IMPORT_MQTT = re.compile(
    rf"^\s*(?:import\s+({OLD}|{NEW}|paho\.mqtt\.client)(?:\s+as\s+(\w+))?"
    r"|from\s+paho\.mqtt\s+import\s+client(?:\s+as\s+(\w+))?)",
    re.M,
)
_IMPORTED_MODULES = re.compile(
    r"^\s*(?:from\s+\.*([\w.]*)\s+import\s+(\([^)]*\)|[^\n]*)|import\s+([\w.]+))", re.M
)


@dataclass
class MqttFacts:
    """What the service's MQTT modules (those importing asyncio_mqtt or aiomqtt) give other modules:
    by every dotted suffix of the module's name (`app.broker`, `broker`), the names there that
    provide a Client (factories, module-level clients, Client subclasses). Read from the text: a
    use elsewhere gets a marker, never a rewrite."""

    providers: dict[str, set[str]] = field(default_factory=dict)

    def module_providers(self, module: str) -> set[str] | None:
        return self.providers.get(module.lstrip("."))


def _mqtt_client_names(text: str) -> set[str]:
    """The spellings of the MQTT Client class in the module (see _FROM_MQTT)."""
    names = set()
    for match in _FROM_MQTT.finditer(text):
        for item in match.group(1).split(","):
            parts = item.split()
            if parts and parts[0] == "Client":
                names.add(parts[-1] if len(parts) == 3 and parts[1] == "as" else "Client")
    for match in _IMPORT_MQTT.finditer(text):
        module, alias, paho = match.groups()
        names.add(f"{alias or module}.Client" if module else f"{paho or 'client'}.Client")
    return names


def _providers(text: str) -> set[str]:
    mqtt = _mqtt_client_names(text)
    names = {name for name, client in _FACTORY_ANNOTATED.findall(text) if client in mqtt}
    names |= {name for name, base in _CLIENT_CLASS.findall(text) if base in mqtt}
    names |= {
        match.group(1)
        for match in _MODULE_CLIENT.finditer(text)
        if (match.group(2) or match.group(3)) in mqtt
    }
    current = None
    for line in text.splitlines():
        top = _TOP_DEF.match(line)
        if top:
            current = top.group(1)
        elif line and not line[0].isspace():
            current = None
        elif current and (returned := _RETURNS_CLIENT.match(line)) and returned.group(1) in mqtt:
            names.add(current)  # an unannotated factory: `def make(): return Client(...)`
    return names


def mqtt_facts(tree: ProjectTree) -> MqttFacts:
    facts = MqttFacts()
    for rel in tree.python_files():
        text = tree.read(rel)
        if not _IMPORTS_MQTT.search(text):
            continue
        parts = rel[: -len(".py")].split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        provided = _providers(text)
        for i in range(len(parts)):
            facts.providers.setdefault(".".join(parts[i:]), set()).update(provided)
    return facts


def imports_mqtt_module(text: str, facts: MqttFacts) -> bool:
    """The text imports one of the service's MQTT modules (absolute, relative or `from . import m`)."""
    for found in _IMPORTED_MODULES.finditer(text):
        module, names, plain = found.group(1), found.group(2), found.group(3)
        if plain and facts.module_providers(plain) is not None:
            return True
        if module and facts.module_providers(module) is not None:
            return True
        if names and any(
            facts.module_providers(f"{module}.{n}" if module else n) is not None
            for n in re.findall(r"\w+", names)
        ):
            return True
    return False


def _fromdotted(dotted_name: str) -> cst.BaseExpression:
    parts = dotted_name.split(".")
    node: cst.BaseExpression = cst.Name(parts[0])
    for part in parts[1:]:
        node = cst.Attribute(value=node, attr=cst.Name(part))
    return node


def _map_module(dotted_name: str) -> str:
    """Map an asyncio_mqtt (or aiomqtt 1.x) dotted path onto aiomqtt 2."""
    parts = dotted_name.split(".")
    if parts[:2] == [NEW, "error"]:  # aiomqtt 1.x's module of the exceptions is gone in 2.0
        return ".".join([NEW, "exceptions", *parts[2:]])
    if parts[0] != OLD:
        return dotted_name
    rest = parts[1:]
    if rest[:1] == ["error"]:
        return ".".join([NEW, "exceptions", *rest[1:]])
    if rest[:1] == ["client"] and len(rest) >= 2 and rest[1] in TOP_NAMES:
        return ".".join([NEW, *rest[1:]])
    return ".".join([NEW, *rest])


# names aiomqtt 2's `aiomqtt.client` module still binds (wheel 2.5.1:aiomqtt/client.py): a dotted
# string such as patch("asyncio_mqtt.client.Client") keeps its module; other names go to the top level
CLIENT_MODULE_NAMES = {
    "Client",
    "Message",
    "MessagesIterator",
    "MqttCodeError",
    "MqttConnectError",
    "MqttError",
    "MqttReentrantError",
    "ProtocolVersion",
    "ProxySettings",
    "TLSParameters",
    "Will",
    "mqtt",
}
# Client members 0.16 had and aiomqtt 2 does not (CHANGELOG 2.0.0): a mock of one, a patch of one or
# an assertion on one fails once the code calls __aenter__/__aexit__ or iterates client.messages
GONE_MEMBERS = {
    "connect": "MQ-6",
    "disconnect": "MQ-6",
    "force_disconnect": "MQ-6",
    "filtered_messages": "MQ-8",
    "unfiltered_messages": "MQ-8",
    "id": "MQ-4",
    "_pending_calls_threshold": "MQ-15",
}
MOCK_FACTORIES = {
    f"unittest.mock.{name}"
    for name in ("AsyncMock", "MagicMock", "Mock", "NonCallableMagicMock", "create_autospec")
}
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def map_dotted_string(value: str) -> str | None:
    """The aiomqtt 2 spelling of a dotted path naming asyncio_mqtt (a patch() target, an
    import_module() name, a sys.modules key); None when aiomqtt 2 has no such place. A segment
    `asyncio_mqtt` after others (`svc.mqtt.asyncio_mqtt.Client`) is that module imported whole,
    which MQ-2 renames to `aiomqtt`."""
    parts = value.split(".")
    at = parts.index(OLD)
    head, rest = parts[:at], parts[at + 1 :]
    if not rest:
        tail = [NEW]
    elif rest[0] == "client" and (len(rest) == 1 or rest[1] in CLIENT_MODULE_NAMES):
        tail = [NEW, *rest]
    elif rest[0] == "client" and rest[1] in TOP_NAMES:
        tail = [NEW, *rest[1:]]
    elif rest[0] == "error" and (len(rest) == 1 or rest[1] in EXCEPTION_NAMES):
        tail = [NEW, "exceptions", *rest[1:]]
    elif rest[0] == "types" and (len(rest) == 1 or rest[1] in TYPES_NAMES):
        tail = [NEW, *rest]
    elif rest[0] in TOP_NAMES:
        tail = [NEW, *rest]
    else:
        return None
    if "Client" in tail and any(part in GONE_MEMBERS for part in tail[tail.index("Client") + 1 :]):
        return None  # patch("asyncio_mqtt.Client.connect"): the member is gone, not moved
    return ".".join([*head, *tail])


def _v1_target(module: str, names: set[str]) -> str | None:
    """Where aiomqtt 2 keeps these names imported from an aiomqtt 1.x submodule (None: nowhere known)."""
    if not names:
        return None
    if module.endswith(".error"):
        return f"{NEW}.exceptions" if names <= EXCEPTION_NAMES else None
    if names <= TOP_NAMES:
        return NEW
    return f"{NEW}.topic" if names <= V1_CLIENT_ONLY else None


def _kw(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(
        value=value,
        keyword=cst.Name(name),
        equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")
        ),
    )


class _Scan(LightVisitor):
    """Pre-pass over one function (or module/class) body: client names and their constructors."""

    def __init__(self, codemod: AiomqttCodemod):
        self.codemod = codemod
        self.clients: dict[str, cst.Call | None] = {}
        self.self_attrs: dict[str, cst.Call | None] = {}
        self.subscribe_results: set[str] = set()
        self.maybe: set[str] = set()  # names bound to a provider another module of the service has
        self.patched: set[str] = set()  # mocks standing for the Client class (`patch("svc.mqtt.Client")`)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return False  # nested functions are scanned on their own

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        return False

    def visit_Param(self, node: cst.Param) -> None:
        if node.annotation is not None and self.codemod.annotation_is_client(node.annotation.annotation):
            self.clients[node.name.value] = None

    def _holds_client(self, value: cst.BaseExpression) -> bool:
        """A value that is a Client built elsewhere: a name known to hold one here (`conn = client`,
        `self.client = client` from an annotated parameter) or `await <module factory>()` whose
        return annotation is Client."""
        if isinstance(value, cst.Name):
            return value.value in self.clients
        if isinstance(value, cst.Await) and isinstance(value.expression, cst.Call):
            value = value.expression
        return (
            isinstance(value, cst.Call)
            and m.matches(value.func, m.Name())
            and (value.func.value in self.codemod.client_factories)
        )

    def _mock_of_client(self, value: cst.BaseExpression) -> bool:
        """`AsyncMock(spec=Client)`, `MagicMock(spec_set=Client)`, `create_autospec(Client, ...)`: a
        test double with the Client's members, used where the code expects a Client."""
        if not isinstance(value, cst.Call) or not self.codemod.qualified_names(value.func) & MOCK_FACTORIES:
            return False
        specs = [
            a.value for a in value.args if a.keyword is not None and a.keyword.value in ("spec", "spec_set")
        ]
        if dotted(value.func) and dotted(value.func).endswith("create_autospec") and value.args:
            specs.append(value.args[0].value)
        return any(self.codemod.qualified_names(spec) & CLIENT_QNAMES for spec in specs)

    def _entered_ctor(self, value: cst.BaseExpression) -> cst.Call | None:
        """`await stack.enter_async_context(Client(...))` gives the Client entered."""
        if m.matches(
            value, m.Await(m.Call(func=m.Attribute(attr=m.Name("enter_async_context")), args=[m.Arg()]))
        ):
            inner = value.expression.args[0].value
            if isinstance(inner, cst.Call) and self.codemod.is_client_ctor(inner):
                return inner
        return None

    def visit_Assign(self, node: cst.Assign) -> None:
        value = node.value
        if isinstance(value, cst.Call) and self.codemod.is_client_ctor(value):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self.clients[target.target.value] = value
                elif m.matches(target.target, m.Attribute(value=m.Name("self"))):
                    self.self_attrs[target.target.attr.value] = value
        elif (
            self._mock_of_client(value)
            or isinstance(value, cst.Call)
            and self.codemod.constructs_subclass(value)
        ):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self.clients.setdefault(target.target.value, None)
                elif m.matches(target.target, m.Attribute(value=m.Name("self"))):
                    self.self_attrs.setdefault(target.target.attr.value, None)
        elif isinstance(value, cst.Call) and self.codemod.patches_client(value):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self.patched.add(target.target.value)
        elif self.codemod.from_provider(value):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self.maybe.add(target.target.value)
        elif self._entered_ctor(value) is not None:
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self.clients[target.target.value] = self._entered_ctor(value)
        elif self._holds_client(value):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self.clients.setdefault(target.target.value, None)
                elif m.matches(target.target, m.Attribute(value=m.Name("self"))):
                    self.self_attrs.setdefault(target.target.attr.value, None)
        if isinstance(value, cst.Await) and m.matches(
            value.expression, m.Call(func=m.Attribute(attr=m.Name("subscribe")))
        ):
            for target in node.targets:
                if isinstance(target.target, cst.Name):
                    self.subscribe_results.add(target.target.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if isinstance(node.value, cst.Call) and self.codemod.is_client_ctor(node.value):
            if isinstance(node.target, cst.Name):
                self.clients[node.target.value] = node.value
            elif m.matches(node.target, m.Attribute(value=m.Name("self"))):
                self.self_attrs[node.target.attr.value] = node.value
        elif self.codemod.annotation_is_client(node.annotation.annotation):
            # `self.client: Client | None = None` or `client: Client = make()`: annotated as one
            if isinstance(node.target, cst.Name):
                self.clients.setdefault(node.target.value, None)
            elif m.matches(node.target, m.Attribute(value=m.Name("self"))):
                self.self_attrs.setdefault(node.target.attr.value, None)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if (
            isinstance(node.item, cst.Call)
            and self.codemod.patches_client(node.item)
            and node.asname is not None
            and isinstance(node.asname.name, cst.Name)
        ):
            self.patched.add(node.asname.name.value)
        if (
            isinstance(node.item, cst.Call)
            and self.codemod.is_client_ctor(node.item)
            and node.asname is not None
            and isinstance(node.asname.name, cst.Name)
        ):
            self.clients[node.asname.name.value] = node.item


class _ForRewrite(cst.CSTTransformer):
    """Inside one `async with client.<ctx>() as ms:` body: the single `async for m in ms` loop."""

    def __init__(
        self,
        ms_name: str,
        receiver: cst.BaseExpression,
        topic_filter: cst.BaseExpression | None,
        paho: bool = False,
    ):
        self.ms_name = ms_name
        self.receiver = receiver
        self.topic_filter = topic_filter
        # filtered_messages() and unfiltered_messages() yielded paho messages (topic a str): the loop's
        # message becomes an aiomqtt.Message (MQ-8); only the filtered one gets a topic guard
        self.paho = paho or topic_filter is not None
        self.msg_name: str | None = None
        self.problems: list[tuple[str, str]] = []
        self._protected: set[int] = set()
        self._in_loop = 0

    def visit_For(self, node: cst.For) -> None:
        if node.asynchronous is not None and m.matches(node.iter, m.Name(self.ms_name)):
            if isinstance(node.target, cst.Name):
                self.msg_name = node.target.value
            self._in_loop += 1

    def leave_For(self, original_node: cst.For, updated_node: cst.For):
        if not (
            original_node.asynchronous is not None and m.matches(original_node.iter, m.Name(self.ms_name))
        ):
            return updated_node
        self._in_loop -= 1
        new = updated_node.with_changes(iter=cst.Attribute(value=self.receiver, attr=cst.Name("messages")))
        if self.topic_filter is not None and self.msg_name:
            guard = cst.If(
                test=cst.UnaryOperation(
                    operator=cst.Not(),
                    expression=cst.Call(
                        func=cst.Attribute(
                            value=cst.Attribute(value=cst.Name(self.msg_name), attr=cst.Name("topic")),
                            attr=cst.Name("matches"),
                        ),
                        args=[cst.Arg(self.topic_filter)],
                    ),
                ),
                body=cst.IndentedBlock(body=[cst.SimpleStatementLine(body=[cst.Continue()])]),
            )
            body = new.body
            if isinstance(body, cst.IndentedBlock):
                new = new.with_changes(body=body.with_changes(body=[guard, *body.body]))
        return new

    # message-type changes (MQ-8) apply only to loops over filtered_messages / unfiltered_messages
    def visit_Attribute(self, node: cst.Attribute) -> None:
        if not self.paho or not self._in_loop or not self.msg_name:
            return
        if m.matches(
            node,
            m.Attribute(
                value=m.Attribute(value=m.Name(self.msg_name), attr=m.Name("topic")),
                attr=m.Name("matches") | m.Name("value"),
            ),
        ):
            self._protected.add(id(node.value))
        if m.matches(node, m.Attribute(value=m.Name(self.msg_name))) and node.attr.value in PAHO_ONLY_ATTRS:
            self.problems.append(
                (
                    "MQ-8",
                    f"{self.msg_name}.{node.attr.value} is paho-only; aiomqtt.Message has "
                    "topic, payload, qos, retain, mid, properties",
                )
            )

    def visit_Call(self, node: cst.Call) -> None:
        if not self.paho or not self.msg_name:
            return
        if m.matches(node.func, m.Name("str")) and len(node.args) == 1:
            self._protected.add(id(node.args[0].value))
        for arg in node.args:
            if m.matches(arg.value, m.Name(self.msg_name)):
                self.problems.append(
                    (
                        "MQ-8",
                        f"{self.msg_name} is now an aiomqtt.Message whose .topic is a Topic "
                        "(not str); check the code it is passed to",
                    )
                )

    def visit_FormattedStringExpression(self, node: cst.FormattedStringExpression) -> None:
        self._protected.add(id(node.expression))

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute):
        if not self.paho or not self._in_loop or not self.msg_name:
            return updated_node
        if (
            m.matches(original_node, m.Attribute(value=m.Name(self.msg_name), attr=m.Name("topic")))
            and id(original_node) not in self._protected
        ):
            return cst.Attribute(value=updated_node, attr=cst.Name("value"))
        return updated_node


class AiomqttCodemod(MigrationCodemod):
    DESCRIPTION = "asyncio-mqtt 0.16 -> aiomqtt 2"

    def __init__(self, context, state=None, versions=None, info=None):
        super().__init__(context, state, versions, info)
        self._functions: list[cst.FunctionDef | None] = []
        self._scans: list[_Scan] = []
        self._class_attrs: list[dict[str, cst.Call | None]] = []
        self._module_scan: _Scan | None = None
        self._in_import = 0
        self._ctor_extra: dict[int, list[cst.Arg]] = {}
        self._handled_calls: set[int] = set()
        self._called: set[int] = set()  # ids of call targets (`x.connect` in `x.connect()`)
        self._assigned: set[int] = set()  # ids of assignment targets (`mock.connect = AsyncMock()`)
        self._with_plans: dict[int, dict[str, Any]] = {}
        self._message_ctx_depth = 0
        self._old_module_imported = False
        self._v1_error_imported = False  # `import aiomqtt.error` (1.x): its dotted uses move too
        self._has_filtered = False
        self._may_plan_timeouts = self._may_plan_messages = True  # set per module by visit_Module
        self._aliases: set[str] = set()
        self.client_factories: set[str] = set()  # module functions annotated `-> Client`
        self.client_subclasses: set[str] = set()  # module classes deriving from the Client
        self.imported_providers: set[str] = set()  # names imported from the service's MQTT modules
        self.provider_modules: dict[str, set[str]] = {}  # `import app.broker as b`: b -> its providers
        self._mqtt_file = True  # the file imports asyncio_mqtt/aiomqtt itself
        self._class_nodes: list[cst.ClassDef] = []
        self._fakes: set[str] = set()  # test classes with 0.16's members standing in for the Client

    # --- resolution ------------------------------------------------------------------------------
    def is_client_ctor(self, call: cst.Call) -> bool:
        return bool(self.qualified_names(call.func) & CLIENT_QNAMES)

    def constructs_subclass(self, call: cst.Call) -> bool:
        """`MqttClient(...)` where `class MqttClient(Client)` is in this module: a Client, whose own
        signature the codemod does not know (no MQ-3 renames), built where MQ-5 applies."""
        return isinstance(call.func, cst.Name) and call.func.value in self.client_subclasses

    def from_provider(self, value: cst.BaseExpression) -> bool:
        """`make_client()`, `await make_client()`, `broker.make_client()` or the imported `client`
        itself, where another module of the service provides a Client under that name."""
        if isinstance(value, cst.Await):
            value = value.expression
        if isinstance(value, cst.Call):
            value = value.func
        if isinstance(value, cst.Name):
            return value.value in self.imported_providers
        return (
            isinstance(value, cst.Attribute)
            and isinstance(value.value, cst.Name)
            and value.attr.value in self.provider_modules.get(value.value.value, set())
        )

    def patches_client(self, call: cst.Call) -> bool:
        """`patch("svc.mqtt.Client")`, `mocker.patch("asyncio_mqtt.Client")`, `patch(...).start()`:
        the mock stands for the Client class of an MQTT module of the service (or the library's)."""
        if m.matches(call.func, m.Attribute(attr=m.Name("start"))) and isinstance(call.func.value, cst.Call):
            call = call.func.value
        if not (dotted(call.func) or "").endswith("patch") or not call.args:
            return False
        target = call.args[0].value
        if not isinstance(target, cst.SimpleString) or not isinstance(target.evaluated_value, str):
            return False
        module, _, name = target.evaluated_value.rpartition(".")
        if name != "Client" or not module:
            return False
        facts = self.state if isinstance(self.state, MqttFacts) else None
        return module.split(".")[0] in (OLD, NEW) or (
            facts is not None and facts.module_providers(module) is not None
        )

    def patched_client(self, receiver: cst.BaseExpression) -> bool:
        """A mock of the Client class, by its name in this function."""
        return isinstance(receiver, cst.Name) and any(receiver.value in scan.patched for scan in self._scans)

    def maybe_client(self, receiver: cst.BaseExpression) -> bool:
        """Not provably a Client, but bound to one a module of the service provides (a marker)."""
        if isinstance(receiver, cst.Name):
            if receiver.value in self.imported_providers:
                return True
            return any(receiver.value in scan.maybe for scan in [*self._scans, self._module_scan] if scan)
        if m.matches(receiver, m.Attribute(attr=m.Name("return_value"))) and self.patched_client(
            receiver.value
        ):
            return True  # the Client instance the code under test builds from the patched class
        return self.from_provider(receiver)

    def _learn_imports(self, node: cst.Module) -> None:
        """The names this module imports from the service's MQTT modules that provide a Client."""
        self.imported_providers, self.provider_modules = set(), {}
        facts = self.state if isinstance(self.state, MqttFacts) else None
        if facts is None:
            return
        for stmt in node.body:
            for small in stmt.body if isinstance(stmt, cst.SimpleStatementLine) else []:
                if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                    module = dotted(small.module) if small.module else ""
                    for alias in small.names:
                        name = alias.name.value if isinstance(alias.name, cst.Name) else ""
                        local = alias.asname.name.value if alias.asname else name
                        provided = facts.module_providers(module or "") or set()
                        sub = facts.module_providers(f"{module}.{name}" if module else name)
                        if name in provided:
                            self.imported_providers.add(local)
                        elif sub is not None:
                            self.provider_modules[local] = sub  # `from app import broker`
                elif isinstance(small, cst.Import):
                    for alias in small.names:
                        module = dotted(alias.name) or ""
                        provided = facts.module_providers(module)
                        if provided is not None and alias.asname is not None:
                            self.provider_modules[alias.asname.name.value] = provided
                        elif provided is not None:
                            self.provider_modules[module.split(".")[0]] = set()  # dotted uses: no marker

    def _own_client_class(self) -> cst.ClassDef | None:
        """The class being traversed when it derives from the Client (its `self` is one)."""
        if self._class_nodes and self._class_nodes[-1].name.value in self.client_subclasses:
            return self._class_nodes[-1]
        return None

    def _defines(self, name: str) -> bool:
        """The client subclass being traversed defines `name` itself (its own connect(), id …)."""
        klass = self._own_client_class()
        return klass is not None and any(
            isinstance(stmt, cst.FunctionDef) and stmt.name.value == name for stmt in klass.body.body
        )

    def annotation_is_client(self, annotation: cst.BaseExpression) -> bool:
        """`Client`, `aiomqtt.Client`, `Client | None`, `Optional[Client]`: a name in it is the Client."""
        return any(
            self.qualified_names(node) & CLIENT_QNAMES
            for node in [annotation, *find_all(annotation, m.Name() | m.Attribute())]
        )

    def client_ctor_for(self, receiver: cst.BaseExpression) -> tuple[bool, cst.Call | None]:
        """(is a client, its constructor call if known in this scope)."""
        if isinstance(receiver, cst.Name):
            for scan in reversed(self._scans):
                if receiver.value in scan.clients:
                    return True, scan.clients[receiver.value]
            if self._module_scan and receiver.value in self._module_scan.clients:
                return True, self._module_scan.clients[receiver.value]
        if m.matches(receiver, m.Attribute(value=m.Name("self"))) and self._class_attrs:
            attrs = self._class_attrs[-1]
            if receiver.attr.value in attrs:
                return True, attrs[receiver.attr.value]
        if self._own_client_class() is not None and m.matches(
            receiver, m.Name("self") | m.Call(m.Name("super"))
        ):
            return True, None
        return False, None

    @staticmethod
    def _looks_like_client(receiver: cst.BaseExpression) -> bool:
        text = (dotted(receiver) or "").lower()
        return "mqtt" in text or "client" in text.rsplit(".", 1)[-1]

    # --- scopes ----------------------------------------------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        self._learn_imports(node)
        self.client_factories = {
            stmt.name.value
            for stmt in node.body
            if isinstance(stmt, cst.FunctionDef)
            and stmt.returns is not None
            and self.annotation_is_client(stmt.returns.annotation)
        }
        self.client_subclasses = set()
        for stmt in node.body:
            if isinstance(stmt, cst.ClassDef) and any(
                self.qualified_names(base.value) & CLIENT_QNAMES
                or m.matches(base.value, m.Name())
                and base.value.value in self.client_subclasses
                for base in stmt.bases
            ):
                self.client_subclasses.add(stmt.name.value)
        scan = _Scan(self)
        for stmt in node.body:
            walk(stmt, scan)
        self._module_scan = scan
        names = self._import_names
        source = names.source if names is not None and names.module is node else node.code
        # a word of its own: "filtered_messages" is also the end of "unfiltered_messages", which then
        # always saw a filtered context beside it and was marked, never rewritten
        self._has_filtered = re.search(r"(?<!\w)filtered_messages\b", source) is not None
        self._mqtt_file = bool(_IMPORTS_MQTT.search(source))
        # the plans below look for `.connect(timeout=)` and `async with x.messages()` calls: a module
        # whose text has no such words has none (a findall per def cost more than the rest of it)
        self._may_plan_timeouts = "connect" in source and "timeout" in source
        self._may_plan_messages = any(word in source for word in MESSAGE_CONTEXTS)
        self._aliases = {alias.lower() for alias in import_aliases(node)}
        self._fakes = self._fake_clients(node) if self.info.is_test else set()

    def _inert(self, node: cst.FunctionDef | cst.ClassDef) -> bool:
        """No rule can act on anything in `node` (nor below it): its text holds none of INERT_WORDS,
        no import alias, and no name of a client or subscribe() result known around it."""
        text = self.statement_text(node)
        if text is None:
            return False
        text = text.lower()
        known = set(self._aliases)
        for scan in [self._module_scan, *self._scans]:
            if scan is not None:
                known.update(scan.clients, scan.subscribe_results)
        if self._class_attrs:
            known.update(self._class_attrs[-1])
        return not any(word in text for word in INERT_WORDS) and not any(
            name.lower() in text for name in known
        )

    def visit_ClassDef(self, node: cst.ClassDef) -> bool | None:
        self._class_nodes.append(node)  # popped by leave_ClassDef
        if self._inert(node):
            self._class_attrs.append({})  # popped by leave_ClassDef
            return False
        attrs: dict[str, cst.Call | None] = {}
        for stmt in node.body.body:
            if isinstance(stmt, cst.FunctionDef):
                scan = _Scan(self)
                walk(stmt.params, scan)  # `def __init__(self, client: Client): self.client = client`
                walk(stmt.body, scan)
                for name, ctor in scan.self_attrs.items():
                    if ctor is not None or name not in attrs:
                        attrs[name] = ctor
            elif m.matches(stmt, m.SimpleStatementLine(body=[m.AnnAssign(target=m.Name())])):
                ann = stmt.body[0]
                if self.annotation_is_client(ann.annotation.annotation):  # `client: Client` (dataclass)
                    attrs.setdefault(ann.target.value, None)
        self._class_attrs.append(attrs)

    def leave_ClassDef(self, original_node, updated_node):
        self._class_attrs.pop()
        self._class_nodes.pop()
        if original_node.name.value in self._fakes:
            self.mark(
                "MQ-6",
                original_node,
                f"{original_node.name.value} stands in for the Client: aiomqtt 2 code calls "
                "__aenter__/__aexit__ and iterates client.messages, never connect()/disconnect()/"
                "filtered_messages(); give the fake those members",
            )
        return updated_node

    def _fake_clients(self, module: cst.Module) -> set[str]:
        """Test classes defining a member 2.0 removed (connect, filtered_messages …) that the file
        puts in the Client's place: `monkeypatch.setattr(mod, "Client", Fake)`,
        `patch("svc.mqtt.Client", Fake)` or `patch(..., new=Fake | side_effect=Fake)`."""
        gone = {name for name, rule in GONE_MEMBERS.items() if rule in ("MQ-6", "MQ-8")}
        candidates = {
            stmt.name.value
            for stmt in module.body
            if isinstance(stmt, cst.ClassDef)
            and stmt.name.value not in self.client_subclasses
            and any(isinstance(s, cst.FunctionDef) and s.name.value in gone for s in stmt.body.body)
        }
        if not candidates:
            return set()
        fakes = set()
        for call in find_all(module, m.Call(func=m.Attribute() | m.Name())):
            name = dotted(call.func) or ""
            if not (name.endswith("patch") or name.endswith("setattr") or name.endswith("patch.object")):
                continue
            strings = [a.value.evaluated_value for a in call.args if isinstance(a.value, cst.SimpleString)]
            if not any(isinstance(v, str) and (v == "Client" or v.endswith(".Client")) for v in strings):
                continue
            for arg in call.args:
                value = arg.value.func if isinstance(arg.value, cst.Call) else arg.value
                if isinstance(value, cst.Name) and value.value in candidates:
                    fakes.add(value.value)
        return fakes

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool | None:
        if self._inert(node):
            self._functions.append(node)  # both popped by leave_FunctionDef
            self._scans.append(_Scan(self))
            return False
        scan = _Scan(self)
        walk(node.params, scan)
        walk(node.body, scan)
        scan.patched.update(self._patched_params(node))
        self._functions.append(node)
        self._scans.append(scan)
        if self._may_plan_timeouts:
            self._plan_connect_timeouts(node, scan)
        if self._may_plan_messages:
            self._plan_message_contexts(node)

    def _patched_params(self, node: cst.FunctionDef) -> set[str]:
        """`@patch("svc.mqtt.Client")` hands its mock to the parameters bottom-up (after self)."""
        patches = [
            d.decorator
            for d in node.decorators
            if isinstance(d.decorator, cst.Call) and (dotted(d.decorator.func) or "").endswith("patch")
        ]
        params = [p.name.value for p in node.params.params if p.name.value not in ("self", "cls")]
        return {
            params[i]
            for i, call in enumerate(reversed(patches))
            if i < len(params) and len(call.args) == 1 and self.patches_client(call)
        }

    def leave_FunctionDef(self, original_node, updated_node):
        self._functions.pop()
        self._scans.pop()
        return updated_node

    def _in_async(self) -> bool:
        return bool(self._functions) and self._functions[-1].asynchronous is not None

    # --- MQ-2 imports ----------------------------------------------------------------------------
    def visit_Import(self, node) -> None:
        self._in_import += 1

    def visit_ImportFrom(self, node) -> None:
        self._in_import += 1

    def leave_Import(self, original_node: cst.Import, updated_node: cst.Import):
        self._in_import -= 1
        names = []
        changed = False
        for alias in updated_node.names:
            dotted_name = dotted(alias.name) or ""
            if dotted_name == f"{NEW}.error" or dotted_name.startswith(f"{NEW}.error."):  # aiomqtt 1.x
                self._v1_error_imported = self._v1_error_imported or alias.asname is None
                names.append(alias.with_changes(name=_fromdotted(_map_module(dotted_name))))
                changed = True
            elif dotted_name == OLD or dotted_name.startswith(OLD + "."):
                new_name = _map_module(dotted_name)
                asname = alias.asname
                if asname is not None and isinstance(asname.name, cst.Name) and asname.name.value == new_name:
                    asname = None
                if alias.asname is None:
                    self._old_module_imported = True
                    new_name = NEW if dotted_name == OLD else new_name
                names.append(alias.with_changes(name=_fromdotted(new_name), asname=asname))
                changed = True
            else:
                names.append(alias)
        if changed:
            self.rewrote("MQ-2", original_node, "import of a module aiomqtt 2 moved -> its aiomqtt 2 path")
            return updated_node.with_changes(names=names)
        return updated_node

    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom):
        self._in_import -= 1
        if updated_node.relative or updated_node.module is None:
            return updated_node
        module = dotted(updated_node.module) or ""
        if module == f"{NEW}.error" or module == f"{NEW}.client":
            return self._v1_import(original_node, updated_node, module)
        if not (module == OLD or module.startswith(OLD + ".")):
            return updated_node
        if isinstance(updated_node.names, cst.ImportStar):
            self.rewrote(
                "MQ-2", original_node, f"from {module} import * -> from {_map_module(module)} import *"
            )
            return updated_node.with_changes(module=_fromdotted(_map_module(module)))
        names = {a.name.value for a in updated_node.names if isinstance(a.name, cst.Name)}
        if module == OLD and names <= TOP_NAMES:
            target = NEW
        elif module == f"{OLD}.client" and names <= TOP_NAMES:
            target = NEW
        elif module == f"{OLD}.error" and names <= EXCEPTION_NAMES:
            target = f"{NEW}.exceptions"
        elif module == f"{OLD}.types" and names <= TYPES_NAMES:
            target = f"{NEW}.types"
        elif module in (OLD, f"{OLD}.client") and names <= TOP_NAMES | EXCEPTION_NAMES | {"MqttConnectError"}:
            target = f"{NEW}.client"
        else:
            self.mark(
                "MQ-2",
                original_node,
                f"{', '.join(sorted(names))} from {module} has no known home in "
                "aiomqtt 2; import it from aiomqtt (top level, .exceptions or .types)",
            )
            return updated_node
        self.rewrote("MQ-2", original_node, f"from {module} -> from {target}")
        return updated_node.with_changes(module=_fromdotted(target))

    def _v1_import(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom, module: str):
        """aiomqtt 1.x submodules: `aiomqtt.error` is `aiomqtt.exceptions` in 2.0, and `aiomqtt.client`
        no longer holds Topic, TopicLike, Wildcard, WildcardLike (they are in `aiomqtt.topic`)."""
        if isinstance(updated_node.names, cst.ImportStar):
            names: set[str] = set()
        else:
            names = {a.name.value for a in updated_node.names if isinstance(a.name, cst.Name)}
        if module == f"{NEW}.client" and not names & V1_CLIENT_ONLY:
            return updated_node  # still there in 2.x
        target = _v1_target(module, names)
        if target:
            self.rewrote("MQ-2", original_node, f"from {module} -> from {target}")
            return updated_node.with_changes(module=_fromdotted(target))
        self.mark(
            "MQ-2",
            original_node,
            f"{', '.join(sorted(names)) or '*'} from {module} (aiomqtt 1.x) has no known home in aiomqtt 2; "
            "import it from aiomqtt (top level, .exceptions or .types)",
        )
        return updated_node

    def leave_SimpleString(self, original_node: cst.SimpleString, updated_node: cst.SimpleString):
        """MQ-2 in strings: a whole dotted path naming asyncio_mqtt (`patch("asyncio_mqtt.Client")`,
        `import_module("asyncio_mqtt")`) would raise ModuleNotFoundError once only aiomqtt is
        installed. Prose that merely mentions the module is not a dotted path and stays."""
        value = original_node.evaluated_value
        if not isinstance(value, str) or OLD not in value.split(".") or not _DOTTED.fullmatch(value):
            return updated_node
        mapped = map_dotted_string(value)
        if mapped is None:
            self.mark(
                "MQ-2",
                original_node,
                f'"{value}" names a place aiomqtt 2 does not have; point it at aiomqtt '
                "(top level, .client, .exceptions or .types)",
            )
            return updated_node
        self.rewrote("MQ-2", original_node, f'"{value}" -> "{mapped}"')
        quote = original_node.quote
        return updated_node.with_changes(value=f"{original_node.prefix}{quote}{mapped}{quote}")

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name):
        if self._in_import or original_node.value != OLD or not self._old_module_imported:
            return updated_node
        return updated_node.with_changes(value=NEW)

    # --- attributes: MQ-2 dotted uses, MQ-4 .id, MQ-13 ._client, MQ-15 ----------------------------
    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute):
        if self._in_import:
            return updated_node
        dotted_name = dotted(original_node)
        if dotted_name and dotted_name.startswith(OLD + ".") and self._old_module_imported:
            mapped = _map_module(dotted_name)
            if mapped != NEW + dotted_name[len(OLD) :]:
                return _fromdotted(mapped)
            return updated_node
        if dotted_name and dotted_name.startswith(f"{NEW}.error.") and self._v1_error_imported:
            self.rewrote("MQ-2", original_node, f"{dotted_name} -> {_map_module(dotted_name)}")
            return _fromdotted(_map_module(dotted_name))
        attr = original_node.attr.value
        receiver = original_node.value
        if (
            attr in GONE_MEMBERS
            and attr not in ("id", "_pending_calls_threshold")
            and id(original_node) not in self._called
            and id(original_node) not in self._assigned
            and (self.client_ctor_for(receiver)[0] or self.maybe_client(receiver))
        ):
            self._mark_gone_member(original_node, f"{dotted(receiver) or 'client'}.{attr}")
            return updated_node
        if attr == "id":
            is_client, _ = self.client_ctor_for(receiver)
            if is_client and not (m.matches(receiver, m.Name("self")) and self._defines("id")):
                self.rewrote("MQ-4", original_node, "client.id -> client.identifier")
                return updated_node.with_changes(attr=cst.Name("identifier"))
            if self._looks_like_client(receiver) or self.maybe_client(receiver):
                self.mark(
                    "MQ-4",
                    original_node,
                    f"if {dotted(receiver)} is an aiomqtt Client, "
                    "use .identifier (Client.id was renamed in aiomqtt 2.0)",
                )
        elif attr == "_pending_calls_threshold":
            self.rewrote("MQ-15", original_node, "_pending_calls_threshold -> pending_calls_threshold")
            return updated_node.with_changes(attr=cst.Name("pending_calls_threshold"))
        elif attr == "_client":
            is_client, _ = self.client_ctor_for(receiver)
            if is_client or self._looks_like_client(receiver):
                self.mark(
                    "MQ-13",
                    original_node,
                    "direct paho use: aiomqtt 2 runs paho with callback API "
                    "VERSION2 (client, userdata, flags, reason_code, properties); see " + MQTT_DOCS,
                )
        return updated_node

    def visit_Call(self, node: cst.Call) -> None:
        self._called.add(id(node.func))

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._assigned.add(id(node.target))

    def _mark_gone_member(self, node: cst.CSTNode, what: str) -> None:
        """A test double's, a patch's or an assertion's reference to a Client member 2.0 removed."""
        name = what.rsplit(".", 1)[-1]
        now = (
            "the code now awaits client.__aenter__() / __aexit__(None, None, None)"
            if GONE_MEMBERS[name] == "MQ-6"
            else "the code now iterates client.messages"
        )
        self.mark(
            GONE_MEMBERS[name],
            node,
            f"{what}: aiomqtt 2's Client has no {name} ({now}); mock or assert on that instead",
        )

    def _mark_patched_gone_member(self, call: cst.Call) -> None:
        """`patch.object(Client, "connect")`, `monkeypatch.setattr(client, "disconnect", ...)`."""
        name = dotted(call.func) or ""
        if not (name.endswith("patch.object") or name.endswith("setattr")) or len(call.args) < 2:
            return
        target, member = call.args[0].value, call.args[1].value
        if not isinstance(member, cst.SimpleString) or member.evaluated_value not in GONE_MEMBERS:
            return
        if self.qualified_names(target) & CLIENT_QNAMES or self.client_ctor_for(target)[0]:
            self._mark_gone_member(call, f"{dotted(target) or 'Client'}.{member.evaluated_value}")

    # --- calls: MQ-3/5 constructor, MQ-6 connect, MQ-12/13 -----------------------------------------
    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):
        if self.is_client_ctor(original_node):
            return self._constructor(original_node, updated_node)
        if self.constructs_subclass(original_node):
            self._mark_outside_loop(original_node)
            return updated_node
        if self._own_client_class() is not None and m.matches(
            original_node.func, m.Attribute(value=m.Call(m.Name("super")), attr=m.Name("__init__"))
        ):
            return self._ctor_keywords(original_node, updated_node)  # the Client's own arguments
        self._mark_patched_gone_member(original_node)
        if m.matches(
            original_node.func,
            m.Attribute(
                attr=m.Name("assert_called_with")
                | m.Name("assert_called_once_with")
                | m.Name("assert_any_call")
            ),
        ) and self.patched_client(original_node.func.value):
            return self._ctor_keywords(original_node, updated_node)  # asserts the constructor's arguments
        if self.qualified_names(original_node.func) & PAHO_CLIENT:
            self.mark(
                "MQ-13",
                original_node,
                "paho Client next to aiomqtt: paho 2 needs "
                "CallbackAPIVersion.VERSION2 callbacks (a bare Client() warns); see " + MQTT_DOCS,
            )
            return updated_node
        func = original_node.func
        if isinstance(func, cst.Attribute):
            name = func.attr.value
            if name in ("connect", "disconnect", "force_disconnect"):
                return self._connect(original_node, updated_node, name)
            if name in MESSAGE_CONTEXTS and id(original_node) not in self._handled_calls:
                if (
                    name == "messages"
                    and (not original_node.args or not self._mqtt_file)
                    and not self._looks_like_client(func.value)
                    and not self.client_ctor_for(func.value)[0]
                    and not self.maybe_client(func.value)
                ):
                    return updated_node
                # filtered/unfiltered messages were paho's, whose .topic was a str (MQ-8)
                topic = (
                    "; their .topic becomes a Topic: .value for the str, .matches() for a filter"
                    if name != "messages"
                    else ""
                )
                self.mark(
                    "MQ-7",
                    original_node,
                    f"{name}() is gone in aiomqtt 2: iterate `async for m in "
                    "client.messages` (one shared queue; two concurrent readers compete, use a distributor "
                    f"task as in the aiomqtt migration guide){topic}",
                )
        if m.matches(func, m.Name("isinstance")) and original_node.args:
            self._mark_subscribe_result_use(original_node, original_node.args[0].value, "isinstance")
        if self.qualified_names(func) & {"json.dumps", "json.dump"} and original_node.args:
            self._mark_subscribe_result_use(original_node, original_node.args[0].value, "json")
        if (
            m.matches(func, m.Name("isinstance"))
            and len(original_node.args) == 2
            and m.matches(original_node.args[0].value, m.Attribute(attr=m.Name("rc")))
        ):
            self.mark(
                "MQ-11", original_node, "MqttCodeError.rc is now paho 2's ReasonCode; check this isinstance"
            )
        return updated_node

    def _constructor(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        self._mark_outside_loop(original)
        return self._ctor_keywords(original, updated)

    def _mark_outside_loop(self, original: cst.Call) -> None:
        """MQ-5: a Client (or a subclass) built where no loop runs."""
        if not self._in_async():
            where = (
                "at module level" if not self._functions else f"in sync {self._functions[-1].name.value}()"
            )
            self.mark(
                "MQ-5",
                original,
                f"aiomqtt>=2.3.1 needs a running loop to construct Client ({where}); "
                "construct it inside the async entry point / lazily before `async with`",
            )

    def _ctor_keywords(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        """MQ-3: the Client's renamed and dropped arguments (and MQ-6/7's moved ones)."""
        args = []
        changed = []
        for arg in updated.args:
            key = arg.keyword.value if arg.keyword is not None else None
            if key in CTOR_DROPS:
                changed.append(f"dropped {key}=")
                continue
            if key in CTOR_RENAMES:
                args.append(arg.with_changes(keyword=cst.Name(CTOR_RENAMES[key])))
                changed.append(f"{key}= -> {CTOR_RENAMES[key]}=")
                continue
            args.append(arg)
        present = {a.keyword.value for a in args if a.keyword is not None}
        for extra in self._ctor_extra.get(id(original), []):
            if extra.keyword.value not in present:
                args.append(extra)
                present.add(extra.keyword.value)
                changed.append(f"added {extra.keyword.value}=")
        if not changed:
            return updated
        self.rewrote("MQ-3", original, "Client(): " + ", ".join(changed))
        if args:
            args[-1] = (
                args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                if updated.args and updated.args[-1].comma is cst.MaybeSentinel.DEFAULT
                else args[-1]
            )
            for i, arg in enumerate(args[:-1]):
                if arg.comma is cst.MaybeSentinel.DEFAULT:
                    args[i] = arg.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        return updated.with_changes(args=args)

    def _plan_connect_timeouts(self, fn: cst.FunctionDef, scan: _Scan) -> None:
        """MQ-6: a connect(timeout=t) whose client is constructed in this function -> Client(timeout=t)."""
        for call in find_all(
            fn.body, m.Call(func=m.Attribute(attr=m.Name("connect") | m.Name("disconnect")))
        ):
            receiver = call.func.value
            ctor = None
            if isinstance(receiver, cst.Name):
                ctor = scan.clients.get(receiver.value)
            elif m.matches(receiver, m.Attribute(value=m.Name("self"))) and self._class_attrs:
                ctor = self._class_attrs[-1].get(receiver.attr.value)
            for arg in call.args:
                if (
                    arg.keyword is not None
                    and arg.keyword.value == "timeout"
                    and ctor is not None
                    and call.func.attr.value == "connect"
                ):
                    self._ctor_extra.setdefault(id(ctor), []).append(_kw("timeout", arg.value))
                    self._handled_calls.add(id(call))
                elif arg.keyword is not None and arg.keyword.value == "timeout" and ctor is not None:
                    self._handled_calls.add(id(call))

    def _connect(self, original: cst.Call, updated: cst.Call, name: str) -> cst.BaseExpression:
        receiver = original.func.value
        is_client, ctor = self.client_ctor_for(receiver)
        if not is_client:
            # a file of MQTT code (the codemod only reads those): `x.client.connect()` or
            # `mqtt.connect()` on a receiver it cannot resolve may be a Client (whose connect took
            # no positional argument: paho's connect(host) is not one)
            if (self._looks_like_client(receiver) or self.maybe_client(receiver)) and all(
                a.keyword is not None for a in original.args
            ):
                self.mark(
                    "MQ-6",
                    original,
                    f"if {dotted(receiver)} is an aiomqtt Client: {name}() is gone; "
                    "use `async with client:` (or __aenter__/__aexit__)",
                )
            return updated
        if m.matches(receiver, m.Name("self")) and self._defines(name):
            return updated  # the subclass's own method, not the Client's
        if name == "force_disconnect":
            self.mark(
                "MQ-6",
                original,
                "force_disconnect() has no replacement in aiomqtt 2; leaving "
                "`async with client:` (or __aexit__) forces the disconnect when a clean one fails",
            )
            return updated
        has_timeout = any(a.keyword is not None and a.keyword.value == "timeout" for a in original.args)
        if has_timeout and id(original) not in self._handled_calls:
            self.mark(
                "MQ-6",
                original,
                f"{name}(timeout=...) is gone: pass timeout=... to the Client "
                "constructor (not found in this function)",
            )
        if name == "connect":
            new = updated.with_changes(func=updated.func.with_changes(attr=cst.Name("__aenter__")), args=[])
            self.rewrote("MQ-6", original, "connect() -> __aenter__()")
        else:
            none = cst.Name("None")
            new = updated.with_changes(
                func=updated.func.with_changes(attr=cst.Name("__aexit__")),
                args=[
                    cst.Arg(none, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                    cst.Arg(none, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                    cst.Arg(none),
                ],
            )
            self.rewrote("MQ-6", original, "disconnect() -> __aexit__(None, None, None)")
        return new

    # --- MQ-12 subscribe results, MQ-11 rc comparisons --------------------------------------------
    def _subscribe_names(self) -> set[str]:
        names: set[str] = set()
        for scan in self._scans:
            names |= scan.subscribe_results
        return names

    def _mark_subscribe_result_use(self, node: cst.CSTNode, value: cst.BaseExpression, how: str) -> None:
        """MQ-12: a marker where subscribe()'s result is used as a tuple of ints."""
        if isinstance(value, cst.Name) and value.value in self._subscribe_names():
            self.mark(
                "MQ-12",
                node,
                f"subscribe() now returns list[ReasonCode], not a tuple of ints ({how} "
                f"on {value.value} breaks); compare rc[0] == 1 / rc[0] >= 128 instead",
            )

    def leave_Comparison(self, original_node: cst.Comparison, updated_node: cst.Comparison):
        operands = [original_node.left, *(c.comparator for c in original_node.comparisons)]
        for operand in operands:
            if isinstance(operand, cst.Name) and operand.value in self._subscribe_names():
                self._mark_subscribe_result_use(original_node, operand, "comparison")
                break
            if isinstance(operand, cst.Await) and m.matches(
                operand.expression, m.Call(func=m.Attribute(attr=m.Name("subscribe")))
            ):
                self.mark(
                    "MQ-12", original_node, "subscribe() now returns list[ReasonCode]; compare rc[0] instead"
                )
                break
        if any(m.matches(o, m.Attribute(attr=m.Name("rc"))) for o in operands) and any(
            "ReasonCodes" in (dotted(o.func) if isinstance(o, cst.Call) else dotted(o) or "")
            for o in operands
            if isinstance(o, (cst.Call, cst.Attribute, cst.Name))
        ):
            self.mark(
                "MQ-11", original_node, "MqttCodeError.rc is now paho 2's ReasonCode; check this comparison"
            )
        return updated_node

    # --- MQ-7 / MQ-8 message contexts -----------------------------------------------------------
    @staticmethod
    def _message_items(node: cst.With) -> list[tuple[int, cst.WithItem]]:
        return [
            (i, item)
            for i, item in enumerate(node.items)
            if isinstance(item.item, cst.Call)
            and isinstance(item.item.func, cst.Attribute)
            and item.item.func.attr.value in MESSAGE_CONTEXTS
        ]

    def _plan_message_contexts(self, fn: cst.FunctionDef) -> None:
        """Decide, before the traversal reaches the Client constructor, which contexts get rewritten."""
        withs = [
            w for w in find_all(fn.body, m.With(asynchronous=m.Asynchronous())) if self._message_items(w)
        ]
        for node in withs:
            nested = any(
                other is not node
                and (
                    any(x is node for x in find_all(other.body, m.With()))
                    or any(x is other for x in find_all(node.body, m.With()))
                )
                for other in withs
            )
            self._plan_with(node, nested)

    def _plan_with(self, node: cst.With, nested: bool) -> None:
        items = self._message_items(node)
        call = items[0][1].item
        kind = call.func.attr.value
        if len(items) > 1 or nested:
            return  # left alone: leave_Call marks it (two concurrent message contexts, MQ-7 impossible)
        index, item = items[0]
        if item.asname is None or not isinstance(item.asname.name, cst.Name):
            return
        name = item.asname.name.value
        uses = [n for n in find_all(node.body, m.Name(name))]
        loops = find_all(node.body, m.For(asynchronous=m.Asynchronous(), iter=m.Name(name)))
        if len(loops) != 1 or len(uses) != 1:
            return
        if kind == "unfiltered_messages" and self._has_filtered:
            return
        receiver = call.func.value
        if (
            kind == "messages"
            and not self._mqtt_file
            and not (
                self.client_ctor_for(receiver)[0]
                or self._looks_like_client(receiver)
                or self.maybe_client(receiver)
            )
        ):
            return  # `x.messages()` in a file with no MQTT import: another library's, most likely
        topic_filter = None
        extra: list[cst.Arg] = []
        problems: list[tuple[str, str]] = []
        positional = [a for a in call.args if a.keyword is None]
        for arg in call.args:
            key = arg.keyword.value if arg.keyword is not None else None
            if key == "queue_maxsize":
                extra.append(_kw("max_queued_incoming_messages", arg.value))
            elif key == "queue_class":
                extra.append(_kw("queue_type", arg.value))
            elif key == "topic_filter":
                topic_filter = arg.value
            elif key is not None:
                return
        if kind == "filtered_messages":
            if positional:
                topic_filter = positional[0].value
            if topic_filter is None:
                return
        elif positional:
            return
        if extra:
            is_client, ctor = self.client_ctor_for(receiver)
            if ctor is not None:
                self._ctor_extra.setdefault(id(ctor), []).extend(extra)
            else:
                problems.append(
                    (
                        "MQ-7",
                        "move "
                        + ", ".join(f"{a.keyword.value}=..." for a in extra)
                        + " to the Client constructor (not found here)",
                    )
                )
        self._handled_calls.add(id(call))
        self._with_plans[id(node)] = {
            "index": index,
            "name": name,
            "receiver": receiver,
            "filter": topic_filter,
            "problems": problems,
            "kind": kind,
        }

    def leave_With(self, original_node: cst.With, updated_node: cst.With):
        plan = self._with_plans.pop(id(original_node), None)
        if plan is None:
            return updated_node
        rewriter = _ForRewrite(
            plan["name"], plan["receiver"], plan["filter"], paho=plan["kind"] != "messages"
        )
        body = updated_node.body.visit(rewriter)
        for rule, text in plan["problems"] + rewriter.problems:
            self.mark(rule, original_node, text)
        rule = "MQ-7" if plan["kind"] == "messages" else "MQ-8"
        self.rewrote(rule, original_node, f"async with {plan['kind']}() -> async for ... in client.messages")
        items = [it for i, it in enumerate(updated_node.items) if i != plan["index"]]
        if items:
            items[-1] = items[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            return updated_node.with_changes(items=items, body=body)
        statements = (
            list(body.body)
            if isinstance(body, cst.IndentedBlock)
            else [cst.SimpleStatementLine(body=list(body.body))]
        )
        first = statements[0]
        statements[0] = first.with_changes(leading_lines=[*updated_node.leading_lines, *first.leading_lines])
        return cst.FlattenSentinel(statements)


class AiomqttUpgrade(Upgrade):
    name = "aiomqtt"
    description = "asyncio-mqtt 0.16 / aiomqtt 1.x -> aiomqtt 2.x (MQ-1..MQ-15)"
    rule_prefix = "MQ"
    packages = Packages(old=("asyncio-mqtt",), new="aiomqtt")
    target_version = "2.5.1"
    rules = {
        "MQ-1": "asyncio-mqtt (or aiomqtt 1.x) becomes the target aiomqtt; paho-mqtt is raised to 2.x",
        "MQ-2": "imports of asyncio_mqtt and its submodules move to aiomqtt",
        "MQ-3": "Client arguments: client_id= becomes identifier=, message_retry_set= goes away",
        "MQ-4": "client.id becomes client.identifier",
        "MQ-5": "a Client must be built inside a running loop; one built elsewhere is a blocker",
        "MQ-6": "connect()/disconnect() become __aenter__/__aexit__; their timeout= moves to the Client",
        "MQ-7": "the messages() context manager becomes the client.messages iterator",
        "MQ-8": "filtered_messages()/unfiltered_messages() become client.messages with a topic check",
        "MQ-9": "no change: message.topic from messages() was already a Topic",
        "MQ-10": "Will, TLSParameters, ProtocolVersion, ProxySettings: import rename only",
        "MQ-11": "error names only move with the imports; code comparing e.rc with ReasonCodes needs a look",
        "MQ-12": "subscribe() now returns a list of ReasonCode; tuple/int comparisons are blockers",
        "MQ-13": "direct use of the paho client (callbacks, paho Client next to aiomqtt) is a blocker",
        "MQ-14": "no change: a reconnect loop that builds a new Client per attempt still works",
        "MQ-15": "logger= unchanged; _pending_calls_threshold becomes pending_calls_threshold",
    }
    tokens = ("asyncio_mqtt", "aiomqtt")
    modules = ("asyncio_mqtt",)
    codemod = AiomqttCodemod

    def detect(self, tree) -> bool:
        if super().detect(tree):
            return True
        # aiomqtt 1.x pinned
        for rel in requirement_files(tree):
            for line in tree.read(rel).splitlines():
                req = Requirement.parse(line)
                if req and req.key == "aiomqtt":
                    lower, _ = bounds(req.spec)
                    if lower and not version_at_least(lower, "2"):
                        return True
        return False

    def analyze(self, tree: ProjectTree, versions: Versions) -> MqttFacts:
        return mqtt_facts(tree)

    def precheck(self, rel: str, text: str) -> bool:
        # a module that never names asyncio_mqtt may still use a Client another module of the
        # service builds (`from app.broker import make_client`): needs_codemod keeps those
        # (a patch of its Client class, its gone members, its message contexts, client.id)
        return super().precheck(rel, text) or any(
            word in text for word in ("Client", "connect", "messages", ".id")
        )

    def needs_codemod(self, rel: str, text: str, state: Any = None) -> bool:
        if any(token in text for token in self.tokens):
            return True
        return isinstance(state, MqttFacts) and imports_mqtt_module(text, state)

    def python_floor(self, versions: Versions) -> tuple[str, str] | None:
        return ("MQ-1", "3.8")

    def forced_pins(self, versions: Versions) -> dict[str, str]:
        # the paho-mqtt the target release needs (docs/rules.md#mq-1)
        return {"paho-mqtt": ">=2.1,<3" if versions.at_least("aiomqtt", "2.2") else ">=2.0,<3"}

    def requirement_rules(self, versions: Versions, state: Any) -> list[RequirementRule]:
        target = versions.target("aiomqtt")
        return [
            RequirementRule("MQ-1", "asyncio-mqtt", rename_to="aiomqtt", version=target, extras=frozenset()),
            RequirementRule("MQ-1", "aiomqtt", version=target),
            RequirementRule("MQ-1", "paho-mqtt", spec=versions.forced["paho-mqtt"], forced=True),
        ]
