#!/usr/bin/env python3
"""Whole-process pandas reference for the accuracy scoring benchmark (bench_scoring.sh).

Usage: score_accuracy_pandas.py BUNDLE_DIR SUBMISSION_CSV

Reads the bundle's manifest.json (id and label columns), then holdout_labels.csv and the
submission with pandas.read_csv (ids as strings, compared raw like the platform does), merges
them on the id and prints {"primary_score": mean of label equality, "rows": N,
"seconds_after_imports": ...} as one JSON line. No validation beyond "as many matched rows as
holdout rows". pandas/numpy only: scikit-learn (the spec's oracle) is not installable on the
build machine (python3-sklearn pulls python3-scipy, whose dependency chain conflicts with the
project's Boost 1.81 packages); accuracy_score is the same mean of equality.
"""
import json
import sys
import time

import numpy as np
import pandas as pd

START = time.perf_counter()


def main():
    bundle, submission = sys.argv[1], sys.argv[2]
    with open(f"{bundle}/manifest.json", encoding="utf-8") as f:
        manifest = json.load(f)
    id_col, label_col = manifest["id_column"], manifest["target_columns"][0]
    dtypes = {id_col: str}
    truth = pd.read_csv(f"{bundle}/holdout_labels.csv", dtype=dtypes)
    pred = pd.read_csv(submission, dtype=dtypes)
    merged = truth.merge(pred, on=id_col, how="inner", suffixes=("_true", "_pred"))
    if len(merged) != len(truth):
        print(f"score_accuracy_pandas: {len(truth) - len(merged)} holdout id(s) not matched",
              file=sys.stderr)
        return 1
    score = float(np.mean(merged[f"{label_col}_true"].to_numpy() ==
                          merged[f"{label_col}_pred"].to_numpy()))
    print(json.dumps({"primary_score": score, "rows": len(pred),
                      "seconds_after_imports": round(time.perf_counter() - START, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
