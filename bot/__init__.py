"""The conversation core: settings, CLI and the capabilities the gateway wires together (see README "Architecture")."""
