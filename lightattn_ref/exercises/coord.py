"""Exercise checks for the coord chapter."""

from __future__ import annotations

__all__: list[str] = []
