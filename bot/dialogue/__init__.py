"""The Rasa 3.6 project (config, domain, NLU data, rules, stories) and the supervisor of its process."""
