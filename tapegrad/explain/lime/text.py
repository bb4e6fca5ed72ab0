"""LIME for text: remove words.

The text is split on non-word characters (the reference's ``\\W+``), keeping the
separators so that a perturbed text is the original with some words deleted. By default
(``bow=True``) each *distinct* word is one feature and removing it removes every
occurrence; with ``bow=False`` each occurrence is its own feature. A sample removes a
uniformly chosen number of features (1 to all), chosen uniformly; sample 0 is the text
itself. Its distance to the text is the cosine distance of the keep/remove vectors
times 100, with kernel width 25.
"""
import re

import numpy

from . import base
from .explanation import Explanation


class IndexedText:
    """A text cut into words and separators: ``words`` are the features (distinct words
    in order of first appearance, or every occurrence when ``bow=False``) and
    ``without(features)`` rebuilds the text with those features' words removed."""

    def __init__(self, text, split_expression=r"\W+", bow=True):
        splitter = re.compile(r"(%s)|$" % split_expression)
        self.tokens = [t for t in splitter.split(text) if t]
        is_word = [splitter.match(t) is None for t in self.tokens]
        self.words, self.positions = [], []
        index = {}
        for i, token in enumerate(self.tokens):
            if not is_word[i]:
                continue
            if bow and token in index:
                self.positions[index[token]].append(i)
                continue
            index[token] = len(self.words)
            self.words.append(token)
            self.positions.append([i])

    def __len__(self):
        return len(self.words)

    def without(self, features):
        removed = {i for f in features for i in self.positions[f]}
        return "".join(t for i, t in enumerate(self.tokens) if i not in removed)


class LimeText:
    """``LimeText(kernel_width=25, bow=True, split_expression=r"\\W+").explain(text,
    classifier_fn, labels=(1,), num_features=10, num_samples=5000, seed=None,
    feature_selection="auto", top_labels=None, batch_size=1000)``

    ``classifier_fn`` takes a list of strings and returns (texts, classes) scores; it is
    called on ``batch_size`` texts at a time. The explanation's features are word
    indices into ``explanation.feature_names`` (the words); ``as_list`` shows the words.
    """

    def __init__(self, kernel_width=25, bow=True, split_expression=r"\W+"):
        self.kernel_width = float(kernel_width)
        self.bow = bow
        self.split_expression = split_expression

    def explain(self, text, classifier_fn, labels=(1,), num_features=10, num_samples=5000,
                seed=None, feature_selection="auto", top_labels=None, batch_size=1000):
        op = "LimeText.explain"
        if not isinstance(text, str):
            raise TypeError(f"{op}: text must be a str, got {type(text).__name__}")
        if not callable(classifier_fn):
            raise TypeError(f"{op}: classifier_fn must be callable, got "
                            f"{type(classifier_fn).__name__}")
        num_features = base.check_count(op, "num_features", num_features)
        num_samples = base.check_count(op, "num_samples", num_samples, minimum=2)
        indexed = IndexedText(text, self.split_expression, self.bow)
        n_words = len(indexed)
        if n_words == 0:
            raise ValueError(f"{op}: the text has no words to remove: {text!r}")
        rng = base.generator(seed)
        data = numpy.ones((num_samples, n_words))
        sizes = rng.integers(1, n_words + 1, num_samples - 1)
        # Row i removes the sizes[i] features ranked first by a random permutation.
        ranks = numpy.argsort(numpy.argsort(rng.random((num_samples - 1, n_words)), axis=1),
                              axis=1)
        data[1:][ranks < sizes[:, None]] = 0.0
        texts = [text] + [indexed.without(numpy.nonzero(r == 0)[0]) for r in data[1:]]

        def call(batch):
            return base.to_host(classifier_fn(batch), op)

        predictions = base.predict_in_batches(call, num_samples,
                                              lambda start, stop: texts[start:stop],
                                              batch_size, op)
        if predictions.ndim != 2:
            raise ValueError(f"{op}: classifier_fn must return (texts, classes) scores, got "
                             f"shape {predictions.shape}")
        chosen = base.labels_to_explain(op, predictions, None if top_labels else labels,
                                        top_labels)
        distances = base.cosine_distance_to_first(data) * 100
        weights = base.kernel(distances, self.kernel_width)
        explanation = Explanation("classification", feature_names=list(indexed.words),
                                  prediction=predictions[0])
        for label in chosen:
            explanation.add(label, base.explain_label(data, predictions[:, label], weights,
                                                      num_features, feature_selection))
        return explanation
