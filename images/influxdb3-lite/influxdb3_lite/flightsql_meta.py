"""Flight SQL metadata commands, answered as the real server answers them.

Real source (influxdata/influxdb): `core/flightsql/src/planner.rs` (`get_schema` gives each
command's result schema, `do_get` plans the rows: `plan_get_catalogs`, `plan_get_db_schemas`,
`plan_get_tables`, `plan_get_table_types`, the key commands answering empty tables),
`core/flightsql/src/sql_info/` (the GetSqlInfo values, `mod.rs` and `meta.rs`),
`core/flightsql/src/xdbc_type_info/mod.rs` (five XDBC types), and the builders of arrow-rs
`arrow-flight/src/sql/metadata/` that filter and sort those rows. The catalog is `public`, its
schemas `information_schema`, `iox` (the database's tables) and `system`
(`influxdb3_server/src/query_executor/mod.rs`, `CatalogProvider for Database`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from influxdb3_lite.flightsql import PREFIX, Command

CATALOG = "public"
# planner.rs lists the information_schema views by hand (they are virtual in DataFusion).
INFORMATION_SCHEMA_VIEWS = ("columns", "df_settings", "parameters", "routines", "tables", "views", "schemata")
BASE_TABLE_HEADER = "x-influxdata-base-table-type"

CATALOGS = PREFIX + "CommandGetCatalogs"
DB_SCHEMAS = PREFIX + "CommandGetDbSchemas"
TABLES = PREFIX + "CommandGetTables"
TABLE_TYPES = PREFIX + "CommandGetTableTypes"
SQL_INFO = PREFIX + "CommandGetSqlInfo"
XDBC_TYPE_INFO = PREFIX + "CommandGetXdbcTypeInfo"
PRIMARY_KEYS = PREFIX + "CommandGetPrimaryKeys"
EXPORTED_KEYS = PREFIX + "CommandGetExportedKeys"
IMPORTED_KEYS = PREFIX + "CommandGetImportedKeys"
CROSS_REFERENCE = PREFIX + "CommandGetCrossReference"
KEY_COMMANDS = (PRIMARY_KEYS, EXPORTED_KEYS, IMPORTED_KEYS, CROSS_REFERENCE)
COMMANDS = (CATALOGS, DB_SCHEMAS, TABLES, TABLE_TYPES, SQL_INFO, XDBC_TYPE_INFO, *KEY_COMMANDS)


class MetaError(ValueError):
    """A metadata request the real server refuses with INVALID_ARGUMENT."""


def _utf8(*names: str) -> list[pa.Field]:
    return [pa.field(n, pa.string(), nullable=False) for n in names]


CATALOGS_SCHEMA = pa.schema(_utf8("catalog_name"))
DB_SCHEMAS_SCHEMA = pa.schema(_utf8("catalog_name", "db_schema_name"))
TABLES_SCHEMA = pa.schema(_utf8("catalog_name", "db_schema_name", "table_name", "table_type"))
TABLES_WITH_SCHEMA = TABLES_SCHEMA.append(pa.field("table_schema", pa.binary(), nullable=False))
TABLE_TYPES_SCHEMA = pa.schema(_utf8("table_type"))
PRIMARY_KEYS_SCHEMA = pa.schema(
    [*_utf8("catalog_name", "db_schema_name", "table_name", "column_name", "key_name")]
    + [pa.field("key_sequence", pa.int32(), nullable=False)]
)
# Exported, imported keys and cross references share one shape (planner.rs).
FOREIGN_KEYS_SCHEMA = pa.schema(
    _utf8(
        "pk_catalog_name",
        "pk_db_schema_name",
        "pk_table_name",
        "pk_column_name",
        "fk_catalog_name",
        "fk_db_schema_name",
        "fk_table_name",
        "fk_column_name",
    )
    + [pa.field("key_sequence", pa.int32(), nullable=False)]
    + _utf8("fk_key_name", "pk_key_name")
    + [
        pa.field("update_rule", pa.uint8(), nullable=False),
        pa.field("delete_rule", pa.uint8(), nullable=False),
    ]
)


@dataclass(frozen=True)
class CatalogTable:
    """One row of GetTables before filtering: where the table lives and its Arrow schema."""

    schema_name: str
    name: str
    kind: str  # "VIEW" or "BASE" (the base table type comes from a header)
    schema: pa.Schema


def result_schema(command: Command) -> pa.Schema:
    """The schema GetFlightInfo announces (`FlightSQLPlanner::get_schema`)."""
    if command.type_url == TABLES:
        return TABLES_WITH_SCHEMA if command.flag(5) else TABLES_SCHEMA
    return _table(command, lambda: [], "BASE TABLE").schema


def answer(command: Command, tables: Callable[[], list[CatalogTable]], base_table_type: str) -> pa.Table:
    """The rows DoGet streams for a metadata command (`FlightSQLPlanner::do_get`)."""
    return _table(command, tables, base_table_type)


def _table(command: Command, tables: Callable[[], list[CatalogTable]], base_table_type: str) -> pa.Table:
    kind = command.type_url
    if kind == CATALOGS:
        return pa.table([pa.array([CATALOG])], schema=CATALOGS_SCHEMA)
    if kind == DB_SCHEMAS:
        return _db_schemas(command.optional_text(1), command.optional_text(2))
    if kind == TABLES:
        return _tables(command, tables(), base_table_type)
    if kind == TABLE_TYPES:
        return pa.table([pa.array([base_table_type, "VIEW"])], schema=TABLE_TYPES_SCHEMA)
    if kind == SQL_INFO:
        return sql_info(command.integers(1))
    if kind == XDBC_TYPE_INFO:
        values = [v - 2**64 if v >= 2**63 else v for v in command.integers(1)]  # int32 sign extension
        return xdbc_type_info(values[-1] if values else None)
    if kind == PRIMARY_KEYS:
        return PRIMARY_KEYS_SCHEMA.empty_table()
    return FOREIGN_KEYS_SCHEMA.empty_table()


def base_table_type(value: str | None) -> str:
    """`get_flightsql_base_table_type`: `BASE TABLE` (the default, JDBC) or `TABLE` (ODBC),
    compared case-insensitively; anything else is an invalid argument."""
    if value is None:
        return "BASE TABLE"
    upper = value.upper()
    if upper in ("BASE TABLE", "TABLE"):
        return upper
    raise MetaError(
        f"Invalid argument: Invalid base table type: '{value}'. Valid values are 'BASE TABLE' or 'TABLE'"
    )


def like(pattern: str) -> re.Pattern[str]:
    """SQL LIKE as arrow's `like` kernel reads it: `%` any run, `_` one character, a backslash
    escapes the next character."""
    out, escaped = [], False
    for char in pattern:
        if escaped:
            out.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    if escaped:
        out.append(re.escape("\\"))
    return re.compile("".join(out), re.DOTALL)


def _matches(value: str, pattern: str | None) -> bool:
    return pattern is None or like(pattern).fullmatch(value) is not None


def _db_schemas(catalog: str | None, pattern: str | None) -> pa.Table:
    """`plan_get_db_schemas`: information_schema, then the catalog's schemas, filtered by the
    catalog (exact) and the pattern (LIKE), sorted (arrow-rs `GetDbSchemasBuilder`)."""
    rows = sorted(
        (CATALOG, name)
        for name in ("information_schema", "iox", "system")
        if (catalog is None or catalog == CATALOG) and _matches(name, pattern)
    )
    return pa.table(
        [pa.array([r[0] for r in rows], pa.string()), pa.array([r[1] for r in rows], pa.string())],
        schema=DB_SCHEMAS_SCHEMA,
    )


def _tables(command: Command, tables: list[CatalogTable], base: str) -> pa.Table:
    """`plan_get_tables` then arrow-rs `GetTablesBuilder::build`: catalog equal, any of the
    table types, LIKE patterns on schema and table names; sorted by catalog, schema, table,
    type. Each `table_schema` is the IPC-encoded schema of the table as stored (tags as
    dictionaries), not the hydrated one a query returns."""
    catalog, schema_pattern, table_pattern = (command.optional_text(n) for n in (1, 2, 3))
    types, include_schema = command.texts(4), command.flag(5)
    rows = []
    for table in tables:
        kind = base if table.kind == "BASE" else table.kind
        if catalog is not None and catalog != CATALOG:
            continue
        if (types and kind not in types) or not _matches(table.schema_name, schema_pattern):
            continue
        if _matches(table.name, table_pattern):
            rows.append((CATALOG, table.schema_name, table.name, kind, table.schema))
    rows.sort(key=lambda r: r[:4])
    columns = [pa.array([r[i] for r in rows], pa.string()) for i in range(4)]
    if include_schema:
        columns.append(pa.array([r[4].serialize().to_pybytes() for r in rows], pa.binary()))
    return pa.table(columns, schema=TABLES_WITH_SCHEMA if include_schema else TABLES_SCHEMA)


# -- GetSqlInfo (core/flightsql/src/sql_info) ------------------------------------------------

SQL_KEYWORDS = (
    "absolute action add all allocate alter and any are as asc assertion at authorization avg begin "
    "between bit bit_length both by cascade cascaded case cast catalog char char_length character "
    "character_length check close coalesce collate collation column commit connect connection "
    "constraint constraints continue convert corresponding count create cross current current_date "
    "current_time current_timestamp current_user cursor date day deallocate dec decimal declare "
    "default deferrable deferred delete desc describe descriptor diagnostics disconnect distinct "
    "domain double drop else end end-exec escape except exception exec execute exists external "
    "extract false fetch first float for foreign found from full get global go goto grant group "
    "having hour identity immediate in indicator initially inner input insensitive insert int "
    "integer intersect interval into is isolation join key language last leading left level like "
    "local lower match max min minute module month names national natural nchar next no not null "
    "nullif numeric octet_length of on only open option or order outer output overlaps pad partial "
    "position precision prepare preserve primary prior privileges procedure public read real "
    "references relative restrict revoke right rollback rows schema scroll second section select "
    "session session_user set size smallint some space sql sqlcode sqlerror sqlstate substring sum "
    "system_user table temporary then time timestamp timezone_hour timezone_minute to trailing "
    "transaction translate translation trim true union unique unknown update upper usage user using "
    "value values varchar varying view when whenever where with work write year zone"
).split()
NUMERIC_FUNCTIONS = (
    "abs acos asin atan atan2 ceil cos exp floor ln log log10 log2 pow power round signum sin sqrt tan trunc"
).split()
STRING_FUNCTIONS = (
    "arrow_typeof ascii bit_length btrim char_length character_length chr concat concat_ws digest "
    "from_unixtime initcap left length lower lpad ltrim md5 octet_length random regexp_match "
    "regexp_replace repeat replace reverse right rpad rtrim sha224 sha256 sha384 sha512 split_part "
    "starts_with strpos substr to_hex translate trim upper uuid"
).split()
DATETIME_FUNCTIONS = (
    "current_date current_time date_bin date_part date_trunc datepart datetrunc from_unixtime now "
    "to_timestamp to_timestamp_micros to_timestamp_millis to_timestamp_seconds"
).split()
SYSTEM_FUNCTIONS = ["array", "arrow_typeof", "struct"]
I32_MAX = 2**31 - 1


class _Bitmask(int):
    """An int32 value of the union's `int32_bitmask` member (a plain int is `bigint_value`)."""


