"""Text formats every output shares: CSV safe for spreadsheets, YAML and JSON that load back exactly."""

from __future__ import annotations

import csv
import io
import json

import yaml

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """Keep spreadsheet apps from reading corpus text as a formula (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def unsafe_cell(value: str) -> str:
    """Undo :func:`safe_cell` when reading our own CSV back."""
    if value.startswith("'") and value[1:2] in _FORMULA_START:
        return value[1:]
    return value


def csv_text(columns: list[str] | None, rows: list[list[object]]) -> str:
    """CSV of ``rows`` under a header of ``columns`` (None: rows only, to append to a file)."""
    buf = io.StringIO()
    # CRLF rows (RFC 4180): the writer then quotes any cell holding \r or \n, which a
    # "\n" terminator would leave bare, so a stray \r in a title cannot split a row.
    w = csv.writer(buf, lineterminator="\r\n")
    if columns is not None:
        w.writerow(columns)
    for row in rows:
        w.writerow([safe_cell(v) for v in row])
    return buf.getvalue()


# libyaml's emitter where PyYAML was built with it: 10x faster on a 1,000-topic taxonomy.yaml.
class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    pass


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # YAML reads NEL/LS/PS as line breaks and folds them inside plain or single-quoted
    # scalars; only double quotes escape them, so force those to round-trip exactly.
    style = '"' if any(ch in data for ch in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def yaml_text(data: object) -> str:
    """YAML that loads back (``yaml.safe_load``) to exactly ``data``, whatever its strings hold."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def json_text(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
