"""earmark: a headless podcast speaker that remembers what mattered."""

__version__ = "0.1.0"
