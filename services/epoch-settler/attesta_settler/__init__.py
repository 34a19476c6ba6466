"""Attesta epoch settler: projects every record into Postgres and settles finished epochs."""
