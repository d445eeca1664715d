"""Jiuzhu's schema engine: YAML declarations → specs → peewee models → additive migration.

Public API:
    load(root, derivations)      compile a folder of YAML files into a Registry
    ModelSet(registry, db)       generate peewee models bound to a database
    make_database(url)           SQLite (WAL, foreign keys) or PostgreSQL
    plan(models) / apply(models) additive migration
"""
import os

from .loader import load
from .migrate import MigrationRefused, Plan, apply, plan
from .errors import RecordInvalid, SchemaError, StaleRecord
from .models import ModelSet, make_database

HERE = os.path.dirname(os.path.abspath(__file__))

__all__ = ["load", "ModelSet", "make_database", "plan", "apply", "Plan", "MigrationRefused",
           "SchemaError", "RecordInvalid", "StaleRecord", "HERE"]
