"""Typed errors that carry a Chinese message for the user and a stable code for programs."""
from __future__ import annotations


class PolicyError(ValueError):
    code = "policy_error"

    def __init__(self, message_zh: str, *, code: str | None = None):
        super().__init__(message_zh)
        self.message_zh = message_zh
        if code:
            self.code = code


class UnknownProgramError(PolicyError):
    code = "unknown_program"


class InvalidFactError(PolicyError):
    code = "invalid_fact"


class MoneyParseError(InvalidFactError):
    code = "invalid_number"


class InvalidInputError(PolicyError):
    code = "invalid_input"