def _sql_info_values() -> dict[int, object]:
    """`iox_sql_info_data` (sql_info/mod.rs): info id -> value; str, bool, int (bigint),
    _Bitmask (int32), list of str, dict (int32 -> list of int32)."""
    values: dict[int, object] = {
        0: "InfluxDB IOx",
        1: "2",
        2: "1.3",
        3: True,
        4: True,
        5: False,
        8: _Bitmask(0),
        9: False,
        100: _Bitmask(0),
        101: _Bitmask(0),
        500: False,
        501: False,
        502: False,
        503: _Bitmask(3),  # lowercase
        504: '"',
        505: _Bitmask(1),  # case insensitive
        506: True,
        507: _Bitmask(0),  # nulls sorted high
        508: SQL_KEYWORDS,
        509: NUMERIC_FUNCTIONS,
        510: STRING_FUNCTIONS,
        511: SYSTEM_FUNCTIONS,
        512: DATETIME_FUNCTIONS,
        513: "\\",
        514: "",
        515: True,
        516: True,
        517: supports_convert(),
        518: False,
        519: False,
        520: True,
        521: True,
        522: _Bitmask(3),
        523: True,
        524: True,
        525: _Bitmask(1),  # core grammar
        526: _Bitmask(0b111),
        527: False,
        528: _Bitmask(2),
        529: "schema",
        530: "procedure",
        532: False,
        533: _Bitmask(0),
        534: _Bitmask(0),
        535: _Bitmask(0),
        536: False,
        537: False,
        538: _Bitmask(15),
        539: True,
        540: _Bitmask(3),
    }
    values.update(dict.fromkeys([*range(541, 556), 557, 558, 559, 560, 561], I32_MAX))
    values.update({556: True, 562: 0, 563: False, 564: _Bitmask(0), 565: False, 566: True})
    values.update(dict.fromkeys(range(567, 572), _Bitmask(0)))
    values.update(dict.fromkeys(range(572, 577), False))
    return values


