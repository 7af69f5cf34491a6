"""The product's wording: every text citizens and staff read, in `wording.texts`.

A package of its own at the bottom of the import layers (README "Architecture"): the knowledge
engine, the bot, the actions and the channels all import it, and it imports nothing of ours.
"""
