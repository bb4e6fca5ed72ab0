"""Explanations of a CNN trained on the embedded MNIST subset (a few seconds of training):
the checks issue 5 names, on a real model rather than a hand-built one."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn
from tapegrad.data import MNIST, DataLoader, Subset
from tapegrad.explain import IntegratedGradients, Saliency, metrics


@pytest.fixture(scope="module")
def trained():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 5), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(8 * 12 * 12, 10))
    optimizer = tg.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    for images, labels in DataLoader(Subset(MNIST(), range(3000)), batch_size=100, shuffle=True):
        optimizer.zero_grad()
        loss_fn(model(images), labels).backward()
        optimizer.step()
    model.eval()
    test = MNIST(train=False)
    images, labels = DataLoader(test, batch_size=16).__iter__().__next__()
    with tg.no_grad():
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    assert accuracy > 0.8, f"the CNN did not learn (accuracy {accuracy:.2f})"
    return model, images, labels


def test_the_randomisation_check_separates_the_trained_cnn_from_its_reinitialised_copy(trained):
    model, images, labels = trained
    result = metrics.randomization_check(model, Saliency, images, target=labels, seed=0)
    control = metrics.randomization_check(model, Saliency, images, target=labels, layers=[])
    assert result.mean < 0.5          # the maps depend on what the model learned
    assert control.mean > 0.999       # an untouched copy gives the same maps


def test_integrated_gradients_deletes_faster_than_a_random_attribution(trained):
    model, images, labels = trained
    attributions = IntegratedGradients(model).attribute(images, target=labels, n_steps=32)
    random = tg.from_numpy(np.random.default_rng(0).random(images.shape).astype(np.float32))
    ig_auc = metrics.deletion_auc(model, images, attributions, target=labels, n_steps=28)
    random_auc = metrics.deletion_auc(model, images, random, target=labels, n_steps=28)
    assert float(ig_auc.mean()) < 0.5 * float(random_auc.mean())
