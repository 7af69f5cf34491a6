"""The conversation record: Redis store, events, privacy (redaction, export, deletion).

The lowest capability of the bot: turn handling, handoff, the event log and every connector build on it.
"""
