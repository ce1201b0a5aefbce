"""Dates of papers: the date fields corpora carry, and the month an arXiv id was issued in."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from email.utils import parsedate_to_datetime

_ISO = re.compile(
    r"^(\d{4})(?:[-/](\d{1,2})(?:[-/](\d{1,2}))?)?"
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|UTC|[+-]\d{2}:?\d{2})?)?$"
)
_ARXIV_NEW = re.compile(r"^(?:arxiv:)?(\d{2})(\d{2})\.\d{4,5}(?:v\d+)?$", re.IGNORECASE)
_ARXIV_OLD = re.compile(r"^(?:arxiv:)?[a-z\-]+(?:\.[A-Z]{2})?/(\d{2})(\d{2})\d{3}(?:v\d+)?$")


def parse_date(value: object) -> date | None:
    """The calendar date in a record's date field; ``None`` when absent or empty.

    Accepts ISO 8601 (``2025-03-18``, ``2025-03``, ``2025``, with or without a time),
    ``2025/03/18``, RFC 2822 as arXiv's API writes it (``Mon, 2 Apr 2007 19:18:42 GMT``),
    a year as an integer, and date/datetime objects (Parquet). Raises ``ValueError``
    for text or numbers that are no date, ``TypeError`` for other types.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise TypeError(f"got {value!r}")
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (int, float)):
        if float(value).is_integer() and 1000 <= value <= 9999:
            return date(int(value), 1, 1)
        raise ValueError(f"got the number {value!r}")
    if not isinstance(value, str):
        raise TypeError(f"got {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    m = _ISO.match(text)
    if m:
        y, mo, d = int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1)
        try:
            return date(y, mo, d)
        except ValueError as err:
            raise ValueError(f"got {text[:40]!r} ({err})") from None
    try:
        return parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"got {text[:40]!r}") from None


def arxiv_id_date(doc_id: str) -> date | None:
    """First day of the month an arXiv id was issued in (``2503.01234`` -> 2025-03-01), or None."""
    m = _ARXIV_NEW.match(doc_id.strip())
    if m:
        yy, mm = int(m.group(1)), int(m.group(2))
        return date(2000 + yy, mm, 1) if 1 <= mm <= 12 and (yy, mm) >= (7, 4) else None
    m = _ARXIV_OLD.match(doc_id.strip())
    if m:
        yy, mm = int(m.group(1)), int(m.group(2))
        return date((1900 if yy >= 91 else 2000) + yy, mm, 1) if 1 <= mm <= 12 else None
    return None
