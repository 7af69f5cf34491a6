"""Citizen and staff channels, one folder each: web widget, partner REST, Telegram, WhatsApp, Matrix, console."""
