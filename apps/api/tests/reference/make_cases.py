#!/usr/bin/python3
"""Writes cases/<metric>.json: inputs for the four metrics and the reference's expected scores.

Deterministic (fixed seed); the committed files are its output, and test_reference_cases.py
regenerates them in memory to prove they have not drifted. Run from anywhere:

    /usr/bin/python3 apps/api/tests/reference/make_cases.py

Each file: {"metric", "seed", "oracle", "cases": [{"name", "input", "expected": [[component,
value], ...]} | {"name", "input", "error": "invalid_argument"}]}. "oracle" records whether
accuracy/roc_auc came from scikit-learn or the exact pure-Python fallback.
"""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import metrics_reference as ref  # noqa: E402

SEED = 20250520
CASES_DIR = HERE / "cases"
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


# --- accuracy ------------------------------------------------------------------------------------


def accuracy_cases(rng):
    cases = [
        ("all_correct", [0, 1, 1, 0], [0, 1, 1, 0]),
        ("none_correct", [0, 1, 1, 0], [1, 0, 0, 1]),
        ("single_correct", [7], [7]),
        ("single_wrong", [7], [8]),
        ("one_third", [1, 2, 3], [1, 0, 0]),
        (
            "int64_extremes",
            [INT64_MIN, INT64_MAX, INT64_MAX, 0],
            [INT64_MIN, INT64_MAX - 1, INT64_MAX, -0],
        ),
        ("negative_labels", [-1, -2, -3, -4, -5], [-1, 2, -3, 4, -5]),
        ("cifar_like_10000", [rng.randrange(100) for _ in range(10000)], None),
    ]
    out = []
    for name, truth, predicted in cases:
        if predicted is None:  # ~37% right, the rest a random other label
            predicted = [t if rng.random() < 0.37 else rng.randrange(100) for t in truth]
        out.append((name, {"truth": truth, "predicted": predicted}))
    out.append(("error_length_mismatch", {"truth": [1, 2, 3], "predicted": [1, 2]}))
    out.append(("error_empty", {"truth": [], "predicted": []}))
    for i in range(42):
        n = rng.choice([1, 2, 3, 5, 17, 418, rng.randrange(1, 3000)])
        k = rng.choice([2, 3, 10, 100])
        q = rng.random()
        truth = [rng.randrange(k) for _ in range(n)]
        predicted = [t if rng.random() < q else rng.randrange(k) for t in truth]
        out.append(("random_%02d_n%d_k%d" % (i, n, k), {"truth": truth, "predicted": predicted}))
    return out


# --- roc_auc -------------------------------------------------------------------------------------


def roc_auc_cases(rng):
    tiny = 5e-324  # smallest subnormal
    half_up = math.nextafter(0.5, 1.0)
    fixed = [
        ("perfect", [0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]),
        ("inverted", [1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]),
        ("all_tied", [0, 1, 0, 1, 1], [0.5] * 5),
        ("sklearn_doc_example", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]),
        ("tie_across_classes_half", [0, 1, 0, 1], [0.3, 0.3, 0.1, 0.9]),
        ("tie_groups_mixed", [1, 1, 1, 0, 0], [0.5, 0.5, 0.2, 0.5, 0.1]),
        ("negative_zero_ties_zero", [1, 0], [-0.0, 0.0]),
        ("one_ulp_apart", [1, 0], [half_up, 0.5]),
        ("one_ulp_apart_inverted", [0, 1], [half_up, 0.5]),
        ("subnormal_vs_zero", [1, 0, 1, 0], [tiny, 0.0, 0.0, tiny]),
        ("only_zero_and_one", [0, 1, 1, 0, 1, 0, 0], [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0]),
        ("one_positive", [0] * 9 + [1], [i / 10 for i in range(10)][::-1]),
        ("one_negative", [1] * 9 + [0], [i / 9 for i in range(10)]),
    ]
    out = [(name, {"truth": t, "scores": s}) for name, t, s in fixed]
    # Many rows with few distinct scores: the tie handling carries almost the whole answer.
    n = 20000
    truth = [int(rng.random() < 0.3) for _ in range(n)]
    truth[0], truth[1] = 0, 1
    scores = [min(1.0, max(0.0, round(rng.gauss(0.35 + 0.3 * t, 0.2), 1))) for t in truth]
    out.append(("many_rows_ten_levels", {"truth": truth, "scores": scores}))
    out += [
        ("error_one_class_negative", {"truth": [0, 0, 0], "scores": [0.1, 0.2, 0.3]}),
        ("error_one_class_positive", {"truth": [1, 1], "scores": [0.1, 0.2]}),
        ("error_length_mismatch", {"truth": [0, 1, 1], "scores": [0.1, 0.2]}),
        ("error_label_not_binary", {"truth": [0, 1, 2], "scores": [0.1, 0.2, 0.3]}),
        ("error_empty", {"truth": [], "scores": []}),
    ]
    for i in range(34):
        n = rng.choice([2, 3, 10, 100, rng.randrange(2, 3000)])
        p = rng.choice([0.5, 0.1, 0.9, rng.random()])
        truth = [int(rng.random() < p) for _ in range(n)]
        truth[rng.randrange(n)] = 0  # both classes present
        truth[rng.randrange(n)] = 1
        if truth.count(0) == 0:
            truth[truth.index(1)] = 0
        levels = rng.choice([None, 1000, 20, 3, 2])
        sep = rng.uniform(-0.2, 0.6)
        scores = []
        for t in truth:
            s = min(1.0, max(0.0, rng.gauss(0.4 + sep * t, 0.25)))
            if levels is not None:
                s = round(s * (levels - 1)) / (levels - 1)
            scores.append(s)
        name = "random_%02d_n%d_levels%s" % (i, n, levels)
        out.append((name, {"truth": truth, "scores": scores}))
    return out


