"""Conversation flows; each module has a Mermaid diagram beside it."""
