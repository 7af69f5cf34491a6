"""Custom rasa_sdk actions: thin wrappers that call `knowledge` and `bot` (dialogue issue)."""
