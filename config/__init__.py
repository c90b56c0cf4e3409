"""Settings from the environment and the demo shop YAML."""
