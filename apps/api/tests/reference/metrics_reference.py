"""Reference implementations of MedForge's four metrics, written from the spec
(spec: competitions, "Metrics (exact conventions)") independently of the C++.

Inputs are the parsed, aligned columns the C++ metrics take:

- accuracy(truth, predicted): lists of ints.
- roc_auc(truth, scores): 0/1 labels and floats.
- map_iou(patients): [{"truth": [[x, y, w, h], ...], "predicted": [[conf, x, y, w, h], ...]}],
  truth in holdout file order, predictions in submission file order.
- mean_iou(images): [{"predicted": [[begin, end], ...], "truth": [[begin, end], ...]}], runs of
  0-based half-open pixel intervals, sorted and disjoint.

Each returns the components as an ordered list of (name, value) pairs, "primary" first, and raises
ValueError where the C++ throws std::invalid_argument.

accuracy and roc_auc use scikit-learn when it can be imported (the oracle the spec's conventions
are defined against); otherwise exact pure-Python versions (fractions.Fraction) that agree with it
to within rounding. ORACLE says which one is in use.
"""

from __future__ import annotations

import bisect
import math
from fractions import Fraction

try:  # pragma: no cover - depends on the machine
    from sklearn.metrics import accuracy_score as _sk_accuracy
    from sklearn.metrics import roc_auc_score as _sk_roc_auc

    ORACLE = "sklearn"
except ImportError:  # pragma: no cover
    _sk_accuracy = None
    _sk_roc_auc = None
    ORACLE = "python"

MAP_IOU_THRESHOLDS = [k / 20 for k in range(8, 16)]
MAP_IOU_COMPONENTS = ["iou_%.2f" % t for t in MAP_IOU_THRESHOLDS]


# --- accuracy ------------------------------------------------------------------------------------


def accuracy_exact(truth, predicted):
    if len(truth) != len(predicted):
        raise ValueError("length mismatch")
    if not truth:
        raise ValueError("no rows")
    hits = sum(1 for t, p in zip(truth, predicted) if t == p)
    return float(Fraction(hits, len(truth)))


def accuracy(truth, predicted, use_sklearn=True):
    value = accuracy_exact(truth, predicted)  # also does the argument checks
    if use_sklearn and _sk_accuracy is not None:
        # int64 arrays: labels at the int64 extremes must not pass through float.
        import numpy as np

        value = float(
            _sk_accuracy(np.array(truth, dtype=np.int64), np.array(predicted, dtype=np.int64))
        )
    return [("primary", value)]


# --- roc_auc -------------------------------------------------------------------------------------


def roc_auc_exact(truth, scores):
    """Trapezoid under the ROC curve, one vertex per distinct threshold, in exact arithmetic."""
    if len(truth) != len(scores):
        raise ValueError("length mismatch")
    if any(t not in (0, 1) for t in truth):
        raise ValueError("label not 0/1")
    if any(not math.isfinite(s) for s in scores):
        raise ValueError("score not finite")
    n_pos = sum(truth)
    n_neg = len(truth) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("one class")
    # Walk thresholds from high to low; at each distinct score both TP and FP jump at once.
    by_score = {}
    for t, s in zip(truth, scores):
        s = s + 0.0  # -0.0 and 0.0 are one threshold
        pos, neg = by_score.get(s, (0, 0))
        by_score[s] = (pos + t, neg + (1 - t))
    area2 = 0  # twice the area in units of one (1/n_pos x 1/n_neg) cell
    tp = fp = 0
    for s in sorted(by_score, reverse=True):
        pos, neg = by_score[s]
        area2 += neg * (2 * tp + pos)
        tp += pos
        fp += neg
    return float(Fraction(area2, 2 * n_pos * n_neg))


def roc_auc(truth, scores, use_sklearn=True):
    value = roc_auc_exact(truth, scores)
    if use_sklearn and _sk_roc_auc is not None:
        value = float(_sk_roc_auc(truth, scores))
    return [("primary", value)]


# --- map_iou -------------------------------------------------------------------------------------


