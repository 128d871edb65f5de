"""Adapters to the box's hardware: each turns hardware into core Actions and has a fake."""
