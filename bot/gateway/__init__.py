"""App wiring only: the FastAPI app factory, health, security headers, embedded Redis, startup.

The gateway is the top layer: it imports connectors, actions and the bot's capabilities and wires
them together; nothing below imports it (enforced by import-linter, see README "Architecture").
"""
