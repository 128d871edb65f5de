"""The companion web dashboard (to come: see DESIGN.md)."""
