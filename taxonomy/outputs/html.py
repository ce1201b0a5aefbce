"""The one Jinja environment of every page we write (autoescaped: titles are untrusted text)."""

from __future__ import annotations

from importlib import resources

from jinja2 import Environment, PackageLoader, select_autoescape


def environment() -> Environment:
    """Templates of ``taxonomy/outputs/templates``, HTML-escaped by default."""
    return Environment(
        loader=PackageLoader("taxonomy.outputs", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
    )


def static_text(name: str) -> str:
    """A JS or CSS file of the templates folder, to inline into a page."""
    return (resources.files("taxonomy.outputs") / "templates" / name).read_text(encoding="utf-8")