def box_iou(a, b):
    """a, b: (x, y, w, h). Same double operations as the C++ so boundary IoUs round alike."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = min(ax + aw, bx + bw) - max(ax, bx)
    iy = min(ay + ah, by + bh) - max(ay, by)
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    if not union > 0:
        return 0.0
    return inter / union


def _patient_threshold_scores(truth, predicted):
    # sorted() is stable: equal confidences keep submission order.
    ranked = sorted(predicted, key=lambda p: -p[0])
    scores = []
    for t in MAP_IOU_THRESHOLDS:
        free = list(range(len(truth)))  # unmatched truth indices, holdout order
        tp = fp = 0
        for pred in ranked:
            best = None
            best_iou = -1.0
            for g in free:
                iou = box_iou(pred[1:], truth[g])
                if iou > best_iou:  # strict: the earlier box wins a tie
                    best, best_iou = g, iou
            if best is not None and best_iou >= t:
                tp += 1
                free.remove(best)
            else:
                fp += 1
        fn = len(free)
        scores.append(tp / (tp + fp + fn))
    return scores


def map_iou(patients):
    if not patients:
        raise ValueError("no patients")
    per_patient = []
    for p in patients:
        truth, predicted = p["truth"], p["predicted"]
        if any(math.isnan(q[0]) for q in predicted):
            raise ValueError("NaN confidence")
        if not truth and not predicted:
            continue
        per_patient.append(_patient_threshold_scores(truth, predicted))
    if not per_patient:
        return [("primary", 1.0)] + [(name, 1.0) for name in MAP_IOU_COMPONENTS]
    n = len(per_patient)
    primary = sum(sum(s) / 8 for s in per_patient) / n
    comps = [
        (name, sum(s[k] for s in per_patient) / n) for k, name in enumerate(MAP_IOU_COMPONENTS)
    ]
    return [("primary", primary)] + comps


# --- mean_iou ------------------------------------------------------------------------------------


def _check_runs(runs):
    prev_end = None
    for b, e in runs:
        if not b < e or (prev_end is not None and b < prev_end):
            raise ValueError("runs must be non-empty, sorted and disjoint")
        prev_end = e


def mask_iou(predicted, truth):
    """Cut the line at every run boundary; each elementary piece is wholly in or out of a mask."""
    _check_runs(predicted)
    _check_runs(truth)
    cuts = sorted({x for run in predicted + truth for x in run})
    if not cuts:
        return 1.0
    p_starts = [b for b, _ in predicted]
    g_starts = [b for b, _ in truth]

    def covers(runs, starts, x):
        i = bisect.bisect_right(starts, x) - 1
        return i >= 0 and runs[i][0] <= x < runs[i][1]

    inter = union = 0
    for lo, hi in zip(cuts, cuts[1:]):
        in_p = covers(predicted, p_starts, lo)
        in_g = covers(truth, g_starts, lo)
        inter += (hi - lo) * (in_p and in_g)
        union += (hi - lo) * (in_p or in_g)
    return inter / union  # Python ints: the correctly rounded exact ratio


def mask_iou_pixels(predicted, truth):
    """Brute force over pixel sets; only for small masks (a second check of mask_iou)."""
    p = {x for b, e in predicted for x in range(b, e)}
    g = {x for b, e in truth for x in range(b, e)}
    if not p and not g:
        return 1.0
    return len(p & g) / len(p | g)


def mean_iou(images):
    if not images:
        raise ValueError("no images")
    return [("primary", sum(mask_iou(i["predicted"], i["truth"]) for i in images) / len(images))]


METRICS = {"accuracy": accuracy, "roc_auc": roc_auc, "map_iou": map_iou, "mean_iou": mean_iou}


def score_case(metric, inputs):
    """Components for one case's inputs (the shape make_cases.py writes), or raises ValueError."""
    if metric == "accuracy":
        return accuracy(inputs["truth"], inputs["predicted"])
    if metric == "roc_auc":
        return roc_auc(inputs["truth"], inputs["scores"])
    if metric == "map_iou":
        return map_iou(inputs["patients"])
    if metric == "mean_iou":
        return mean_iou(inputs["images"])
    raise KeyError(metric)
