"""Exercise checks for the anatomy chapter."""

from __future__ import annotations

__all__: list[str] = []
