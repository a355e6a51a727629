"""SQL whose field or table list only the server knows (docs/rules.md#ix-12, "run-time schema").

Flux with no ``_field`` filter returns every field of the measurement, and ``schema.tagValues()`` over a
whole bucket reads every measurement carrying the tag. When the service's writes do not name those
fields or measurements, no SQL written at migration time is faithful. InfluxDB 3 tells them at run time:
``information_schema.columns`` lists a table's columns, tags typed ``Dictionary(Int32, Utf8)``.

The translation then holds one repeated part between comments::

    SELECT * FROM (/*+each field of 'sensor'*/ SELECT ..., '__influxdb3_field__' AS _field,
    __influxdb3_field__ AS _value FROM ... /*+end*/) ORDER BY ...

and the query call sends ``_influxdb3_expand(client, sql, database)``: a helper written into the service
that asks ``information_schema.columns`` for the names and repeats the part once per name (quoted),
joined by UNION ALL. A text without such a part is returned unchanged, so a second run changes nothing.
"""

from __future__ import annotations

import libcst as cst

FIELD = "__influxdb3_field__"  # the placeholder of a field: an identifier and a string literal
TABLE = "__influxdb3_table__"  # the placeholder of a measurement carrying a tag
COUNT_FIELDS = "__influxdb3_count_fields__"  # count(f1) + count(f2) ... of the table at hand
TAGS = "__influxdb3_tags__"  # the placeholder of every tag of the measurement (its series key)
EXPAND = "_influxdb3_expand"
RUNTIME_QUERY = "_influxdb3_query"
QUERY_HELPER = """
def _influxdb3_query(client, sql: str, **options):
    # client.query() of SQL with run-time parts (IX-12), handed to an executor: the catalog is read in
    # the executor's thread too, not in the caller's (an event loop)
    return client.query(_influxdb3_expand(client, sql, options.get("database")), **options)
"""

