"""Partner REST channel (API keys)."""
