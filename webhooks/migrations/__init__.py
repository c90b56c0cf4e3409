"""Alembic migrations; ``haat db upgrade`` (and ``haat serve``) apply them."""
