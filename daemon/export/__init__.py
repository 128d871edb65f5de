"""Exports: highlights go where people keep their notes (a Markdown vault,
Readwise, Notion), automatically and exactly once; and the whole archive as
JSON, CSV or Markdown, which a new box can import."""
