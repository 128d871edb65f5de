"""Sync with the home over MQTT: the outbox relay, state and commands."""
