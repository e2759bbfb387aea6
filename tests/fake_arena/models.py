"""The fake model table.

Mirrors the model objects the real site embeds in its pages (``initialModels``) and serves from
``GET /nextjs-api/model-catalog`` (protocol doc §3.2): the wire field names are exact; a few extra
Python-only fields (``reasoning``) tell the fake how the model "answers" and never reach the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .facts import AUTO, CATALOG_ARENAS, CHAT, IMAGE, SEARCH, UNRANKED, VIDEO, WEBDEV


@dataclass(frozen=True)
class FakeModel:
    """One row of the site's model table."""

    id: str
    public_name: str
    name: str
    organization: str | None
    provider: str
    input_capabilities: dict[str, Any]
    output_capabilities: dict[str, Any]
    user_selectable: bool = True
    rank: int | None = None
    rank_by_modality: dict[str, int] = field(default_factory=dict)
    arenas: tuple[str, ...] = ("text",)
    display_name: str | None = None
    #: Fake-only: the model streams ``ag:`` reasoning lines before its answer.
    reasoning: bool = False
    #: Wire keys sent as JSON null (``provider``, ``organization``: protocol §15.4).
    null_fields: tuple[str, ...] = ()
    #: The row's per-account cooldown, an ISO time (protocol §15.3); None: no such key.
    rate_limited_until: str | None = None

    @property
    def accepts_images(self) -> bool:
        # inputCapabilities.image is ``true`` or an object on the site (its keys optional, so
        # even ``{}``); both mean "yes".
        value = self.input_capabilities.get("image")
        return value is True or isinstance(value, dict)

    @property
    def makes_images(self) -> bool:
        return bool(self.output_capabilities.get("image"))

    @property
    def searches(self) -> bool:
        # A boolean or an object; {"enabled": false} is off (protocol §15.4).
        value = self.output_capabilities.get("search")
        return bool(value) and not (isinstance(value, dict) and value.get("enabled") is False)

    @property
    def chats(self) -> bool:
        return bool(self.output_capabilities.get("text"))

    def modalities(self) -> set[str]:
        """Request ``modality`` values this model can serve."""
        out = {AUTO}
        if self.chats:
            out.add(CHAT)
        if self.makes_images:
            out.add(IMAGE)
        if self.searches:
            out.add(SEARCH)
        if self.output_capabilities.get("web"):
            out.add(WEBDEV)
        if self.output_capabilities.get("video"):
            out.add(VIDEO)
        return out

    def to_wire(self, *, catalog: bool = False) -> dict[str, Any]:
        """The JSON object as the site sends it (``catalog`` adds the catalog-only ``arenas``)."""
        row: dict[str, Any] = {
            "id": self.id,
            "publicName": self.public_name,
            "name": self.name,
            "displayName": self.display_name or self.public_name,
        }
        # Stealth models have no organization key at all on the site.
        if self.organization is not None:
            row["organization"] = self.organization
        row["provider"] = self.provider
        row["capabilities"] = {
            "inputCapabilities": dict(self.input_capabilities),
            "outputCapabilities": dict(self.output_capabilities),
        }
        row["userSelectable"] = self.user_selectable
        if self.rank is not None:
            row["rank"] = self.rank
        row["rankByModality"] = dict(self.rank_by_modality)
        if catalog:
            row["arenas"] = list(self.arenas)
        for key in self.null_fields:
            row[key] = None
        if self.rate_limited_until is not None:
            row["rateLimitedUntil"] = self.rate_limited_until
        return row


_TEXT_IMAGE_FILE = {"text": True, "image": True, "file": True}

