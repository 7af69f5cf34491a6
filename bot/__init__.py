"""Conversation core: settings, CLI, gateway app factory (the Rasa project lives here later)."""
