"""Secrets out of what the grader shows: messages, evidence and logged tracebacks."""

from __future__ import annotations


def redact(value, secrets: list[str]):
    """`value` (str / dict / list) with every secret replaced by '***'."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {redact(str(k), secrets): redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secrets) for v in value]
    return value
