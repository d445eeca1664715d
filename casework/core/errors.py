"""Errors whose message is meant for the user, in Chinese, as is.

A view may show any `UserError`'s text without translating or hiding it; everything else is a fault.
"""
from schema import RecordInvalid


class UserError(Exception):
    """A refusal the user can act on; the message names what and why."""


class Refused(UserError):
    """A transition or action that may not happen now (wrong state, wrong role, a rule not met)."""


__all__ = ["UserError", "Refused", "RecordInvalid"]
