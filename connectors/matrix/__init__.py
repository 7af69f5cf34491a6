"""Matrix channel (a bot user syncing with its homeserver via matrix-nio)."""
