"""Exercise checks for the ULSAM chapter (notebooks/05_ulsam.ipynb).

Both checks compare a reader's function with the book's equations on random inputs of several
shapes (always non-square, so a wrong axis cannot hide) and, when the answer is wrong, name the
typical mistake it matches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ._common import as_tensor, call_answer, close as _close_default, reader_check

__all__: list[str] = ["check_subspace_softmax", "check_ulsam_output"]

# (N, G, H, W) for the softmax check; (N, C, G, H, W) for the output check. H != W on purpose,
# and C / G >= 2, so that "the map of the wrong subspace" and "one map for all" can be told apart.
_SOFTMAX_SHAPES: tuple[tuple[int, int, int, int], ...] = ((2, 4, 5, 7), (1, 2, 9, 6), (3, 8, 4, 11))
_OUTPUT_SHAPES: tuple[tuple[int, int, int, int, int], ...] = (
    (2, 8, 4, 5, 7),
    (1, 6, 2, 9, 6),
    (3, 16, 8, 4, 3),
)


def close(a: Tensor, b: Tensor) -> bool:
    # softmax maps are small numbers (about 1 / (H W)): a tighter tolerance than the other checks
    return _close_default(a, b, atol=1e-6, rtol=1e-5)


def reference_subspace_softmax(u: Tensor) -> Tensor:
    """Eq. ulsam-softmax: softmax of scores u (N, G, H, W) over all H*W positions of each map."""
    n, g, h, w = u.shape
    return torch.softmax(u.reshape(n, g, h * w), dim=2).reshape(n, g, h, w)


def reference_ulsam_output(x: Tensor, maps: Tensor) -> Tensor:
    """Eq. ulsam-out: y = m_g * x_g + x_g, map g shared by the C/G consecutive channels of subspace g."""
    n, c, h, w = x.shape
    g = maps.shape[1]
    x_sub = x.reshape(n, g, c // g, h, w)
    return (maps[:, :, None] * x_sub + x_sub).reshape(n, c, h, w)


@reader_check
def check_subspace_softmax(fn: Callable[[Tensor], Tensor]) -> None:
    """Check a reader's ``fn(u) -> maps``: the softmax of ULSAM's scores over all H*W positions.

    Args:
        fn: takes scores ``u`` of shape (N, G, H, W) (one score map per subspace) and returns
            the maps m of the same shape, each of which sums to 1 over its H*W positions
            (eq. ulsam-softmax).

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it
    is not, naming the mistake: a softmax over H only (columns sum to 1), over W only (rows sum
    to 1) or over the subspaces/channels (each position sums to 1 over G).
    """
    for seed, shape in enumerate(_SOFTMAX_SHAPES):
        n, g, h, w = shape
        gen = torch.Generator().manual_seed(100 + seed)
        u = 2.0 * torch.randn(shape, generator=gen)
        expected = reference_subspace_softmax(u)
        got = as_tensor(call_answer(fn, u.clone()), shape, "fn(u)")
        if got.shape != u.shape:
            raise AssertionError(
                f"fn(u) returned shape {tuple(got.shape)} for u of shape {shape}: the maps must keep "
                f"the shape (N, G, H, W) of the scores."
            )
        if close(got, expected):
            continue
        if close(got, torch.softmax(u, dim=2)):
            raise AssertionError(
                "Each column of your map sums to 1: that is a softmax over H only (the seed blog's "
                "wording), but ULSAM normalises over all H*W positions so that the whole map sums to 1."
            )
        if close(got, torch.softmax(u, dim=3)):
            raise AssertionError(
                "Each row of your map sums to 1: that is a softmax over W only, but ULSAM normalises "
                "over all H*W positions so that the whole map sums to 1."
            )
        if close(got, torch.softmax(u, dim=1)):
            raise AssertionError(
                "Your maps sum to 1 at each position across the G subspaces: that is a softmax over "
                "the channel axis, but ULSAM normalises each subspace's map over its H*W positions."
            )
        total = float(got.sum(dim=(2, 3)).mean())
        raise AssertionError(
            f"For scores of shape {shape} your maps differ from the softmax over all H*W positions "
            f"(they sum to {total:.4g} per map instead of 1, max difference "
            f"{float((got - expected).abs().max()):.3g})."
        )
    print(f"Correct: each map is a softmax over all H*W positions for {len(_SOFTMAX_SHAPES)} random shapes.")


@reader_check
def check_ulsam_output(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check a reader's ``fn(x, maps) -> y``: ULSAM's output, eq. ulsam-out.

    Args:
        fn: takes x of shape (N, C, H, W) and maps of shape (N, G, H, W) and returns
            y = m_g * x_g + x_g for every subspace g, where subspace g holds the C/G consecutive
            channels g*C/G ... (g+1)*C/G - 1 and all of them are scaled by the same map m_g.

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it
    is not, naming the mistake: the forgotten residual (+ x), x + map instead of map * x + x,
    the map of the wrong subspace
    (tiled with ``repeat`` instead of chunked), one map for all subspaces, or a map that is not
    shared by the channels of its subspace.
    """
    for seed, (n, c, g, h, w) in enumerate(_OUTPUT_SHAPES):
        gen = torch.Generator().manual_seed(200 + seed)
        x = torch.randn(n, c, h, w, generator=gen)
        x = x + 0.5 * x.sign()  # |x| >= 0.5, so y / x is well defined
        maps = reference_subspace_softmax(3.0 * torch.randn(n, g, h, w, generator=gen))
        expected = reference_ulsam_output(x, maps)
        got = as_tensor(call_answer(fn, x.clone(), maps.clone()), (n, c, h, w), "fn(x, maps)")
        if got.shape != x.shape:
            raise AssertionError(
                f"fn(x, maps) returned shape {tuple(got.shape)} for x of shape {(n, c, h, w)}: ULSAM "
                f"keeps the shape of x."
            )
        if close(got, expected):
            continue
        sub = c // g
        x_sub = x.reshape(n, g, sub, h, w)
        if close(got, (maps[:, :, None] * x_sub).reshape(n, c, h, w)):
            raise AssertionError(
                "You returned map * x and forgot the residual: ULSAM's output is map * x + x, so a "
                "map of zeros leaves x unchanged instead of erasing it."
            )
        if close(got, x * (1 + maps.repeat(1, sub, 1, 1))):
            raise AssertionError(
                f"Channel i uses map i % G (maps tiled with repeat), but subspaces are consecutive "
                f"chunks along C: channel i belongs to subspace i // (C/G), e.g. channels 0..{sub - 1} "
                f"share map 0."
            )
        if close(got, x * (1 + maps[:, :1])):
            raise AssertionError(
                "Every channel uses the first map: each of the G subspaces has its own map, shared only "
                "by that subspace's C/G channels."
            )
        if close(got, (x_sub + maps[:, :, None]).reshape(n, c, h, w)):
            raise AssertionError(
                "You added the map to x (x + map): ULSAM multiplies first and then adds the input, "
                "out = map * x + x."
            )
        ratio = (got.reshape(n, g, sub, h, w) / x_sub) - 1  # the map each channel was scaled by
        if not torch.allclose(ratio, ratio[:, :, :1].expand_as(ratio), rtol=1e-4, atol=1e-6):
            raise AssertionError(
                "Channels of the same subspace are scaled differently: the subspace's one map m_g must "
                "be shared by all its C/G channels (out = m_g * x_c + x_c for every channel c in it)."
            )
        raise AssertionError(
            f"For x of shape {(n, c, h, w)} and G={g} your output differs from map * x + x (max "
            f"difference {float((got - expected).abs().max()):.3g})."
        )
    print(
        f"Correct: out = map * x + x with each subspace's map shared by its channels, "
        f"for {len(_OUTPUT_SHAPES)} random shapes."
    )
