"""The storage engine: group commit on SQLite, a pool on PostgreSQL, amounts of any size."""
