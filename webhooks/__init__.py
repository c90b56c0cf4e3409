"""The HTTP edge and composition root: app, channels, security, CLI."""
