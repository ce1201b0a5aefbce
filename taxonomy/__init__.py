"""taxonomy: named, multi-level topic taxonomies and interactive maps of research abstracts."""

__version__ = "0.1.0"