# --- map_iou -------------------------------------------------------------------------------------

G1 = [0.0, 0.0, 10.0, 10.0]
G2 = [6.0, 0.0, 10.0, 10.0]


def patient(truth, predicted):
    return {"truth": truth, "predicted": predicted}


def map_iou_fixed():
    wide = [0.0, 0.0, 20.0, 1.0]
    cases = []
    # Prediction k/20 of a 20x1 box: IoU is exactly k/20, i.e. exactly on each threshold.
    for k in range(7, 17):
        p = patient([wide], [[0.9, 0.0, 0.0, float(k), 1.0]])
        cases.append(("iou_exactly_%02d_over_20" % k, [p]))
    # ... and a hair below each threshold.
    for k in (8, 10, 15):
        w = math.nextafter(float(k), 0.0)
        p = patient([wide], [[0.9, 0.0, 0.0, w, 1.0]])
        cases.append(("iou_just_below_%02d_over_20" % k, [p]))
    # Overlap off the origin: 3x4 of two 5x4 boxes, IoU 12 / 28 = 3/7.
    p = patient([[10.0, 10.0, 5.0, 4.0]], [[0.5, 12.0, 10.0, 5.0, 4.0]])
    cases.append(("iou_shifted_overlap", [p]))
    P1 = [0.9, 2.0, 0.0, 10.0, 10.0]  # IoU 2/3 with G1, 3/7 with G2
    P2 = [0.9, 0.0, 0.0, 10.0, 10.0]  # equals G1
    P3 = [0.9, 3.0, 0.0, 10.0, 10.0]  # IoU 7/13 with both G1 and G2
    cases += [
        ("equal_confidence_file_order_p1_first", [patient([G1, G2], [P1, P2])]),
        ("equal_confidence_file_order_p2_first", [patient([G1, G2], [P2, P1])]),
        ("confidence_descending_sort", [patient([G1, G2], [[0.5] + P1[1:], P2])]),
        # The tie for P3 goes to the truth box listed first.
        ("equal_iou_tie_first_truth_g1", [patient([G1, G2], [P3, [0.8] + G1])]),
        ("equal_iou_tie_first_truth_g2", [patient([G2, G1], [P3, [0.8] + G1])]),
        ("negative_skipped", [patient([G1], [[1.0] + G1]), patient([], [])]),
        (
            "negative_with_prediction_scores_zero",
            [patient([G1], [[1.0] + G1]), patient([], [[0.1] + G1])],
        ),
        (
            "truth_without_predictions_scores_zero",
            [patient([G1, G2], []), patient([G1], [[0.7] + G1])],
        ),
        ("all_skipped", [patient([], []) for _ in range(5)]),
        ("single_skipped", [patient([], [])]),
        (
            "more_predictions_than_truth",
            [patient([G1], [[0.9] + G1, [0.8] + G1, [0.7] + G1, [0.95, 50.0, 50.0, 5.0, 5.0]])],
        ),
        ("duplicate_predictions_two_truth", [patient([G1, G1], [[0.5] + G1, [0.5] + G1])]),
        (
            "zero_area_truth_union_zero",
            [patient([[5.0, 5.0, 0.0, 0.0]], [[0.9, 5.0, 5.0, 0.0, 0.0]])],
        ),
        ("touching_edges_no_overlap", [patient([G1], [[0.9, 10.0, 0.0, 10.0, 10.0]])]),
        ("confidence_zero_and_one", [patient([G1, G2], [[0.0] + G2, [1.0] + G1])]),
        # IoU 1/2 in exact arithmetic, rounded just below it in doubles: TP at 0.40, 0.45 only.
        (
            "huge_coordinates",
            [patient([[1e15, 1e15, 3e14, 2e14]], [[0.9, 1.1e15, 1e15, 3e14, 2e14]])],
        ),
        ("nested_boxes_quarter", [patient([[0.0, 0.0, 4.0, 4.0]], [[0.9, 0.0, 0.0, 2.0, 2.0]])]),
        (
            "low_confidence_good_box_after_bad",
            [patient([G1], [[0.9, 5.0, 5.0, 10.0, 10.0], [0.1] + G1])],
        ),
        ("error_no_patients", []),
    ]
    return cases


