"""Wiring: settings, the suratbot command line and the demo (later the channel adapters and the web app)."""
