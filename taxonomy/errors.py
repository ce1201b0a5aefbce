"""User-facing errors: each prints as one line and maps to an exit code.

Exit codes: 0 success, 2 a usage, config, input or output problem the user
can fix, 1 an internal failure (a bug: the traceback is shown).
"""

from __future__ import annotations


class TaxonomyError(Exception):
    """A problem with what the user gave us; printed as one line, exit code 2."""

    exit_code = 2


class ConfigError(TaxonomyError):
    """A config key is unknown, mistyped or out of range."""


class InputError(TaxonomyError):
    """A corpus file cannot be read; names the file, the line or row, and why."""

    def __init__(self, path: str, reason: str, line: int | None = None, field: str | None = None):
        # Library messages (pyarrow, csv) may span lines; an error is always one line.
        reason = " ".join(reason.split())
        self.path, self.reason, self.line, self.field = str(path), reason, line, field
        where = f"{self.path}:{line}" if line is not None else self.path
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{reason}")


class OutputError(TaxonomyError):
    """The output location exists, is not writable, or escapes where it should be."""