DEFAULT_MODELS: tuple[FakeModel, ...] = (
    FakeModel(
        id="019a98f7-afcd-779f-8dcb-856cc3b3f078",
        public_name="gemini-3-pro",
        name="gemini-3-pro",
        organization="google",
        provider="googleVertexGlobal",
        input_capabilities=_TEXT_IMAGE_FILE,
        output_capabilities={"text": True, "web": True},
        rank=1,
        rank_by_modality={"chat": 1, "webdev": 4, "vision": 1},
        arenas=("text", "vision", "webdev", "document"),
    ),
    FakeModel(
        id="019ab4c2-5e61-7a3c-9b0e-2f6d81c4a901",
        public_name="claude-opus-4-5",
        name="claude-opus-4-5-20251101",
        organization="anthropic",
        provider="anthropic",
        input_capabilities={"text": True, "image": {"multipleImages": True}, "file": True},
        output_capabilities={"text": True, "web": True},
        rank=2,
        rank_by_modality={"chat": 2, "webdev": 1, "vision": 3},
        arenas=("text", "vision", "webdev", "code"),
    ),
    FakeModel(
        id="019ab4c2-9d10-7e44-8f3a-6c1be2d90a77",
        public_name="claude-opus-4-5-thinking-32k",
        name="claude-opus-4-5-20251101-thinking-32k",
        organization="anthropic",
        provider="anthropic",
        input_capabilities={"text": True, "image": True},
        output_capabilities={"text": True},
        rank=3,
        rank_by_modality={"chat": 3, "vision": 4},
        arenas=("text", "vision"),
        reasoning=True,
    ),
    # Two rows share one publicName (an older and a newer checkpoint), as on the real site.
    FakeModel(
        id="019a7f10-2b3c-7d4e-a5f6-0718293a4b5c",
        public_name="gpt-5.1-high",
        name="gpt-5.1-high",
        organization="openai",
        provider="openai",
        input_capabilities={"text": True, "image": True},
        output_capabilities={"text": True},
        rank=4,
        rank_by_modality={"chat": 4, "vision": 2},
        arenas=("text", "vision"),
    ),
    FakeModel(
        id="019ac1d3-4e5f-7a60-b172-8394a5b6c7d8",
        public_name="gpt-5.1-high",
        name="gpt-5.1-high-2025-11-20",
        organization="openai",
        provider="openai",
        input_capabilities={"text": True, "image": True},
        output_capabilities={"text": True},
        rank=4,
        rank_by_modality={"chat": 4, "vision": 2},
        arenas=("text", "vision"),
    ),
    FakeModel(
        id="019a5e21-7c8d-79ea-8b0c-1d2e3f405162",
        public_name="gemini-3-pro-image-preview",
        name="gemini-3-pro-image-preview",
        organization="google",
        provider="googleVertexGlobal",
        input_capabilities={
            "text": True,
            "image": {"requiresUpload": False, "multipleImages": True},
        },
        output_capabilities={"image": {"aspectRatios": ["1:1"]}},
        rank=1,
        rank_by_modality={"image": 1},
        arenas=("text-to-image", "image-edit"),
    ),
    FakeModel(
        id="019a9b00-1a2b-7c3d-9e4f-5a6b7c8d9e0f",
        public_name="gemini-3-pro-grounding",
        name="gemini-3-pro-grounding",
        organization="google",
        provider="googleVertexGlobal",
        input_capabilities={"text": True},
        output_capabilities={"text": True, "search": True},
        rank=1,
        rank_by_modality={"search": 1},
        arenas=("search",),
    ),
    # An old row: UUIDv4 id, text only (no image input), no overall rank.
    FakeModel(
        id="dcbd7897-5a37-4a34-93f1-76a24c7bb028",
        public_name="llama-3.3-70b-instruct",
        name="llama-3.3-70b-instruct",
        organization="meta",
        provider="fireworks",
        input_capabilities={"text": True},
        output_capabilities={"text": True},
        rank=None,
        rank_by_modality={"chat": 61, "webdev": UNRANKED},
        arenas=("text",),
    ),
    # A stealth model: no organization, battle-only (not user selectable).
    FakeModel(
        id="019ac7e8-0f1e-7d2c-8b3a-495867a8b9c0",
        public_name="riftrunner",
        name="riftrunner",
        organization=None,
        provider="stealth",
        input_capabilities={"text": True, "image": True},
        output_capabilities={"text": True},
        user_selectable=False,
        rank=None,
        rank_by_modality={"chat": UNRANKED},
        arenas=("text",),
    ),
)

#: Models the site of Sep-Oct 2026 lists in its catalog besides the above (protocol §14.4): one
#: that only builds web apps (Code Arena, agentic answers) and one that only makes videos.
WEBDEV_ONLY = FakeModel(
    id="019b2a10-3c4d-7e5f-8a6b-7c8d9e0f1a2b",
    public_name="webdev-agent-x",
    name="webdev-agent-x-2026-09",
    organization="acme",
    provider="acme",
    input_capabilities={"text": True},
    output_capabilities={"web": True},
    rank=None,
    rank_by_modality={"webdev": 2},
    arenas=("webdev",),
)
VIDEO_ONLY = FakeModel(
    id="019b2a10-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
    public_name="veo-4-preview",
    name="veo-4-preview",
    organization="google",
    provider="googleVertexGlobal",
    input_capabilities={"text": True, "image": True},
    output_capabilities={"video": {"durations": [8]}},
    rank=None,
    rank_by_modality={"video": 1},
    arenas=("text-to-video",),
)
#: The model table of ``FakeArena(catalog_2026=True)`` unless ``models`` says otherwise.
MODELS_2026: tuple[FakeModel, ...] = (*DEFAULT_MODELS, WEBDEV_ONLY, VIDEO_ONLY)


def _text_model(model_id: str, name: str, **changes: Any) -> FakeModel:
    values: dict[str, Any] = {
        "id": model_id,
        "public_name": name,
        "name": name,
        "organization": "acme",
        "provider": "acme",
        "input_capabilities": {"text": True},
        "output_capabilities": {"text": True},
        "rank_by_modality": {"chat": 40},
    }
    values.update(changes)
    return FakeModel(**values)


#: Rows of the site of Aug-Oct 2026 (protocol §15.4): selectable rows whose provider or
#: organization is null (the site's own picker drops them), and a model whose search
#: capability is an object that says it is off (a plain text model).
NO_PROVIDER = _text_model(
    "019b3c20-1a2b-7c3d-8e4f-5a6b7c8d9e01", "orphan-provider-x", null_fields=("provider",)
)
NO_ORGANIZATION = _text_model(
    "019b3c20-1a2b-7c3d-8e4f-5a6b7c8d9e02", "orphan-organization-x", null_fields=("organization",)
)
SEARCH_OFF = _text_model(
    "019b3c20-1a2b-7c3d-8e4f-5a6b7c8d9e03",
    "quiet-search-x",
    output_capabilities={"text": True, "search": {"enabled": False}},
)
#: The model table of ``FakeArena(models_2026_10=True)`` unless ``models`` says otherwise.
MODELS_2026_10: tuple[FakeModel, ...] = (*MODELS_2026, NO_PROVIDER, NO_ORGANIZATION, SEARCH_OFF)


__all__ = [
    "CATALOG_ARENAS",
    "DEFAULT_MODELS",
    "MODELS_2026",
    "MODELS_2026_10",
    "UNRANKED",
    "FakeModel",
]
