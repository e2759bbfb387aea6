"""The site's schema-check refusals: the issues of a ZodError body, in any shape seen (§8.1).

A 400 with a ZodError means the site's protocol changed under us: the issues name the fields,
which is what a user (or a maintainer) needs to read in the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .decode import loads


def zod_issues(data: Any) -> list[dict[str, Any]] | None:
    """The issues of a ZodError body in any of the shapes seen, or None when it is not one."""
    error = data.get("error") if isinstance(data, dict) else None
    candidates = [error, data]
    if isinstance(error, dict):
        candidates.insert(0, error.get("issues"))
        message = error.get("message")
        if isinstance(message, str):  # zod's own message is the issues as a JSON string
            candidates.append(loads(message))
    if isinstance(error, str):
        candidates.append(loads(error))
    for candidate in candidates:
        if isinstance(candidate, dict):
            candidate = candidate.get("issues")
        if (
            isinstance(candidate, list)
            and candidate
            and all(isinstance(i, dict) and "path" in i for i in candidate)
        ):
            return candidate
    return None


def describe_issue(issue: Mapping[str, Any]) -> str:
    """One zod issue as ``field a.b: message`` for the user's message."""
    path = issue.get("path")
    parts = [str(p) for p in path] if isinstance(path, list) else []
    field = ".".join(parts) or "(the whole body)"
    return f"field {field}: {issue.get('message') or issue.get('code') or 'invalid'}"
