"""Citizen and staff channels: web widget, REST, messengers, console (channels issue)."""
