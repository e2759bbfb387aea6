"""One "deployment" of the fake site: build id, chunk file names and server-action ids.

Next.js rebuilds all of these on every deploy of the real site, which is why clients must discover
action ids at run time (protocol doc §6.1). ``FakeArena.redeploy()`` swaps in a new :class:`Deploy`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from .facts import ALL_ACTIONS


def _action_id() -> str:
    # 42 hex chars; the first byte encodes argument info in Next 15 (observed 40…, 60…, 70…).
    return secrets.choice(("40", "60", "70", "7f")) + secrets.token_hex(20)


def _hash() -> str:
    return secrets.token_hex(8)


@dataclass
class Deploy:
    build_id: str = field(default_factory=lambda: secrets.token_urlsafe(15))
    action_ids: dict[str, str] = field(
        default_factory=lambda: {name: _action_id() for name in ALL_ACTIONS}
    )
    #: role -> (webpack chunk id, path under /_next/)
    chunks: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {
            "webpack": ("", f"static/chunks/webpack-{_hash()}.js"),
            "framework": ("4bd1b696", f"static/chunks/4bd1b696-{_hash()}.js"),
            "main": ("", f"static/chunks/main-app-{_hash()}.js"),
            "shared": ("1684", f"static/chunks/1684-{_hash()}.js"),
            "layout": ("7177", f"static/chunks/app/layout-{_hash()}.js"),
            "page": ("9731", f"static/chunks/app/page-{_hash()}.js"),
        }
    )

    def path(self, role: str) -> str:
        return self.chunks[role][1]

    def role_of(self, path: str) -> str | None:
        """Which chunk ``static/chunks/...`` names, if it belongs to this deploy."""
        for role, (_, chunk_path) in self.chunks.items():
            if chunk_path == path:
                return role
        return None

    def action_name(self, action_id: str) -> str | None:
        for name, value in self.action_ids.items():
            if value == action_id:
                return name
        return None
