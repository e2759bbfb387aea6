"""Stand-ins for the product's outer parts, for tests that run without them (no Chromium)."""

from .http_browser import USER_AGENT, Counts, HttpBrowser

__all__ = ["USER_AGENT", "Counts", "HttpBrowser"]
