"""LIME on a text classifier: which words made a recurrent network call a review positive?

The example first makes its own labelled data: short movie-review sentences put together
from word lists ("the plot was really dull", "this film is not boring but the ending was
weak", …), labelled positive or negative by a fixed rule (the adjective's polarity, flipped
by "not"; after "but", the second clause decides). A small recurrent classifier learns
the rule from examples: embedding → GRU → linear on the last hidden state → 2 scores.

LIME (Ribeiro, Singh & Guestrin, 2016) then explains single predictions without looking
inside the model. For a sentence with words w₁ … w_d it draws S perturbed sentences, each
with a random subset of the words removed, described by z ∈ {0, 1}^d (zⱼ = 1: wⱼ kept),
asks the model for f(z) = p(positive | perturbed sentence), and fits a linear model

    g(z) = b + Σⱼ βⱼ zⱼ    minimising  Σₛ πₛ (f(zₛ) − g(zₛ))² + ‖β‖²

where πₛ = exp(−dₛ² / 2σ²) (in effect) weighs each sample by its closeness to the whole
sentence (dₛ: cosine distance of zₛ to all-ones, ×100; σ = 25). βⱼ is word j's weight:
how much keeping it moves p(positive) near this sentence. Positive βⱼ (green) pushes
towards "positive", negative (red) towards "negative". The local fit's R² says how far
to trust the weights: a model that reads "not good" as negative is not additive in words.

Run it:

    python examples/lime_text.py --quick          # seconds
    python examples/lime_text.py                  # about a minute

It prints the top words of each explained sentence and saves lime_text.png (words
highlighted by weight), lime_bars.png (one sentence's weights as bars) and
training.png (loss and accuracy).
"""
import argparse
import os
import re
import time

import matplotlib
matplotlib.use("Agg")   # no display needed: figures go straight to PNG files
import matplotlib.pyplot as plt
import numpy as np

import tapegrad as tg
from tapegrad import nn
from tapegrad.explain import LimeText
from tapegrad.explain.plot import feature_bars, text_attr

# -- a labelled text set, generated from word lists -------------------------------------------
SUBJECTS = ["the movie", "this film", "the plot", "the acting", "the story", "the ending",
            "the soundtrack", "the cast", "the script", "the dialogue", "the photography",
            "the pacing", "this sequel", "the lead actor"]
VERBS = ["was", "is", "felt", "seemed", "looked"]
INTENSIFIERS = ["", "", "very", "really", "truly", "quite", "so", "rather", "pretty"]
POSITIVE = ["good", "great", "wonderful", "brilliant", "superb", "delightful", "moving",
            "fun", "excellent", "charming", "beautiful", "enjoyable", "clever", "gripping"]
NEGATIVE = ["bad", "awful", "boring", "terrible", "dull", "poor", "weak", "painful",
            "dreadful", "tedious", "messy", "forgettable", "silly", "clumsy"]
OPENERS = ["", "", "", "honestly", "overall", "in my opinion", "to be fair", "i think"]
CLOSERS = {1: ["", "", "i would watch it again", "a must see", "i loved it"],
           0: ["", "", "i want my money back", "a waste of time", "i hated it"]}
NAMES = ["negative", "positive"]


def clause(rng, label):
    """'the plot was really dull' for label 0; 'not' flips the adjective's polarity."""
    negated = rng.random() < 0.25
    words = POSITIVE if (label == 1) != negated else NEGATIVE
    parts = [rng.choice(SUBJECTS), rng.choice(VERBS), "not" if negated else "",
             rng.choice(INTENSIFIERS), rng.choice(words)]
    return " ".join(p for p in parts if p)


def sentence(rng):
    """A review sentence and its label (1 positive, 0 negative)."""
    label = int(rng.integers(0, 2))
    text = clause(rng, label)
    if rng.random() < 0.25:                   # "X but Y": the clause after "but" decides
        text = clause(rng, 1 - label) + " but " + text
    text = " ".join(p for p in [rng.choice(OPENERS), text] if p)
    closer = rng.choice(CLOSERS[label]) if rng.random() < 0.4 else ""
    return (text + " " + closer if closer else text), label


def words(text):
    """Lower-case words, split on non-word characters as LimeText splits them."""
    return re.findall(r"\w+", text.lower())


# -- the model: embedding → GRU → linear on the last real step ------------------------------
class Vocabulary:
    """Words ↔ integers; 0 pads short sentences, 1 stands for any word not seen in training."""

    def __init__(self, texts):
        self.words = ["<pad>", "<unk>"] + sorted({w for t in texts for w in words(t)})
        self.index = {w: i for i, w in enumerate(self.words)}

    def encode(self, texts):
        """A padded (N, L) int64 tensor and the (N,) lengths. An empty text (LIME removes
        all the words of some samples) becomes a single <pad>, so every length is ≥ 1."""
        rows = [[self.index.get(w, 1) for w in words(t)] or [0] for t in texts]
        length = max(len(r) for r in rows)
        padded = np.zeros((len(rows), length), dtype=np.int64)
        for i, r in enumerate(rows):
            padded[i, :len(r)] = r
        return tg.tensor(padded), tg.tensor([len(r) for r in rows])


class ReviewClassifier(nn.Module):
    def __init__(self, vocab_size, embed_size=16, hidden_size=32):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=0)
        self.gru = nn.GRU(embed_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 2)

    def forward(self, x, lengths):
        out, _ = self.gru(self.embed(x))                       # (N, L, hidden)
        # The state after each sentence's own last word (padding comes after it, so the
        # GRU's steps over the padding do not change what is read here).
        last = out[tg.arange(x.shape[0]), lengths - 1]         # (N, hidden)
        return self.head(last)                                 # (N, 2) scores


