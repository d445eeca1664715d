"""The named functions YAML declarations refer to, complete however the schema is loaded.

Derive rules (`derive:`), benefit calculators (`calculator:`) and workflow effects (`effects:`) are
registered by decorators in the modules that provide them. Effects live in several modules (funds:
care, certificates, reserve; cases: reviews), so this module imports each provider explicitly: the
schema loads with every effect known without importing casework.engine (before, loading it after
importing only casework.funds.care failed with "效果 issue_certificate 不存在").
"""
import schema

from casework.core import derive
from casework.cases import benefits
from casework.funds import care
# each import below registers its effects in care.EFFECTS; a new provider is added here
from casework.funds import certificates, reserve  # noqa: F401
from casework.cases import reviews  # noqa: F401

EFFECTS = care.EFFECTS


def effect_names():
    return EFFECTS.names()


def load(root=schema.HERE):
    """Compile the schema folder with every derive rule, calculator and effect known."""
    return schema.load(root, derive.names(), benefits.names(), effect_names())
