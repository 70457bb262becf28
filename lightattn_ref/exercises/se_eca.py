"""Exercise checks for the se_eca chapter."""

from __future__ import annotations

__all__: list[str] = []