# SqlSupportsConvert member -> the Arrow type meta.rs maps it to (binary types not supported).
_CONVERT_TYPES = {
    0: "int64",
    2: "bool",
    3: "utf8",
    4: "date32",
    5: "decimal",
    6: "float32",
    7: "int32",
    8: "interval_dt",
    9: "interval_ym",
    11: "utf8",
    12: "decimal",
    13: "float32",
    14: "int16",
    15: "time64",
    16: "timestamp",
    17: "int8",
    19: "utf8",
}
_NUMERIC = {"int8", "int16", "int32", "int64", "float32", "decimal"}


def _can_cast(source: str, target: str) -> bool:
    """arrow-rs `can_cast_types` for the types above (cast.rs), as far as they go."""
    if source == target or "utf8" in (source, target):
        return True
    if source in _NUMERIC and target in _NUMERIC:
        return True
    if "bool" in (source, target):
        other = target if source == "bool" else source
        return other in _NUMERIC - {"decimal"}
    pairs = {
        ("int32", "date32"),
        ("date32", "int32"),
        ("date32", "int64"),
        ("int64", "time64"),
        ("time64", "int64"),
        ("int64", "timestamp"),
        ("timestamp", "int64"),
        ("date32", "timestamp"),
        ("timestamp", "date32"),
        ("timestamp", "time64"),
    }
    return (source, target) in pairs


