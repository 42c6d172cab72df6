"""Persistence (SQLAlchemy 2 + Alembic); imported by the authority and collector only."""

from smartlic.storage.engine import make_engine, normalise_url
from smartlic.storage.migrate import check, upgrade

__all__ = ["check", "make_engine", "normalise_url", "upgrade"]
