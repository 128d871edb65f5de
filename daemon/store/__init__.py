"""SQLite, the source of truth on the box."""