def supports_convert() -> dict[int, list[int]]:
    """`SQL_INFO_SUPPORTS_CONVERT` (meta.rs): for each SQL type, those it casts to. The real
    server fills it from a HashMap, so the order of each list differs from run to run."""
    return {
        source: [target for target, t_type in _CONVERT_TYPES.items() if _can_cast(s_type, t_type)]
        for source, s_type in _CONVERT_TYPES.items()
    }


_STRING_LIST = pa.list_(pa.field("item", pa.string()))
_LIST_MAP = pa.map_(
    pa.field("keys", pa.int32(), nullable=False), pa.field("values", pa.list_(pa.field("item", pa.int32())))
)
SQL_INFO_VALUE = pa.dense_union(
    [
        pa.field("string_value", pa.string(), nullable=False),
        pa.field("bool_value", pa.bool_(), nullable=False),
        pa.field("bigint_value", pa.int64(), nullable=False),
        pa.field("int32_bitmask", pa.int32(), nullable=False),
        pa.field("string_list", _STRING_LIST),
        pa.field("int32_to_int32_list_map", _LIST_MAP),
    ]
)
SQL_INFO_SCHEMA = pa.schema(
    [pa.field("info_name", pa.uint32(), nullable=False), pa.field("value", SQL_INFO_VALUE, nullable=False)]
)


def _member(value: object) -> int:
    if isinstance(value, str):
        return 0
    if isinstance(value, bool):
        return 1
    if isinstance(value, _Bitmask):
        return 3
    if isinstance(value, int):
        return 2
    return 4 if isinstance(value, list) else 5


