"""Intent engines (built-in classifier, Rasa over HTTP) behind one protocol."""
