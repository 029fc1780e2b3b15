#!/usr/bin/env python3
"""Pure-Python reference for the map_iou scoring benchmark (bench_scoring.sh).

Usage: score_map_iou.py BUNDLE_DIR SUBMISSION_CSV

Standard library only (csv, json). The RSNA rule as docs/competitions.md states it: thresholds
0.40, 0.45, ..., 0.75 (k/20 for k = 8..15); per patient the predicted boxes are taken in descending
confidence (a stable sort, so ties keep file order) and each is matched to the unmatched true box
with the highest IoU (the earliest in holdout order on a tie); a match at IoU >= t is a true
positive; the patient's score at t is TP / (TP + FP + FN) and the patient score the mean over the
8 thresholds. A patient with neither true nor predicted boxes is skipped, one with predictions
but no true boxes scores 0; the result is the mean over scored patients (1.0 when none is
scored). Boxes are x, y, width, height (top-left corner plus size).

Prints {"primary_score", "components", "rows", "seconds_after_imports"} as one JSON line. Only
light checks (unknown patient ids, all-or-nothing empty rows); the C++ validates fully.
"""
import csv
import json
import sys
import time

START = time.perf_counter()
THRESHOLDS = [k / 20 for k in range(8, 16)]
NAMES = ["iou_%.2f" % t for t in THRESHOLDS]


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = min(ax + aw, bx + bw) - max(ax, bx)
    iy = min(ay + ah, by + bh) - max(ay, by)
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def patient_scores(truth, predicted):
    """TP / (TP + FP + FN) per threshold for a patient with truth or predictions."""
    if not truth:
        return [0.0] * len(THRESHOLDS)
    ranked = sorted(predicted, key=lambda p: -p[0])
    ious = [[iou(p[1], g) for g in truth] for p in ranked]
    out = []
    for t in THRESHOLDS:
        free = [True] * len(truth)
        tp = 0
        for row in ious:
            best = -1
            for g, v in enumerate(row):
                if free[g] and (best < 0 or v > row[best]):
                    best = g
            if best >= 0 and row[best] >= t:
                free[best] = False
                tp += 1
        out.append(tp / (len(predicted) + len(truth) - tp))
    return out


def main():
    bundle, submission = sys.argv[1], sys.argv[2]
    with open(f"{bundle}/manifest.json", encoding="utf-8") as f:
        id_col = json.load(f)["id_column"]

    truth = {}  # patient -> [(x, y, w, h)], holdout order (dicts keep insertion order)
    with open(f"{bundle}/holdout_labels.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            boxes = truth.setdefault(row[id_col], [])
            if row["Target"] == "1":
                boxes.append((float(row["x"]), float(row["y"]), float(row["width"]),
                              float(row["height"])))

    predicted = {p: [] for p in truth}  # patient -> [(confidence, (x, y, w, h))], file order
    rows = 0
    with open(submission, newline="", encoding="utf-8-sig") as f:
        fields = ("confidence", "x", "y", "width", "height")
        for row in csv.DictReader(f):
            rows += 1
            values = [row[c] for c in fields]
            boxes = predicted.get(row[id_col])
            if boxes is None:
                raise SystemExit(f"line {rows + 1}: unknown id {row[id_col]!r}")
            empty = sum(v == "" for v in values)
            if empty == len(fields):
                continue
            if empty:
                raise SystemExit(f"line {rows + 1}: some of the five values are empty")
            c, x, y, w, h = map(float, values)
            boxes.append((c, (x, y, w, h)))

    sums = [0.0] * len(THRESHOLDS)
    patient_sum = 0.0
    scored = 0
    for p, gt in truth.items():
        preds = predicted[p]
        if not gt and not preds:
            continue
        total = 0.0  # plain left-to-right additions (sum() is compensated from Python 3.12)
        for k, v in enumerate(patient_scores(gt, preds)):
            sums[k] += v
            total += v
        patient_sum += total / len(THRESHOLDS)
        scored += 1
    if scored == 0:
        primary, comps = 1.0, [1.0] * len(THRESHOLDS)
    else:
        primary, comps = patient_sum / scored, [v / scored for v in sums]
    print(json.dumps({"primary_score": primary,
                      "components": {"primary": primary, **dict(zip(NAMES, comps))},
                      "rows": rows,
                      "seconds_after_imports": round(time.perf_counter() - START, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
