"""Metrics against values computed by hand."""
import functools

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.training import (RunningMeans, accuracy, confusion_matrix, precision_recall_f1,
                               resolve_metrics, top_k_accuracy)

# 4 samples, 3 classes: the argmax is 0, 1, 0, 2; the targets 0, 1, 2, 2
LOGITS = tg.tensor([[2.0, 1.0, 0.0],
                    [0.0, 3.0, 1.0],
                    [1.0, 0.0, 0.5],
                    [0.0, 0.0, 5.0]])
TARGETS = tg.tensor([0, 1, 2, 2])


# -- accuracy ----------------------------------------------------------------------------------
def test_accuracy_compares_the_argmax_of_the_scores_with_the_class_indices():
    assert accuracy(LOGITS, TARGETS) == 0.75
    assert isinstance(accuracy(LOGITS, TARGETS), float)


def test_accuracy_of_probabilities_equals_that_of_logits():
    assert accuracy(LOGITS.softmax(1), TARGETS) == 0.75


def test_accuracy_takes_one_hot_or_probability_targets_by_their_argmax():
    one_hot = tg.tensor(np.eye(3, dtype=np.float32)[[0, 1, 2, 2]])
    assert accuracy(LOGITS, one_hot) == 0.75


def test_accuracy_breaks_ties_towards_the_lowest_class_index_as_argmax():
    tied = tg.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    assert accuracy(tied, tg.tensor([0, 1])) == 0.5


def test_accuracy_of_per_pixel_scores_uses_dim_1_as_cross_entropy_does():
    scores = tg.zeros(2, 3, 4)   # (N, C, L)
    scores[:, 2] = 1.0           # class 2 everywhere
    target = tg.tensor([[2, 2, 2, 0], [2, 1, 2, 2]])
    assert accuracy(scores, target) == 6 / 8


def test_binary_accuracy_thresholds_probabilities_at_one_half():
    probabilities = tg.tensor([0.9, 0.2, 0.6, 0.4])
    assert accuracy(probabilities, tg.tensor([1, 0, 0, 0])) == 0.75
    assert accuracy(probabilities, tg.tensor([1.0, 0.0, 0.0, 0.0])) == 0.75
    assert accuracy(probabilities, tg.tensor([True, False, False, False])) == 0.75


def test_binary_accuracy_of_logits_uses_threshold_zero():
    logits = tg.tensor([[2.0], [-1.0], [0.3], [-0.2]])        # (N, 1), with (N,) labels
    labels = tg.tensor([1, 0, 0, 0])
    assert accuracy(logits, labels, threshold=0.0) == 0.75
    assert functools.partial(accuracy, threshold=0.0)(logits, labels) == 0.75


def test_accuracy_rejects_mismatched_shapes_float_indices_and_no_samples():
    with pytest.raises(ValueError, match=r"target must hold class indices of shape \(4,\).*\(3,\)"):
        accuracy(LOGITS, tg.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="integer class indices, got tapegrad.float32"):
        accuracy(LOGITS, tg.tensor([0.0, 1.0, 2.0, 2.0]))
    with pytest.raises(ValueError, match=r"binary output of shape \(4,\).*\(2,\)"):
        accuracy(tg.tensor([0.1, 0.2, 0.3, 0.4]), tg.tensor([0, 1]))
    with pytest.raises(ValueError, match="no samples"):
        accuracy(tg.zeros(0, 3), tg.zeros(0, dtype=tg.int64))


def test_accuracy_accepts_numpy_arrays_and_lists():
    assert accuracy(LOGITS.numpy(), [0, 1, 2, 2]) == 0.75


# -- top-k accuracy ----------------------------------------------------------------------------
def test_top_k_accuracy_counts_targets_among_the_k_highest_scores():
    # target ranks: 0 (class 0 is top), 0, 1 (2 is second in [1, 0, 0.5]), 0
    assert top_k_accuracy(LOGITS, TARGETS, k=1) == 0.75
    assert top_k_accuracy(LOGITS, TARGETS, k=2) == 1.0
    # ranks (0-based) 2, 2, 2 and 1 (class 1 ties with class 0 but ranks after it)
    assert top_k_accuracy(LOGITS, tg.tensor([2, 0, 1, 0]), k=2) == 0.25


