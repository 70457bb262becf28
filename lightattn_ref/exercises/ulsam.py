"""Exercise checks for the ulsam chapter."""

from __future__ import annotations

__all__: list[str] = []
