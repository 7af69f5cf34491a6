"""Turn handling: one citizen message in, the bot's replies out (Rasa, or degraded mode without it).

Kept apart from the conversation record (`bot.conversation`) because turn handling uses the handoff
service, which itself reads and writes conversations: one package for both would import in a circle.
"""