def train(model, vocab, texts, labels, test_texts, test_labels, epochs, batch_size):
    optimizer = tg.optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    y_all = tg.tensor(labels)
    history = []
    for epoch in range(1, epochs + 1):
        order = tg.randperm(len(texts)).numpy()
        total = 0.0
        for start in range(0, len(texts), batch_size):
            idx = order[start:start + batch_size]
            x, lengths = vocab.encode([texts[i] for i in idx])
            loss = loss_fn(model(x, lengths), y_all[tg.tensor(idx)])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        accuracy = float((predict_proba(model, vocab, test_texts).argmax(1)
                          == np.array(test_labels)).mean())
        history.append((total / len(texts), accuracy))
        print(f"epoch {epoch}/{epochs}: train loss {total / len(texts):.3f}, "
              f"test accuracy {accuracy:.1%}")
    return history


def predict_proba(model, vocab, texts, batch_size=500):
    """Class probabilities (N, 2) as numpy: the function LIME calls with lists of strings."""
    model.eval()
    probabilities = []
    with tg.no_grad():
        for start in range(0, len(texts), batch_size):
            x, lengths = vocab.encode(texts[start:start + batch_size])
            probabilities.append(model(x, lengths).softmax(-1).numpy())
    model.train()
    return np.concatenate(probabilities)


def plot_training(history, path):
    history = np.array(history)
    epochs = np.arange(1, len(history) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 2.8))
    left.plot(epochs, history[:, 0], "o-")
    left.set_title("train loss")
    right.plot(epochs, 100 * history[:, 1], "o-", color="tab:green")
    right.set_title("test accuracy (%)")
    for ax in (left, right):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# Sentences to explain: built from the training words, but not by the generator's template.
EXAMPLES = [
    "the acting was superb but the plot was really dull",
    "honestly this film was not boring but the cast was charming",
    "the soundtrack was beautiful but i want my money back",
    "i think the story was not good",
    "a must see the ending was really gripping",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--out", default="out/lime_text", help="folder for the figures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, help="training epochs (default 5; quick 3)")
    parser.add_argument("--samples", type=int, help="LIME's perturbed sentences per "
                                                    "explanation (default 2000; quick 300)")
    args = parser.parse_args()
    quick = args.quick
    epochs = args.epochs or (3 if quick else 5)
    num_samples = args.samples or (300 if quick else 2000)
    os.makedirs(args.out, exist_ok=True)
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    n_train, n_test = (800, 200) if quick else (2000, 500)
    train_set = [sentence(rng) for _ in range(n_train)]
    test_set = [sentence(rng) for _ in range(n_test)]
    texts, labels = [t for t, _ in train_set], [y for _, y in train_set]
    test_texts, test_labels = [t for t, _ in test_set], [y for _, y in test_set]
    vocab = Vocabulary(texts)
    print(f"data: {n_train} training and {n_test} test sentences, {len(vocab.words)} words, "
          f"e.g. {texts[0]!r} → {NAMES[labels[0]]}, {texts[1]!r} → {NAMES[labels[1]]}")

    model = ReviewClassifier(len(vocab.words))
    start = time.time()
    history = train(model, vocab, texts, labels, test_texts, test_labels, epochs, 32)
    print(f"trained in {time.time() - start:.0f} s: test accuracy {history[-1][1]:.1%}")

    # Explain each example's p(positive) (label 1) with LIME, so green always means
    # "towards positive" and red "towards negative".
    explainer = LimeText()
    examples = EXAMPLES[:2] if quick else EXAMPLES
    explanations = []
    for text in examples:
        explanation = explainer.explain(text, lambda batch: predict_proba(model, vocab, batch),
                                        labels=(1,), num_features=6, num_samples=num_samples,
                                        seed=args.seed)
        p = explanation.prediction[1]
        top = ", ".join(f"{word} {weight:+.2f}" for word, weight in explanation.as_list(1))
        print(f"\n{text!r}\n  p(positive) = {p:.2f} → {NAMES[int(p > 0.5)]}; local fit "
              f"R² = {explanation.score[1]:.2f}\n  top words: {top}")
        explanations.append(explanation)

    # The words of each sentence on backgrounds coloured by their LIME weight.
    # (text_attr scales the colours of each sentence by its own largest |weight|.)
    fig, axes = plt.subplots(len(examples), 1, figsize=(7, 0.8 * len(examples) + 0.45))
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.4 / fig.get_figheight(), bottom=0.0,
                        hspace=0.0)
    for ax, text, explanation in zip(np.atleast_1d(axes), examples, explanations):
        p = explanation.prediction[1]
        text_attr(words(text), dict(explanation.as_list(1)), ax=ax, fontsize=12,
                  title=f"p(positive) = {p:.2f} → {NAMES[int(p > 0.5)]}   (local fit R² = "
                        f"{explanation.score[1]:.2f})")
    fig.suptitle("LIME word weights for p(positive): green → positive, red → negative",
                 fontsize=11)
    paths = [os.path.join(args.out, name) for name in
             ("lime_text.png", "lime_bars.png", "training.png")]
    fig.savefig(paths[0], dpi=90)
    plt.close(fig)
    fig, _ = feature_bars(explanations[0].as_list(1), title=f"LIME weights for p(positive):\n"
                                                            f"{examples[0]!r}")
    fig.savefig(paths[1], dpi=90)
    plot_training(history, paths[2])
    for path in paths:
        print(f"saved {path}")


if __name__ == "__main__":
    main()
