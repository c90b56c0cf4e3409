"""Conversation logic: channel-neutral, imports catalog, payments and config only."""
