"""Telegram channel (Bot API webhook)."""
