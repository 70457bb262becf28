"""``check_gate_summary``: a module's mean channel gate over every image a loader yields."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from ...registry import make_attention
from .._common import as_tensor, call_answer, reader_check, reject_known_mistakes


# (module name, options, C, number of images N, batch size): N is never a multiple of the batch
# size (the last batch is smaller) and C, N and the batch size all differ, so an average over the
# wrong axis or an unweighted mean of batch means cannot pass by accident.
_GATE_CASES: tuple[tuple[str, dict[str, int], int, int, int], ...] = (
    ("cbam_channel", {"reduction": 1}, 6, 50, 16),
    ("se", {"reduction": 2}, 10, 37, 8),
    ("eca", {}, 12, 23, 10),
)


def reference_gate_summary(module: nn.Module, loader: Iterable[tuple[Tensor, Tensor]]) -> Tensor:
    """Eq. learn-mean-gate: the channel gate a_c(x) averaged over all images, shape (C,)."""
    gates = []
    with torch.no_grad():
        for x, _ in loader:
            gates.append(module.attention_maps(x)["channel"].flatten(1))  # (B, C)
    return torch.cat(gates).mean(dim=0)


def _gate_case(seed: int, name: str, options: dict[str, int], c: int, n: int, batch: int) -> tuple[nn.Module, DataLoader]:
    """A module with random weights large enough to spread its gates, and a loader whose batches
    differ in brightness (so batch means differ from each other and from the overall mean)."""
    gen = torch.Generator().manual_seed(seed)
    module = make_attention(name, c, **options).eval()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(2.0 * torch.randn(p.shape, generator=gen))
    scale = torch.linspace(0.2, 3.0, n)[:, None, None, None]  # later images (and the last batch) brighter
    x = scale * torch.rand(n, c, 5, 7, generator=gen) + torch.randn(n, c, 1, 1, generator=gen)
    y = torch.randint(10, (n,), generator=gen)
    return module, DataLoader(TensorDataset(x, y), batch_size=batch)


@reader_check
def check_gate_summary(fn: Callable[[nn.Module, Iterable[tuple[Tensor, Tensor]]], Tensor]) -> None:
    """Check a reader's ``fn(module, loader) -> mean_gate``, eq. learn-mean-gate.

    Args:
        fn: takes a channel-attention module (SE, ECA or CBAM's channel gate, in eval mode) whose
            ``attention_maps(x)["channel"]`` has shape (B, C, 1, 1), and a loader that yields
            (images (B, C, H, W), labels (B,)) batches; returns the gate of each channel averaged
            over all N images, a tensor of shape (C,).

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it is
    not, naming the mistake: averaging over the channels instead of the images, an unweighted
    mean of batch means (the last batch is smaller), only the first or last batch, the gated
    output instead of the gate, or a (C, 1, 1) shape.
    """
    for seed, (name, options, c, n, batch) in enumerate(_GATE_CASES):
        module, loader = _gate_case(500 + seed, name, options, c, n, batch)
        want = reference_gate_summary(module, loader)
        got = as_tensor(call_answer(fn, module, loader), (c,)).float()
        batches = [module.attention_maps(x)["channel"].detach().flatten(1) for x, _ in loader]
        if tuple(got.shape) != (c,):
            per_image = torch.cat(batches).mean(dim=1)
            if got.numel() == n and torch.allclose(got.flatten(), per_image, atol=1e-5):
                raise AssertionError(
                    f"You averaged over the channels (dim 1) and got one number per image ({n} images): "
                    f"average over the images (dim 0) to get one number per channel, shape ({c},)."
                )
            if got.numel() == c and torch.allclose(got.flatten(), want, atol=1e-5):
                raise AssertionError(
                    f"Right numbers, wrong shape {tuple(got.shape)}: flatten the (B, C, 1, 1) gates so the "
                    f"result has shape ({c},)."
                )
            raise AssertionError(
                f"For C={c} channels and {n} images fn returned shape {tuple(got.shape)}; it must be ({c},), "
                f"one mean gate per channel."
            )
        if torch.allclose(got, want, atol=1e-5):
            continue
        with torch.no_grad():
            outputs = torch.cat([module(x).mean(dim=(2, 3)) for x, _ in loader]).mean(dim=0)
        mistakes = (
            (torch.stack([b.mean(dim=0) for b in batches]).mean(dim=0),
             f"You averaged the per-batch means without weights: the last batch holds only {n % batch} of "
             f"{n} images, so weight each batch by its size (or concatenate all gates, then average)."),
            (batches[0].mean(dim=0), "You used only the first batch: average the gates of every batch the "
                                     "loader yields."),
            (batches[-1].mean(dim=0), "You kept only the last batch: collect the gates of every batch, then "
                                      "average over all images."),
            (outputs, "You averaged the module's output a ⊙ x, not the gate a: use "
                      "module.attention_maps(x)['channel']."),
        )
        reject_known_mistakes(got, mistakes)
        raise AssertionError(
            f"For {name} with C={c} and {n} images your mean gates differ from the average of "
            f"attention_maps(x)['channel'] over all images by up to {float((got - want).abs().max()):.3g}."
        )
    print(f"Correct: one mean gate per channel over all images, for {len(_GATE_CASES)} modules and "
          f"loaders with a smaller last batch.")
