"""Fixtures for SQLite and PostgreSQL databases."""
