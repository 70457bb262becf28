"""The training loop: it learns, it is deterministic, it is quiet when asked; multi-seed summaries."""

from __future__ import annotations

import math
import statistics

import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import TensorDataset

from lightattn_ref.data import digits
from lightattn_ref.train import History, evaluate, multi_seed, train


def tiny_cnn(seed: int = 0) -> nn.Module:
    """(N, 1, 8, 8) -> (N, 10) logits; about 3.8k parameters, ~96 % on the digits in 2 epochs."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
    )


@pytest.fixture(scope="module")
def data() -> tuple[TensorDataset, TensorDataset]:
    return digits(seed=0)


def test_loss_decreases_and_the_model_learns(data: tuple[TensorDataset, TensorDataset]) -> None:
    train_data, test_data = data
    model = tiny_cnn()
    history = train(model, train_data, test_data, epochs=2, batch_size=32, lr=0.05, progress=False)
    assert len(history.train_loss) == len(history.train_acc) == len(history.test_acc) == len(history.seconds) == 2
    assert history.train_loss[1] < 0.5 * history.train_loss[0] < 0.5 * math.log(10)  # log 10: chance level
    assert history.train_acc[1] > history.train_acc[0]
    assert history.test_acc[-1] > 0.85  # chance is 0.1
    assert history.test_acc[-1] == evaluate(model, test_data)  # the history reports the final model
    assert model.training  # left in train mode, as documented


def test_same_seed_same_history_other_seed_other_history(data: tuple[TensorDataset, TensorDataset]) -> None:
    train_data, test_data = data
    runs = [(tiny_cnn(), seed) for seed in (7, 7, 8)]  # same initial weights; only the loop's seed differs
    histories = [train(m, train_data, test_data, epochs=2, lr=0.05, seed=s, progress=False) for m, s in runs]
    assert histories[0] == histories[1]  # == ignores wall time
    assert histories[0].seconds != [] and histories[0].train_loss == histories[1].train_loss
    for p, q in zip(runs[0][0].parameters(), runs[1][0].parameters()):
        assert torch.equal(p, q)
    assert histories[0] != histories[2]  # the seed does change the data order


def test_adam_and_training_without_test_data(data: tuple[TensorDataset, TensorDataset]) -> None:
    history = train(tiny_cnn(), data[0], epochs=1, lr=0.01, optimizer="adam", progress=False)
    assert history.test_acc == [] and len(history.train_loss) == 1 and history.train_loss[0] < math.log(10)
    with pytest.raises(ValueError, match="optimizer"):
        train(tiny_cnn(), data[0], epochs=1, optimizer="lbfgs", progress=False)


def test_progress_false_prints_nothing_and_true_shows_a_bar(capfd: pytest.CaptureFixture[str]) -> None:
    small = TensorDataset(torch.rand(64, 1, 8, 8), torch.randint(10, (64,)))
    train(tiny_cnn(), small, small, epochs=2, batch_size=16, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    train(tiny_cnn(), small, small, epochs=2, batch_size=16, progress=True)
    out, err = capfd.readouterr()
    assert "8/8" in out + err  # 2 epochs x 4 batches, tqdm's counter


class AlwaysClass(nn.Module):
    """Predicts ``label`` for every image; one dummy parameter so the device can be found."""

    def __init__(self, label: int) -> None:
        super().__init__()
        self.label = label
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        logits = torch.zeros(len(x), 10)
        logits[:, self.label] = 1.0
        return logits + 0 * self.dummy


def test_evaluate_counts_correct_predictions_and_restores_mode() -> None:
    y = torch.tensor([3, 3, 1, 0, 3, 2, 3, 9])
    data = TensorDataset(torch.zeros(len(y), 1, 2, 2), y)
    model = AlwaysClass(3).train()
    assert evaluate(model, data, batch_size=3) == 4 / 8  # batches of 3, 3, 2
    assert model.training
    assert evaluate(AlwaysClass(5).eval(), data) == 0.0


def test_multi_seed_summarises_over_seeds() -> None:
    seen: list[int] = []

    def fn(seed: int) -> float:
        seen.append(seed)
        return 0.9 + seed / 100

    stats = multi_seed(fn, range(4))
    assert seen == [0, 1, 2, 3] and stats.seeds == (0, 1, 2, 3)
    assert stats.values == pytest.approx((0.90, 0.91, 0.92, 0.93))
    assert stats.mean == pytest.approx(0.915)
    assert stats.std == pytest.approx(statistics.stdev([0.90, 0.91, 0.92, 0.93]))  # sample std, n - 1
    assert (stats.min, stats.max) == pytest.approx((0.90, 0.93))
    assert str(stats) == "0.9150 ± 0.0129 (min 0.9000, max 0.9300, n=4)"
    assert math.isnan(multi_seed(fn, [5]).std)  # one run says nothing about the spread
    with pytest.raises(ValueError, match="at least one seed"):
        multi_seed(fn, [])


def test_history_equality_ignores_only_time() -> None:
    a = History([1.0], [0.5], [0.4], [1.0])
    assert a == History([1.0], [0.5], [0.4], [9.0])
    assert a != History([1.0], [0.5], [0.41], [1.0])


def test_reestimate_batchnorm_averages_over_the_data() -> None:
    from torch.utils.data import TensorDataset

    from lightattn_ref.train import reestimate_batchnorm

    torch.manual_seed(0)
    x = 3.0 + 2.0 * torch.randn(64, 4, 5, 5)
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(4, momentum=0.01))
    reestimate_batchnorm(model, TensorDataset(x, torch.zeros(64)), batch_size=16)
    bn = model[0]
    assert not model.training and bn.momentum == 0.01
    torch.testing.assert_close(bn.running_mean, x.mean(dim=(0, 2, 3)), rtol=1e-5, atol=1e-5)
    # the average of per-batch unbiased variances: close to, not equal to, the pooled variance
    assert torch.allclose(bn.running_var, x.var(dim=(0, 2, 3)), rtol=0.05)


def test_train_leaves_the_callers_random_stream_alone(data: tuple[TensorDataset, TensorDataset]) -> None:
    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(64, 10))  # dropout draws numbers
    small = TensorDataset(*data[0][:64])
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(model, small, epochs=1, progress=False, seed=5)
    assert torch.equal(torch.rand(3), expected)
