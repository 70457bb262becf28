"""``check_pool_axes``: the axes of x each gate's squeeze pools over."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from .._common import call_answer, reader_check


#: The axes of x each gate's squeeze pools over (the gate is constant along them).
POOLED_AXES: dict[str, frozenset[str]] = {
    "se": frozenset("HW"),
    "eca": frozenset("HW"),
    "cbam_channel": frozenset("HW"),
    "cbam_spatial": frozenset("C"),
    "sa_channel": frozenset("HW"),
    "sa_spatial": frozenset(),
    "ulsam": frozenset("C"),
    "coord_height": frozenset("W"),
    "coord_width": frozenset("H"),
}

# One sentence per gate, used when an answer for that gate is wrong.
_HINTS: dict[str, str] = {
    "se": "SE's gate has shape (N, C, 1, 1): its squeeze averages each channel over H and W",
    "eca": "ECA keeps SE's squeeze, a global average over H and W, so its gate has shape (N, C, 1, 1)",
    "cbam_channel": "CBAM's channel gate pools (average and maximum) over H and W, so it has shape (N, C, 1, 1)",
    "cbam_spatial": "CBAM's spatial gate takes the maximum and the mean over the channels C, so it has shape "
    "(N, 1, H, W)",
    "sa_channel": "SA's channel half averages each channel over H and W, so its gate has shape (N, C/2, 1, 1)",
    "sa_spatial": "SA's spatial half pools over no axis: GroupNorm's statistics only standardise x, and the gate "
    "keeps every channel and position (shape (N, C/2, H, W)): an empty set",
    "ulsam": "ULSAM's pointwise convolution sums over the channels of each subspace, giving one H x W map per "
    "subspace (shape (N, G, H, W)), so it pools over C",
    "coord_height": "Coordinate Attention's height gate a^h has shape (N, C, H, 1): it averages over W and keeps H",
    "coord_width": "Coordinate Attention's width gate a^w has shape (N, C, 1, W): it averages over H and keeps W",
}


def _as_axes(value: object, key: str) -> frozenset[str]:
    """An answer's axes as a set of upper-case letters; accepts a set/list/tuple of letters or a string."""
    if isinstance(value, str):
        items: Iterable[object] = [ch for ch in value if ch not in " ,"]
    elif isinstance(value, (set, frozenset, list, tuple)):
        items = value
    else:
        raise AssertionError(
            f"answer[{key!r}] must be a set of axis letters such as {{'H', 'W'}}; got {type(value).__name__}."
        )
    axes = set()
    for item in items:
        if not isinstance(item, str) or item.strip().upper() not in ("N", "C", "H", "W"):
            raise AssertionError(f"answer[{key!r}] contains {item!r}; use the axis letters 'C', 'H' and 'W'.")
        axes.add(item.strip().upper())
    return frozenset(axes)


@reader_check
def check_pool_axes(fn: Callable[[], Mapping[str, object]]) -> None:
    """Check a reader's map from each gate to the axes of x its squeeze pools over.

    Args:
        fn: takes no argument and returns the answer, a dict with the keys of ``POOLED_AXES`` ("se", "eca", "cbam_channel",
            "cbam_spatial", "sa_channel", "sa_spatial", "ulsam", "coord_height", "coord_width");
            each value is a set of axis letters from "C", "H", "W" (a list, a tuple or a string such
            as "HW" is accepted too; an empty set means the gate pools over no axis).

    Prints one line when every entry is right. Raises ``AssertionError`` with one sentence for
    the first wrong entry, saying what the gate's shape is and why.
    """
    answer = call_answer(fn)
    if not isinstance(answer, Mapping):
        raise AssertionError(f"answer must be a dict from gate name to a set of axes; got {type(answer).__name__}.")
    missing = [key for key in POOLED_AXES if key not in answer]
    if missing:
        raise AssertionError(f"answer has no entry for {', '.join(map(repr, missing))}; give one set of axes per gate.")
    unknown = [key for key in answer if key not in POOLED_AXES]
    if unknown:
        raise AssertionError(
            f"answer has unknown keys {', '.join(map(repr, unknown))}; the keys are {', '.join(POOLED_AXES)}."
        )
    for key, want in POOLED_AXES.items():
        got = _as_axes(answer[key], key)
        if "N" in got:
            raise AssertionError(
                f"answer[{key!r}] contains the batch axis N, but no module pools over it: every sample gets its own gate."
            )
        if got != want:
            raise AssertionError(f"answer[{key!r}] is wrong: {_HINTS[key]}.")
    print(f"Correct: you found the pooled axes of all {len(POOLED_AXES)} gates.")
