"""LIME on text: finds the deciding word; word removal, distances, batching."""
import numpy as np
import pytest

from tapegrad.explain.lime import LimeText
from tapegrad.explain.lime.base import cosine_distance_to_first, kernel
from tapegrad.explain.lime.text import IndexedText

REVIEW = "The plot was thin, but the acting was wonderful and the music was wonderful too."


def keyword_classifier(texts):
    """Class 1 ("positive") exactly when the word 'wonderful' is in the text."""
    p = np.array([0.95 if "wonderful" in t.split() or "wonderful," in t else 0.1
                  for t in texts])
    return np.stack([1 - p, p], axis=1)


class Recording:
    def __init__(self, f):
        self.f, self.batches = f, []

    def __call__(self, texts):
        self.batches.append(list(texts))
        return self.f(texts)


def test_finds_the_word_that_decides_a_keyword_classifier():
    explanation = LimeText().explain(REVIEW, keyword_classifier, num_samples=1000, seed=0)
    (word, weight), (_, runner_up) = explanation.as_list()[:2]
    assert word == "wonderful" and weight > 0.5
    assert abs(runner_up) < 0.05 * weight
    assert explanation.score[1] > 0.9
    assert explanation.local_pred[1] == pytest.approx(0.95, abs=0.1)
    against = dict(LimeText().explain(REVIEW, keyword_classifier, labels=(0,), num_samples=1000,
                                      seed=0).as_list(0))
    assert against["wonderful"] == pytest.approx(-weight)


def test_a_word_is_one_feature_for_all_its_occurrences_by_default():
    text = IndexedText("a b, a  c! b")
    assert text.words == ["a", "b", "c"]
    assert text.without([0]) == " b,   c! b"          # both a's go, separators stay
    assert text.without([0, 1, 2]) == " ,   ! "
    positions = IndexedText("a b, a  c! b", bow=False)
    assert positions.words == ["a", "b", "a", "c", "b"]
    assert positions.without([2]) == "a b,   c! b"       # only the second a


def test_samples_remove_between_one_word_and_all_and_the_first_is_the_text():
    classifier = Recording(keyword_classifier)
    LimeText().explain("one two three four", classifier, num_samples=400, seed=0)
    texts = [t for batch in classifier.batches for t in batch]
    assert texts[0] == "one two three four" and len(texts) == 400
    kept = np.array([len(t.split()) for t in texts[1:]])
    assert kept.min() == 0 and kept.max() == 3           # 1 to 4 words removed
    counts = np.bincount(kept, minlength=4) / len(kept)
    np.testing.assert_allclose(counts, 0.25, atol=0.07)  # the number removed is uniform


def test_the_classifier_is_called_in_batches():
    classifier = Recording(keyword_classifier)
    LimeText().explain(REVIEW, classifier, num_samples=2500, seed=0)
    assert [len(b) for b in classifier.batches] == [1000, 1000, 500]
    classifier.batches.clear()
    LimeText().explain(REVIEW, classifier, num_samples=50, batch_size=20, seed=0)
    assert [len(b) for b in classifier.batches] == [20, 20, 10]


def test_identical_with_the_same_seed():
    run = lambda seed: LimeText().explain(REVIEW, keyword_classifier, num_samples=300,
                                          seed=seed).as_list()
    assert run(1) == run(1)
    assert run(1) != run(2)


def test_the_distance_is_cosine_times_100_with_kernel_width_25():
    # removing 3 of 4 words: cos = 1/2, distance 50, weight sqrt(exp(-50²/25²)) = e^-2
    data = np.array([[1.0, 1, 1, 1], [1.0, 0, 0, 0]])
    distance = cosine_distance_to_first(data)[1] * 100
    assert distance == pytest.approx(50.0)
    assert kernel(np.array([distance]), 25)[0] == pytest.approx(np.exp(-2.0))
    assert LimeText().kernel_width == 25


def test_several_labels_and_top_labels():
    three = lambda texts: np.array([[0.2, 0.5, 0.3] if "wonderful" in t else [0.6, 0.1, 0.3]
                                    for t in texts])
    explanation = LimeText().explain(REVIEW, three, top_labels=2, num_samples=300, seed=0)
    assert explanation.labels == [1, 2]
    assert explanation.as_list(1)[0][0] == "wonderful"
    assert explanation.feature_names[explanation.weights[1][0][0]] == "wonderful"


@pytest.mark.parametrize("text, classifier, error, message", [
    (3, keyword_classifier, TypeError, "text must be a str"),
    ("!!! ...", keyword_classifier, ValueError, "no words"),
    ("good film", 5, TypeError, "classifier_fn must be callable"),
    ("good film", lambda texts: np.ones(len(texts)), ValueError, r"\(texts, classes\)"),
    ("good film", lambda texts: np.ones((1, 2)), ValueError, "one row per input"),
])
def test_misuse_is_named_in_the_error(text, classifier, error, message):
    with pytest.raises(error, match=message):
        LimeText().explain(text, classifier, num_samples=10, seed=0)
