"""Channel adapters (Twilio, WhatsApp Cloud API, simulator) and their registry."""