def test_top_1_accuracy_is_accuracy():
    scores = tg.randn(50, 7, generator=tg.Generator().manual_seed(0))
    targets = tg.randint(0, 7, (50,), generator=tg.Generator().manual_seed(1))
    assert top_k_accuracy(scores, targets, k=1) == accuracy(scores, targets)


def test_top_k_accuracy_ranks_tied_scores_by_class_index_lowest_first():
    tied = tg.tensor([[1.0, 1.0, 1.0, 0.0]])
    # class 2 ties with 0 and 1, which rank before it: it is third
    assert top_k_accuracy(tied, tg.tensor([2]), k=2) == 0.0
    assert top_k_accuracy(tied, tg.tensor([2]), k=3) == 1.0
    assert top_k_accuracy(tied, tg.tensor([0]), k=1) == 1.0
    assert top_k_accuracy(tied, tg.tensor([3]), k=3) == 0.0


def test_top_k_accuracy_rejects_k_outside_1_to_c_and_out_of_range_targets():
    with pytest.raises(ValueError, match=r"between 1 and the number of classes \(3\), got k=5"):
        top_k_accuracy(LOGITS, TARGETS)
    with pytest.raises(ValueError, match="got k=0"):
        top_k_accuracy(LOGITS, TARGETS, k=0)
    with pytest.raises(ValueError, match=r"class index 3, outside \[0, 3\)"):
        top_k_accuracy(LOGITS, tg.tensor([0, 1, 3, 2]), k=2)
    with pytest.raises(ValueError, match="C > 1 classes"):
        top_k_accuracy(tg.tensor([0.1, 0.9]), tg.tensor([0, 1]), k=1)


# -- confusion matrix --------------------------------------------------------------------------
# true:      0  0  1  1  1  2  2  2  2
# predicted: 0  1  1  1  2  2  2  0  1
TRUE = tg.tensor([0, 0, 1, 1, 1, 2, 2, 2, 2])
PREDICTED = tg.tensor([0, 1, 1, 1, 2, 2, 2, 0, 1])
MATRIX = [[1, 1, 0],   # true 0: one right, one taken for a 1
          [0, 2, 1],   # true 1: two right, one taken for a 2
          [1, 1, 2]]   # true 2: two right, one taken for a 0, one for a 1


def test_confusion_matrix_counts_true_class_rows_and_predicted_class_columns():
    matrix = confusion_matrix(PREDICTED, TRUE, 3)
    assert matrix.dtype == tg.int64 and tuple(matrix.shape) == (3, 3)
    assert matrix.tolist() == MATRIX
    assert matrix.sum(1).tolist() == [2, 3, 4]  # rows sum to each class's sample count


def test_confusion_matrix_takes_scores_and_uses_their_argmax():
    scores = tg.tensor(np.eye(3, dtype=np.float32)[PREDICTED.numpy()])
    assert confusion_matrix(scores, TRUE, 3).tolist() == MATRIX


