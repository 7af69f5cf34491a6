"""Handing a conversation to staff: the queue and claim service, teams, office hours."""
