"""WhatsApp channel (WhatsApp Business Cloud API webhook)."""
