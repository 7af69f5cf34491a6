"""Custom rasa_sdk actions, served by the gateway: thin wrappers that ask `knowledge` and return a typed reply."""
