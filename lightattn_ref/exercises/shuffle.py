"""Exercise checks for the shuffle chapter."""

from __future__ import annotations

__all__: list[str] = []