def jitter_box(rng, box, scale):
    x, y, w, h = box
    return [
        max(0.0, x + rng.gauss(0, scale * w)),
        max(0.0, y + rng.gauss(0, scale * h)),
        max(1.0, w * math.exp(rng.gauss(0, scale))),
        max(1.0, h * math.exp(rng.gauss(0, scale))),
    ]


def random_patients(rng, n, snap, conf_levels, scale):
    size = 1024.0
    patients = []
    for _ in range(n):
        truth = []
        if rng.random() < 1 / 3:
            for _ in range(rng.choice([1, 1, 2, 2, 3, 4])):
                w, h = rng.uniform(30, 300), rng.uniform(30, 400)
                truth.append([rng.uniform(0, size - w), rng.uniform(0, size - h), w, h])
        predicted = []
        for box in truth:
            for _ in range(rng.choice([0, 1, 1, 1, 2])):
                predicted.append(jitter_box(rng, box, scale))
        for _ in range(rng.choice([0, 0, 0, 1, 2])):  # false positives
            w, h = rng.uniform(20, 300), rng.uniform(20, 300)
            predicted.append([rng.uniform(0, size - w), rng.uniform(0, size - h), w, h])
        rng.shuffle(predicted)
        if snap:
            truth = [[float(round(v)) for v in b] for b in truth]
            predicted = [
                [float(round(x)), float(round(y)), float(max(1, round(w))), float(max(1, round(h)))]
                for x, y, w, h in predicted
            ]
        scored = []
        for b in predicted:
            c = rng.random()
            if conf_levels:
                c = round(c * conf_levels) / conf_levels
            scored.append([c] + b)
        patients.append(patient(truth, scored))
    return patients


def map_iou_cases(rng):
    out = [(name, {"patients": p}) for name, p in map_iou_fixed()]
    for i in range(50 - len(out) + 12):
        n = rng.choice([1, 5, 30, rng.randrange(1, 200)])
        snap = rng.random() < 0.5
        conf_levels = rng.choice([None, None, 4, 1])  # 1 => every confidence 0 or 1: many ties
        scale = rng.choice([0.02, 0.08, 0.2])
        coords = "int" if snap else "float"
        tag = "random_%02d_n%d_%s_conf%s_jit%s" % (i, n, coords, conf_levels, scale)
        out.append((tag, {"patients": random_patients(rng, n, snap, conf_levels, scale)}))
    return out


# --- mean_iou ------------------------------------------------------------------------------------


def image(predicted, truth):
    return {"predicted": predicted, "truth": truth}


def mean_iou_fixed():
    big = 2**40
    return [
        ("both_empty", [image([], [])]),
        ("prediction_empty", [image([], [[0, 10]])]),
        ("truth_empty", [image([[3, 4]], [])]),
        ("identical", [image([[0, 5], [9, 12]], [[0, 5], [9, 12]])]),
        ("disjoint", [image([[0, 5]], [[5, 10]])]),
        ("half_overlap_third", [image([[0, 10]], [[5, 15]])]),
        ("two_runs_vs_one", [image([[0, 4], [6, 10]], [[2, 8]])]),
        ("adjacent_runs_equal_merged", [image([[0, 3], [3, 6]], [[0, 6]])]),
        (
            "many_single_pixels_vs_block",
            [image([[i, i + 1] for i in range(0, 100, 2)], [[0, 100]])],
        ),
        ("containment", [image([[10, 20]], [[0, 100]])]),
        ("single_pixel_match", [image([[0, 1]], [[0, 1]])]),
        ("large_offsets", [image([[big, big + 3]], [[big + 1, big + 5]])]),
        ("mixed_images_mean", [image([], []), image([], [[0, 3]]), image([[0, 10]], [[5, 15]])]),
        ("all_empty_images", [image([], []) for _ in range(4)]),
        ("error_unsorted_runs", [image([[5, 8], [0, 2]], [[0, 1]])]),
        ("error_overlapping_runs", [image([[0, 1]], [[0, 5], [4, 8]])]),
        ("error_empty_run", [image([[3, 3]], [[0, 1]])]),
        ("error_no_images", []),
    ]


