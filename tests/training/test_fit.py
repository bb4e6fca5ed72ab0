"""fit, evaluate and predict on a toy problem: two separable blobs in the plane."""
import types

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn
from tapegrad.data import DataLoader, TensorDataset
from tapegrad.optim.lr_scheduler import OneCycleLR, ReduceLROnPlateau, StepLR
from tapegrad.training import History, accuracy, evaluate, fit, predict


class MLP(nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.hidden = nn.Linear(2, hidden)
        self.out = nn.Linear(hidden, 2)

    def forward(self, x):
        return self.out(self.hidden(x).relu())


def cross_entropy(logits, target):
    """The mean of -log softmax(logits)[target] (what nn.CrossEntropyLoss computes)."""
    return -logits.log_softmax(1).gather(1, target.unsqueeze(1)).mean()


def blobs(n=120, seed=0):
    """Class 0 around (-2, -2), class 1 around (2, 2): separable."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    points = rng.normal(size=(n, 2)) * 0.7 + np.where(labels[:, None] == 1, 2.0, -2.0)
    return tg.tensor(points.astype(np.float32)), tg.tensor(labels)


@pytest.fixture
def toy():
    tg.manual_seed(0)
    x, y = blobs()
    train = DataLoader(TensorDataset(x[:96], y[:96]), batch_size=16, shuffle=True)
    val = DataLoader(TensorDataset(x[96:], y[96:]), batch_size=10)
    return types.SimpleNamespace(x=x, y=y, train=train, val=val, model=MLP())


def sgd(model, lr=0.1):
    return tg.optim.SGD(model.parameters(), lr=lr)


# -- training ----------------------------------------------------------------------------------
def test_fit_lowers_the_loss_and_fills_the_history(toy):
    history = fit(toy.model, toy.train, cross_entropy, sgd(toy.model), epochs=4,
                  val_loader=toy.val, metrics={"accuracy": accuracy}, progress=False)
    assert isinstance(history, History)
    assert list(history) == ["loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"]
    assert all(len(values) == 4 for values in history.values())
    assert history.epochs == [1, 2, 3, 4]
    assert history["loss"][-1] < history["loss"][0] / 2
    assert history["val_accuracy"][-1] == 1.0
    assert history["lr"] == [0.1] * 4
    assert all(seconds > 0 for seconds in history["time"])


def test_without_a_val_loader_the_history_has_no_val_entries(toy):
    history = fit(toy.model, toy.train, cross_entropy, sgd(toy.model), epochs=2,
                  metrics=["accuracy"], progress=False)
    assert sorted(history) == ["accuracy", "loss", "lr", "time"]


def test_zero_epochs_give_an_empty_history(toy):
    history = fit(toy.model, toy.train, cross_entropy, sgd(toy.model), epochs=0)
    assert history == {} and history.epochs == []


def test_the_epoch_loss_is_the_mean_over_samples_with_batches_weighted_by_size(toy):
    # lr = 0 leaves the weights alone, so every batch sees the same model
    loader = DataLoader(TensorDataset(toy.x[:10], toy.y[:10]), batch_size=4)  # 4, 4, 2
    history = fit(toy.model, loader, cross_entropy, sgd(toy.model, lr=0.0), epochs=1,
                  metrics=[accuracy], progress=False)
    with tg.no_grad():
        logits = toy.model(toy.x[:10])
        expected = cross_entropy(logits, toy.y[:10]).item()
    assert history["loss"][0] == pytest.approx(expected, rel=1e-6)
    assert history["accuracy"][0] == pytest.approx(accuracy(logits, toy.y[:10]))


def test_a_batch_of_several_inputs_calls_the_model_with_all_but_the_target(toy):
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(1, 2), nn.Linear(1, 2)

        def forward(self, x1, x2):
            return self.a(x1) + self.b(x2)

    model = TwoInputs()
    loader = DataLoader(TensorDataset(toy.x[:, :1], toy.x[:, 1:], toy.y), batch_size=32)
    history = fit(model, loader, cross_entropy, sgd(model, 0.5), epochs=3, progress=False)
    assert history["loss"][-1] < history["loss"][0]
    assert predict(model, loader).shape == (120, 2)


def test_clip_grad_norm_bounds_each_step(toy):
    before = tg.nn.utils.parameters_to_vector(toy.model.parameters()).detach().clone()
    loader = DataLoader(TensorDataset(toy.x, toy.y), batch_size=120)
    fit(toy.model, loader, cross_entropy, sgd(toy.model, lr=1.0), epochs=1, progress=False,
        clip_grad_norm=1e-3)
    after = tg.nn.utils.parameters_to_vector(toy.model.parameters())
    assert float(((after - before) ** 2).sum().sqrt()) <= 1e-3 * (1 + 1e-5)


# -- the progress bar --------------------------------------------------------------------------
def test_the_progress_bar_writes_to_stderr_and_progress_false_turns_it_off(toy, capsys):
    fit(toy.model, toy.train, cross_entropy, sgd(toy.model), epochs=2, val_loader=toy.val,
        progress=False)
    assert capsys.readouterr() == ("", "")
    fit(toy.model, toy.train, cross_entropy, sgd(toy.model), epochs=2, val_loader=toy.val,
        metrics={"accuracy": accuracy})
    out, err = capsys.readouterr()
    assert out == ""
    assert "epoch 1/2" in err and "epoch 2/2" in err
    # each epoch leaves one line that ends with its validation results
    last_lines = [line.split("\r")[-1] for line in err.strip().split("\n")]
    assert len(last_lines) == 2
    assert all("loss=" in line and "val_accuracy=" in line for line in last_lines)


# -- schedulers --------------------------------------------------------------------------------
def test_an_epoch_scheduler_steps_once_per_epoch(toy):
    optimizer = sgd(toy.model, lr=0.1)
    scheduler = StepLR(optimizer, step_size=2, gamma=0.5)
    history = fit(toy.model, toy.train, cross_entropy, optimizer, epochs=5, scheduler=scheduler,
                  progress=False)
    assert history["lr"] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    assert scheduler.last_epoch == 5
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.025)  # for a 6th epoch


def test_scheduler_step_batch_steps_after_every_batch(toy):
    optimizer = sgd(toy.model, lr=0.1)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.5)
    history = fit(toy.model, toy.train, cross_entropy, optimizer, epochs=2, scheduler=scheduler,
                  scheduler_step="batch", progress=False)
    assert len(toy.train) == 6
    assert history["lr"] == pytest.approx([0.1, 0.1 * 0.5 ** 6])


def test_one_cycle_lr_is_stepped_per_batch_by_default(toy):
    optimizer = tg.optim.SGD(toy.model.parameters(), lr=0.1, momentum=0.9)
    scheduler = OneCycleLR(optimizer, max_lr=0.5, epochs=3, steps_per_epoch=len(toy.train))
    history = fit(toy.model, toy.train, cross_entropy, optimizer, epochs=3, scheduler=scheduler,
                  progress=False)  # one step too many would raise "Tried to step 19 times"
    assert history["lr"][0] == pytest.approx(0.5 / 25)  # max_lr / div_factor
    assert scheduler.last_epoch == scheduler.total_steps == 18


class RecordingPlateau(ReduceLROnPlateau):
    """ReduceLROnPlateau that remembers the values it is given."""

    def __init__(self, *args, **kwargs):
        self.seen = []
        super().__init__(*args, **kwargs)

    def step(self, metrics, epoch=None):
        self.seen.append(metrics)
        super().step(metrics)


def test_reduce_lr_on_plateau_watches_val_loss_when_there_is_a_val_loader(toy):
    scheduler = RecordingPlateau(sgd(toy.model), patience=0)
    history = fit(toy.model, toy.train, cross_entropy, scheduler.optimizer, epochs=3,
                  val_loader=toy.val, scheduler=scheduler, progress=False)
    assert scheduler.seen == history["val_loss"]


def test_reduce_lr_on_plateau_watches_the_training_loss_without_one(toy):
    scheduler = RecordingPlateau(sgd(toy.model), patience=0)
    history = fit(toy.model, toy.train, cross_entropy, scheduler.optimizer, epochs=3,
                  scheduler=scheduler, progress=False)
    assert scheduler.seen == history["loss"]


def test_reduce_lr_on_plateau_cuts_the_lr_when_the_monitored_value_stalls(toy):
    optimizer = sgd(toy.model, lr=1.0)
    scheduler = ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=0)
    loader = DataLoader(TensorDataset(toy.x, toy.y), batch_size=120)

    def constant_loss(logits, target):  # a loss that never improves: gradient zero
        return (logits * 0).sum() + 1.0

    def constant(output, target):
        return 0.5

    history = fit(toy.model, loader, constant_loss, optimizer, epochs=4, val_loader=loader,
                  metrics={"score": constant}, scheduler=scheduler, monitor="val_score",
                  progress=False)
    # epoch 1 sets the best; each later epoch fails to beat it and patience is 0
    assert history["lr"] == pytest.approx([1.0, 1.0, 0.5, 0.25])


def test_scheduler_options_are_checked_before_training(toy):
    optimizer = sgd(toy.model)
    with pytest.raises(ValueError, match="ReduceLROnPlateau compares one value per epoch"):
        fit(toy.model, toy.train, cross_entropy, optimizer, 1,
            scheduler=ReduceLROnPlateau(optimizer), scheduler_step="batch")
    with pytest.raises(ValueError, match="scheduler_step must be 'epoch' or 'batch', got 'step'"):
        fit(toy.model, toy.train, cross_entropy, optimizer, 1,
            scheduler=StepLR(optimizer, 1), scheduler_step="step")
    with pytest.raises(ValueError, match=r"monitor='val_loss' is not among .*\['loss'\]"):
        fit(toy.model, toy.train, cross_entropy, optimizer, 1,
            scheduler=ReduceLROnPlateau(optimizer), monitor="val_loss")
    assert optimizer.state == {}  # nothing was trained


# -- evaluate and predict ----------------------------------------------------------------------
def test_evaluate_gives_the_mean_loss_and_metrics_over_the_samples(toy):
    result = evaluate(toy.model, toy.val, cross_entropy, {"accuracy": accuracy})
    with tg.no_grad():
        logits = toy.model(toy.x[96:])
    assert result == {"loss": pytest.approx(cross_entropy(logits, toy.y[96:]).item(), rel=1e-6),
                      "accuracy": pytest.approx(accuracy(logits, toy.y[96:]))}
    assert evaluate(toy.model, toy.val, metrics=["accuracy"]).keys() == {"accuracy"}


def test_evaluate_runs_in_eval_mode_without_gradients_and_restores_each_module_mode(toy):
    seen = []
    toy.model.register_forward_hook(
        lambda module, args, output: seen.append((module.training, output.requires_grad)))
    toy.model.train()
    toy.model.hidden.eval()  # a frozen part stays frozen
    evaluate(toy.model, toy.val, cross_entropy)
    assert set(seen) == {(False, False)}
    assert toy.model.training and not toy.model.hidden.training and toy.model.out.training


def test_predict_concatenates_the_outputs_of_a_tensor_or_a_loader(toy):
    with tg.no_grad():
        expected = toy.model(toy.x).numpy()
    from_tensor = predict(toy.model, toy.x, batch_size=7)
    from_loader = predict(toy.model, DataLoader(TensorDataset(toy.x, toy.y), batch_size=50))
    inputs_only = predict(toy.model, DataLoader(TensorDataset(toy.x), batch_size=50))
    for outputs in (from_tensor, from_loader, inputs_only):
        assert outputs.shape == (120, 2) and not outputs.requires_grad
        np.testing.assert_allclose(outputs.numpy(), expected, rtol=1e-6, atol=1e-6)
    assert predict(toy.model, toy.x.numpy()).shape == (120, 2)


# -- errors ------------------------------------------------------------------------------------
def test_an_empty_loader_is_an_error(toy):
    empty = DataLoader(TensorDataset(toy.x[:3], toy.y[:3]), batch_size=4, drop_last=True)
    with pytest.raises(ValueError, match="train_loader is empty .* 3 samples; with "
                                         "drop_last=True"):
        fit(toy.model, empty, cross_entropy, sgd(toy.model), 1)
    with pytest.raises(ValueError, match="val_loader is empty"):
        fit(toy.model, toy.train, cross_entropy, sgd(toy.model), 1, val_loader=empty)
    with pytest.raises(ValueError, match="loader is empty"):
        evaluate(toy.model, empty, cross_entropy)
    with pytest.raises(ValueError, match="no batches"):
        fit(toy.model, iter([]), cross_entropy, sgd(toy.model), 1, progress=False)
    with pytest.raises(ValueError, match="no batches"):
        predict(toy.model, iter([]))


def test_a_batch_must_be_inputs_and_target(toy):
    loader = DataLoader(TensorDataset(toy.x), batch_size=8)
    with pytest.raises(ValueError, match=r"each batch must be a tuple \(inputs, target\).*a "
                                         r"list of length 1"):
        fit(toy.model, loader, cross_entropy, sgd(toy.model), 1, progress=False)


def test_bad_arguments_are_errors(toy):
    with pytest.raises(ValueError, match="epochs must be a non-negative integer, got -1"):
        fit(toy.model, toy.train, cross_entropy, sgd(toy.model), -1)
    with pytest.raises(TypeError, match="must be an iterable of batches"):
        fit(toy.model, 3, cross_entropy, sgd(toy.model), 1)
    with pytest.raises(ValueError, match="nothing to compute"):
        evaluate(toy.model, toy.val)


def test_fit_does_not_hide_an_error_raised_inside_the_model(toy):
    def broken(logits, target):
        raise ZeroDivisionError("inside the loss")

    with pytest.raises(ZeroDivisionError, match="inside the loss"):
        fit(toy.model, toy.train, broken, sgd(toy.model), 1, progress=False)


class PretendCuda(MLP):
    """An MLP whose parameters claim to live on a GPU, to reach the device check on any
    machine (the real case is tested below when a GPU is present)."""

    def parameters(self, recurse=True):
        yield types.SimpleNamespace(device=tg.device("cuda:0"))


def test_a_batch_on_another_device_than_the_model_gets_an_error_that_says_what_to_do(toy):
    with pytest.raises(RuntimeError, match=r"the batch is on cpu but the model's parameters are "
                                           r"on cuda:0; pass device='cuda:0' to fit .* "
                                           r"model.to\('cpu'\)"):
        fit(PretendCuda(), toy.train, cross_entropy, sgd(MLP()), 1, progress=False)
    with pytest.raises(RuntimeError, match="pass device='cuda:0' to evaluate"):
        evaluate(PretendCuda(), toy.val, cross_entropy)


def test_a_device_argument_the_model_is_not_on_is_an_error(toy):
    with pytest.raises(RuntimeError, match=r"parameters are on cpu but device='cuda:0'; move "
                                           r"the model first with model.to\('cuda:0'\)"):
        fit(toy.model, toy.train, cross_entropy, sgd(toy.model), 1, device="cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not tg.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_on_the_gpu_moves_each_batch_and_keeps_the_op_error_for_a_cpu_model(toy):
    with pytest.raises(RuntimeError, match=r"model.to\('cuda"):
        fit(toy.model, toy.train, cross_entropy, sgd(toy.model), 1, device="cuda",
            progress=False)
    toy.model.to("cuda")
    history = fit(toy.model, toy.train, cross_entropy, sgd(toy.model), 3, val_loader=toy.val,
                  device="cuda", progress=False)
    assert history["loss"][-1] < history["loss"][0]
    assert predict(toy.model, toy.x, device="cuda").device == tg.device("cuda:0")