EXPAND_HELPER = r"""
def _influxdb3_expand(client, sql: str, database=None) -> str:
    # SQL with its run-time parts filled (IX-12): Flux read every tag, field or measurement the server
    # has; SQL must name them, so information_schema.columns tells them (tags are Dictionary columns).
    # `/*+tags of 'm'*/` heads SQL whose __influxdb3_tags__ stands for every tag of table m;
    # `/*+each field of 'm'*/ ... /*+end*/` repeats for every field of m and `/*+each table with tag
    # 't'*/ ... /*+end*/` for every table holding tag t, joined by UNION ALL.
    def catalog(column: str, where: str, name: str) -> list:
        return client.query(
            f"SELECT DISTINCT {column} AS name, data_type FROM information_schema.columns "
            f"WHERE table_schema = 'iox' AND {where} ORDER BY name",
            language="sql",
            database=database,
            query_parameters={"name": name.replace("''", "'")},
        ).to_pylist()

    def ident(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    head = re.match(r"\s*/\*\+tags of '((?:[^']|'')*)'\*/\s*", sql)
    if head is not None:
        tags = catalog("column_name", "table_name = $name AND data_type LIKE 'Dictionary%'", head.group(1))
        sql = sql[head.end() :]
        if tags:
            sql = sql.replace("__influxdb3_tags__", ", ".join(ident(t["name"]) for t in tags))
        names = {t["name"] for t in tags}  # `/*+if tag 'x'*/A/*+else*/B/*+end*/`: A where x is a tag
        sql = re.sub(
            r"/\*\+if tag '((?:[^']|'')*)'\*/(.*?)/\*\+else\*/(.*?)/\*\+end\*/",
            lambda m: m.group(2) if m.group(1).replace("''", "'") in names else m.group(3),
            sql,
            flags=re.S,
        )
        for pattern, new in (  # no tag: one series, so nothing to partition, group or order by
            (r"PARTITION BY __influxdb3_tags__\s+", ""),
            (r"GROUP BY __influxdb3_tags__(?!,)", "HAVING count(*) > 0"),
            (r"ORDER BY __influxdb3_tags__(?!,)", ""),
            (r"__influxdb3_tags__,\s*|,\s*__influxdb3_tags__", ""),
        ):
            sql = re.sub(pattern, new, sql)
    found = re.search(r"/\*\+each (field of|table with tag) '((?:[^']|'')*)'\*/(.*?)/\*\+end\*/", sql, re.S)
    if found is None:
        return sql
    kind, name, part = found.groups()
    if kind == "field of":
        place = "__influxdb3_field__"
        where = "table_name = $name AND column_name <> 'time' AND data_type NOT LIKE 'Dictionary%'"
        rows = catalog("column_name", where, name)
    else:
        place = "__influxdb3_table__"
        where = "column_name = $name AND data_type LIKE 'Dictionary%'"
        rows = catalog("table_name", where, name)
    if "_value" in part and len({row["data_type"] for row in rows}) > 1:  # one _value column would coerce
        raise ValueError(f"fields of {name} have different types: filter r._field (IX-12)")
    names = sorted({row["name"] for row in rows})
    if not names and kind == "field of":  # no field: the part keeps its shape and gives no row
        parts = [part.replace("'" + place + "'", "''").replace(place, "NULL")]
    elif not names:
        parts = ["SELECT CAST(NULL AS VARCHAR) AS _measurement, CAST(NULL AS VARCHAR) AS _value WHERE FALSE"]
    else:
        texts = [("'" + n.replace("'", "''") + "'", ident(n)) for n in names]
        parts = [part.replace("'" + place + "'", text).replace(place, quoted) for text, quoted in texts]
    if names and "__influxdb3_count_fields__" in part:  # every field column of each table, counted
        columns = client.query(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'iox' "
            "AND column_name <> 'time' AND data_type NOT LIKE 'Dictionary%' ORDER BY column_name",
            language="sql",
            database=database,
        ).to_pylist()
        counts = [
            " + ".join(f"count({ident(c['column_name'])})" for c in columns if c["table_name"] == n) or "0"
            for n in names
        ]
        parts = [p.replace("__influxdb3_count_fields__", c) for p, c in zip(parts, counts)]
    return sql[: found.start()] + " UNION ALL ".join(parts) + sql[found.end() :]
"""


def each_field(measurement: str, part: str) -> str:
    """The part repeated for every field of `measurement` at run time."""
    return f"/*+each field of {_string(measurement)}*/ {part} /*+end*/"


def with_tags(measurement: str, sql: str) -> str:
    """SQL whose TAGS placeholder stands for every tag of `measurement`, read at run time."""
    return f"/*+tags of {_string(measurement)}*/ {sql}"


def if_tag(tag: str, then: str, otherwise: str) -> str:
    """`then` where `tag` is a tag column of the measurement at run time, else `otherwise` (inside SQL
    headed by with_tags)."""
    return f"/*+if tag {_string(tag)}*/{then}/*+else*/{otherwise}/*+end*/"


def each_table(tag: str, part: str) -> str:
    """The part repeated for every measurement that has the tag column `tag` at run time."""
    return f"/*+each table with tag {_string(tag)}*/ {part} /*+end*/"


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def expandable(query, mode: str | None) -> bool:
    """A call of the client's query (direct or handed to an executor): its receiver is the client that
    reads information_schema; a service wrapper's call: the wrapper expands what it sends
    (QueryPlanner.plan_wrapper). A marked call (no mode) sends nothing new."""
    return mode is not None


def expand_call(
    client: cst.BaseExpression, sql: cst.BaseExpression, database: cst.BaseExpression | None
) -> cst.Call:
    """`_influxdb3_expand(client, sql, database)`: the SQL with its run-time parts filled."""
    args = [cst.Arg(client), cst.Arg(sql)] + ([cst.Arg(database)] if database is not None else [])
    return cst.Call(cst.Name(EXPAND), _commas(args))


def _commas(args: list[cst.Arg]) -> list[cst.Arg]:
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    return [a.with_changes(comma=comma) for a in args[:-1]] + args[-1:]
