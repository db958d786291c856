"""The run store: the source of truth of every run, delivery and installation.

SQLAlchemy 2 over SQLite by default or PostgreSQL (`engine`), the tables (`tables`), the
queries on runs (`runs.Store`) and on intake (`intake`), and the Alembic migrations.
"""
