"""Playback on mpv."""