def random_mask(rng, n_pixels, density, mean_run):
    runs = []
    pos = 0
    while True:
        pos += max(1, int(rng.expovariate(density / mean_run)))
        length = max(1, int(rng.expovariate(1 / mean_run)))
        if pos >= n_pixels:
            return runs
        end = min(n_pixels, pos + length)
        runs.append([pos, end])
        pos = end


def perturb_mask(rng, runs, n_pixels, amount):
    out = []
    for b, e in runs:
        if rng.random() < 0.1:
            continue  # drop a run
        b = max(0, b + rng.randint(-amount, amount))
        e = min(n_pixels, e + rng.randint(-amount, amount))
        if out and b < out[-1][1]:
            b = out[-1][1]
        if b < e:
            out.append([b, e])
    return out


def mean_iou_cases(rng):
    out = [(name, {"images": imgs}) for name, imgs in mean_iou_fixed()]
    for i in range(50 - len(out) + 8):
        large = rng.random() < 0.25
        n_images = rng.choice([1, 3, 10, rng.randrange(1, 40)])
        images = []
        for _ in range(n_images):
            side = (100, 2000) if large else (1, 64)
            w, h = rng.randrange(*side), rng.randrange(*side)
            n_pixels = w * h
            mean_run = max(1, n_pixels // rng.choice([5, 50, 500]))
            truth = []
            if rng.random() >= 0.15:
                truth = random_mask(rng, n_pixels, rng.uniform(0.05, 0.6), mean_run)
            kind = rng.random()
            if kind < 0.1:
                pred = []
            elif kind < 0.2:
                pred = random_mask(rng, n_pixels, rng.uniform(0.05, 0.6), mean_run)
            else:
                pred = perturb_mask(rng, truth, n_pixels, max(1, mean_run // 4))
            images.append(image(pred, truth))
        name = "random_%02d_n%d_%s" % (i, n_images, "large" if large else "small")
        out.append((name, {"images": images}))
    return out


# --- output --------------------------------------------------------------------------------------

GENERATORS = {
    "accuracy": accuracy_cases,
    "roc_auc": roc_auc_cases,
    "map_iou": map_iou_cases,
    "mean_iou": mean_iou_cases,
}


def build_cases():
    """{metric: document} exactly as written to cases/<metric>.json."""
    docs = {}
    for k, (metric, make) in enumerate(GENERATORS.items()):
        rng = random.Random(SEED * 10 + k)  # one stream per metric: editing one leaves the others
        cases = []
        for name, inputs in make(rng):
            case = {"name": name, "input": inputs}
            try:
                case["expected"] = [[c, v] for c, v in ref.score_case(metric, inputs)]
            except ValueError:
                if not name.startswith("error_"):
                    raise
                case["error"] = "invalid_argument"
            else:
                if name.startswith("error_"):
                    raise AssertionError("%s/%s: expected an error" % (metric, name))
            cases.append(case)
        names = [c["name"] for c in cases]
        assert len(names) == len(set(names)), metric
        docs[metric] = {"metric": metric, "seed": SEED, "oracle": ref.ORACLE, "cases": cases}
    return docs


def dump(doc):
    # One case per line keeps diffs readable and the files compact.
    head = {k: v for k, v in doc.items() if k != "cases"}
    lines = [json.dumps(c, separators=(",", ":"), allow_nan=False) for c in doc["cases"]]
    body = json.dumps(head, separators=(",", ":"))[:-1]
    return body + ',"cases":[\n' + ",\n".join(lines) + "\n]}\n"


def main():
    CASES_DIR.mkdir(exist_ok=True)
    for metric, doc in build_cases().items():
        path = CASES_DIR / ("%s.json" % metric)
        path.write_text(dump(doc))
        print("%s: %d cases (oracle %s)" % (path.name, len(doc["cases"]), doc["oracle"]))


if __name__ == "__main__":
    main()
