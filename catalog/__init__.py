"""Pure shop domain: money, the YAML schema and loader, product search and the cart."""
