"""Exercise checks for the cbam chapter."""

from __future__ import annotations

__all__: list[str] = []