def test_confusion_matrix_has_zero_rows_and_columns_for_absent_classes_and_no_samples():
    assert confusion_matrix(tg.tensor([0, 0]), tg.tensor([0, 2]), 4).tolist() == \
        [[1, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    empty = tg.zeros(0, dtype=tg.int64)
    assert confusion_matrix(empty, empty, 2).tolist() == [[0, 0], [0, 0]]


def test_confusion_matrix_rejects_bad_classes_and_shapes():
    with pytest.raises(ValueError, match=r"targets holds the class index 3, outside \[0, 3\)"):
        confusion_matrix(tg.tensor([0, 1]), tg.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match=r"predictions holds the class index -1"):
        confusion_matrix(tg.tensor([0, -1]), tg.tensor([0, 1]), 3)
    with pytest.raises(ValueError, match=r"predictions of shape \(3,\) do not match targets of "
                                         r"shape \(2,\)"):
        confusion_matrix(tg.tensor([0, 1, 1]), tg.tensor([0, 1]), 3)
    with pytest.raises(TypeError, match="integer class indices"):
        confusion_matrix(tg.tensor([0.0, 1.0]), tg.tensor([0, 1]), 3)
    with pytest.raises(ValueError, match="num_classes must be a positive integer, got 0"):
        confusion_matrix(tg.tensor([0]), tg.tensor([0]), 0)


# -- precision, recall, F1 ---------------------------------------------------------------------
def test_precision_recall_f1_per_class_from_the_matrix_by_hand():
    report = precision_recall_f1(PREDICTED, TRUE, 3)
    # tp = [1, 2, 2]; predicted per class (column sums) [2, 4, 3]; actual (row sums) [2, 3, 4]
    np.testing.assert_allclose(report["precision"].numpy(), [1 / 2, 2 / 4, 2 / 3])
    np.testing.assert_allclose(report["recall"].numpy(), [1 / 2, 2 / 3, 2 / 4])
    # F1 = 2 tp / (actual + predicted), the harmonic mean of precision and recall
    np.testing.assert_allclose(report["f1"].numpy(), [2 / 4, 4 / 7, 4 / 7])
    assert report["support"].tolist() == [2, 3, 4]
    assert report["precision"].dtype == tg.float64 and report["support"].dtype == tg.int64
    assert report["macro_precision"] == pytest.approx((1 / 2 + 2 / 4 + 2 / 3) / 3)
    assert report["macro_recall"] == pytest.approx((1 / 2 + 2 / 3 + 2 / 4) / 3)
    assert report["macro_f1"] == pytest.approx((2 / 4 + 4 / 7 + 4 / 7) / 3)


def test_a_ratio_with_a_zero_denominator_is_zero_as_sklearn_zero_division_0():
    # class 1 is never predicted (precision 0/0), class 2 never occurs and is never predicted
    report = precision_recall_f1(tg.tensor([0, 0]), tg.tensor([0, 1]), 3)
    np.testing.assert_allclose(report["precision"].numpy(), [1 / 2, 0, 0])
    np.testing.assert_allclose(report["recall"].numpy(), [1, 0, 0])
    np.testing.assert_allclose(report["f1"].numpy(), [2 / 3, 0, 0])
    assert report["macro_f1"] == pytest.approx(2 / 9)  # absent classes count in the mean


# -- metrics inside fit ------------------------------------------------------------------------
def test_resolve_metrics_names_functions_and_known_strings():
    def error_rate(output, target):
        return 1 - accuracy(output, target)

    resolved = resolve_metrics(["accuracy", error_rate, functools.partial(top_k_accuracy, k=2)])
    assert list(resolved) == ["accuracy", "error_rate", "top_k_accuracy"]
    assert resolve_metrics({"acc": accuracy}) == {"acc": accuracy}
    assert resolve_metrics(None) == {}


def test_resolve_metrics_rejects_unknown_reserved_and_duplicate_names():
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        resolve_metrics(["f1"])
    with pytest.raises(ValueError, match="'val_acc' is taken"):
        resolve_metrics({"val_acc": accuracy})
    with pytest.raises(ValueError, match="'loss' is taken"):
        resolve_metrics({"loss": accuracy})
    with pytest.raises(ValueError, match="two metrics are named 'accuracy'"):
        resolve_metrics([accuracy, "accuracy"])
    with pytest.raises(TypeError, match="must be a function"):
        resolve_metrics({"acc": 3})


def test_running_means_weight_each_batch_by_its_size():
    running = RunningMeans()
    running.add("loss", 1.0, 3)
    running.add("loss", tg.tensor(4.0), 1)   # 0-d tensors are read with float()
    assert running.means() == {"loss": pytest.approx(7 / 4)}
