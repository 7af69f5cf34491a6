"""Web chat widget for citizens: demo page, static widget files and the live WebSocket (see router.py)."""
