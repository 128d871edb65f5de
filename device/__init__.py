"""Adapters to the box's hardware: each turns hardware into core Actions and has a fake."""

from earmark.device.inputs import Inputs, build_inputs
from earmark.device.light import LightState, StatusLight
from earmark.device.permissions import permission_advice

__all__ = ["Inputs", "LightState", "StatusLight", "build_inputs", "permission_advice"]