def sql_info(wanted: list[int]) -> pa.Table:
    """Rows for the ids asked (all when none), by id (`SqlInfoData::record_batch`); the value
    a dense union with one member per kind of value."""
    values = _sql_info_values()
    ids = sorted(i for i in values if not wanted or i in wanted)
    members: list[list[object]] = [[] for _ in range(6)]
    types, offsets = [], []
    for info in ids:
        member = _member(values[info])
        types.append(member)
        offsets.append(len(members[member]))
        members[member].append(values[info])
    maps = members[5]
    children = [
        pa.array(members[0], pa.string()),
        pa.array(members[1], pa.bool_()),
        pa.array(members[2], pa.int64()),
        pa.array(members[3], pa.int32()),
        pa.array(members[4], _STRING_LIST),
        pa.array([sorted(m.items()) for m in maps], _LIST_MAP),
    ]
    union = pa.UnionArray.from_buffers(
        SQL_INFO_VALUE,
        len(ids),
        [None, pa.array(types, pa.int8()).buffers()[1], pa.array(offsets, pa.int32()).buffers()[1]],
        children=children,
    )
    return pa.Table.from_arrays([pa.array(ids, pa.uint32()), union], schema=SQL_INFO_SCHEMA)


# -- GetXdbcTypeInfo (core/flightsql/src/xdbc_type_info/mod.rs) -----------------------------

XDBC_SCHEMA = pa.schema(
    [
        pa.field("type_name", pa.string(), nullable=False),
        pa.field("data_type", pa.int32(), nullable=False),
        pa.field("column_size", pa.int32()),
        pa.field("literal_prefix", pa.string()),
        pa.field("literal_suffix", pa.string()),
        pa.field("create_params", pa.list_(pa.field("item", pa.string(), nullable=False))),
        pa.field("nullable", pa.int32(), nullable=False),
        pa.field("case_sensitive", pa.bool_(), nullable=False),
        pa.field("searchable", pa.int32(), nullable=False),
        pa.field("unsigned_attribute", pa.bool_()),
        pa.field("fixed_prec_scale", pa.bool_(), nullable=False),
        pa.field("auto_increment", pa.bool_()),
        pa.field("local_type_name", pa.string()),
        pa.field("minimum_scale", pa.int32()),
        pa.field("maximum_scale", pa.int32()),
        pa.field("sql_data_type", pa.int32(), nullable=False),
        pa.field("datetime_subcode", pa.int32()),
        pa.field("num_prec_radix", pa.int32()),
        pa.field("interval_precision", pa.int32()),
    ]
)


def _xdbc_row(name: str, code: int, size: int, quoted: bool, **extra: object) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(XDBC_SCHEMA.names)
    row.update(
        type_name=name,
        data_type=code,
        column_size=size,
        literal_prefix="'" if quoted else None,
        literal_suffix="'" if quoted else None,
        nullable=1,  # NULLABILITY_NULLABLE
        case_sensitive=False,
        searchable=3,  # SEARCHABLE_FULL
        fixed_prec_scale=False,
        local_type_name=name,
        sql_data_type=code,
    )
    row.update(extra)
    return row


def _xdbc_rows() -> list[dict[str, object]]:
    numeric = {"unsigned_attribute": False, "auto_increment": False, "num_prec_radix": 2}
    rows = [
        _xdbc_row("VARCHAR", 12, I32_MAX, True, create_params=["length"], case_sensitive=True),
        _xdbc_row("INTEGER", 4, 32, False, **numeric),
        _xdbc_row("FLOAT", 6, 24, False, **numeric),
        _xdbc_row("TIMESTAMP", 93, I32_MAX, True),
        _xdbc_row("INTERVAL", 10, I32_MAX, True, datetime_subcode=0),
    ]
    return sorted(rows, key=lambda r: (r["data_type"], r["type_name"]))  # the builder's order


def xdbc_type_info(data_type: int | None) -> pa.Table:
    rows = [r for r in _xdbc_rows() if data_type is None or r["data_type"] == data_type]
    return pa.Table.from_pylist(rows, schema=XDBC_SCHEMA)
