#!/usr/bin/env python3
"""Deterministic generator of the five seeded competition bundles (synthetic holdouts).

The real datasets cannot be redistributed, so the hidden labels here are synthetic, drawn from a
fixed seed. The generated files are committed; running this script again reproduces them byte
for byte (a test checks that). Usage: apps/api/data/competitions/generate.py [--check]
"""
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261125
POLICY = {
    "scoring_mode": "single_realtime_hidden",
    "leaderboard_rule": "best_per_user",
    "evaluation_policy": "canonical_test_first",
}


def manifest(slug, title, description, metric, cap, id_column, targets, rows, dataset, params):
    m = {
        "slug": slug,
        "title": title,
        "description": description,
        "metric": metric,
        "metric_version": "1",
        "higher_is_better": True,
        "submission_cap_per_day": cap,
        "id_column": id_column,
        "target_columns": targets,
        "expected_row_count": rows,
        "evaluation_split_version": "v1",
        **POLICY,
        "dataset": dataset,
        "params": params,
    }
    return json.dumps(m, indent=2, ensure_ascii=False) + "\n"


def csv(header, rows):
    return "\n".join([",".join(header)] + [",".join(str(v) for v in r) for r in rows]) + "\n"


def titanic(rng):
    ids = list(range(892, 1310))
    labels = [1 if rng.random() < 0.38 else 0 for _ in ids]
    desc = (
        "# Titanic survival\n\nPredict whether each passenger survived (`1`) or not (`0`).\n\n"
        "**Metric: accuracy** — the share of the 418 test passengers whose `Survived` value equals "
        "the hidden label. Labels must be the integers `0` or `1` (`1.0` is not an integer).\n\n"
        "Submit a CSV with the columns `PassengerId,Survived`, one row per id of `test_ids.csv`, "
        "each id exactly once. The hidden labels are synthetic.\n"
    )
    return {
        "manifest.json": manifest("titanic-survival", "Titanic survival", desc, "accuracy", 20,
                                  "PassengerId", ["Survived"], len(ids),
                                  {"slug": "titanic", "title": "Titanic passengers",
                                   "source": "synthetic (MedForge generator)", "license": "CC0-1.0"},
                                  {"labels": [0, 1]}),
        "holdout_labels.csv": csv(["PassengerId", "Survived"], zip(ids, labels)),
        "test_ids.csv": csv(["PassengerId"], [[i] for i in ids]),
        "sample_submission.csv": csv(["PassengerId", "Survived"], [[i, 0] for i in ids]),
    }


def cifar(rng):
    ids = list(range(10000))
    labels = [rng.randrange(100) for _ in ids]
    desc = (
        "# CIFAR-100 classification\n\nPredict the class (`0`..`99`) of each test image.\n\n"
        "**Metric: accuracy** — the share of the 10,000 test images whose `label` equals the hidden "
        "class. Labels are integers in 0..99.\n\nColumns: `image_id,label`, each id of "
        "`test_ids.csv` exactly once. The hidden labels are synthetic.\n"
    )
    return {
        "manifest.json": manifest("cifar-100-classification", "CIFAR-100 classification", desc,
                                  "accuracy", 20, "image_id", ["label"], len(ids),
                                  {"slug": "cifar-100", "title": "CIFAR-100",
                                   "source": "synthetic (MedForge generator)", "license": "CC0-1.0"},
                                  {"labels": list(range(100))}),
        "holdout_labels.csv": csv(["image_id", "label"], zip(ids, labels)),
        "test_ids.csv": csv(["image_id"], [[i] for i in ids]),
        "sample_submission.csv": csv(["image_id", "label"], [[i, 0] for i in ids]),
    }


def pneumothorax(rng):
    ids = [f"cxr-{i:05d}" for i in range(2000)]
    labels = [1 if rng.random() < 0.22 else 0 for _ in ids]
    desc = (
        "# Chest X-ray pneumothorax\n\nPredict the probability that each image shows a "
        "pneumothorax.\n\n**Metric: ROC AUC** (binary) — the area under the ROC curve of your "
        "`label` probabilities against the hidden 0/1 labels; ties count half (the Mann-Whitney "
        "statistic). Probabilities are decimal numbers in [0, 1]; `nan`, `inf` and empty values "
        "are rejected.\n\nColumns: `image_id,label`, each id exactly once. Labels are synthetic.\n"
    )
    return {
        "manifest.json": manifest("chest-xray-pneumothorax", "Chest X-ray pneumothorax", desc,
                                  "roc_auc", 20, "image_id", ["label"], len(ids),
                                  {"slug": "chest-xray", "title": "Chest X-rays",
                                   "source": "synthetic (MedForge generator)", "license": "CC0-1.0"},
                                  {}),
        "holdout_labels.csv": csv(["image_id", "label"], zip(ids, labels)),
        "test_ids.csv": csv(["image_id"], [[i] for i in ids]),
        "sample_submission.csv": csv(["image_id", "label"], [[i, "0.5"] for i in ids]),
    }


def rsna(rng):
    patients = [f"{rng.getrandbits(64):016x}-{i:04d}" for i in range(3000)]
    rows = []
    for p in patients:
        if rng.random() < 1 / 3:
            for _ in range(rng.randint(1, 3)):
                w, h = rng.randint(60, 300), rng.randint(60, 400)
                x, y = rng.randint(0, 1024 - w), rng.randint(0, 1024 - h)
                rows.append([p, x, y, w, h, 1])
        else:
            rows.append([p, "", "", "", "", 0])
    desc = (
        "# RSNA pneumonia detection\n\nFind lung opacities as boxes.\n\n**Metric: mean average "
        "precision over IoU thresholds 0.40, 0.45, …, 0.75** (the RSNA rule). Per patient, your "
        "boxes are taken in descending confidence (ties keep file order) and each is matched to "
        "the unmatched true box with the highest IoU; a match at IoU ≥ t is a true positive. The "
        "patient's score at t is TP / (TP + FP + FN); the patient score is the mean over the 8 "
        "thresholds. A patient with no true boxes and no predicted boxes is skipped; a patient "
        "with no true boxes and any predicted box scores 0. The final score is the mean over "
        "scored patients.\n\nColumns: `patientId,confidence,x,y,width,height` with boxes as "
        "top-left corner plus size in pixels of the 1024×1024 image. A patient may have several "
        "rows; a patient without a detection has exactly one row with the five values empty. "
        "Every patient of `test_ids.csv` appears at least once. Boxes are synthetic.\n"
    )
    return {
        "manifest.json": manifest("rsna-pneumonia-detection", "RSNA pneumonia detection", desc,
                                  "map_iou", 10, "patientId",
                                  ["confidence", "x", "y", "width", "height"], len(rows),
                                  {"slug": "rsna-pneumonia", "title": "RSNA pneumonia chest X-rays",
                                   "source": "synthetic (MedForge generator)", "license": "CC0-1.0"},
                                  {"image_width": 1024, "image_height": 1024}),
        "holdout_labels.csv": csv(["patientId", "x", "y", "width", "height", "Target"], rows),
        "test_ids.csv": csv(["patientId"], [[p] for p in patients]),
        "sample_submission.csv": csv(["patientId", "confidence", "x", "y", "width", "height"],
                                     [[p, "", "", "", "", ""] for p in patients]),
    }


def rle_of(runs):
    return " ".join(f"{s + 1} {e - s}" for s, e in runs)


def pets(rng):
    ids = [f"pet-{i:04d}" for i in range(200)]
    sizes = [(rng.randint(64, 256), rng.randint(64, 256)) for _ in ids]
    masks = []
    for (w, h) in sizes:
        if rng.random() < 0.1:
            masks.append("")
            continue
        x0, x1 = sorted(rng.sample(range(w), 2))
        y0, y1 = sorted(rng.sample(range(h), 2))
        masks.append(rle_of([(y * w + x0, y * w + x1 + 1) for y in range(y0, y1 + 1)]))
    desc = (
        "# Oxford pet segmentation\n\nSegment the pet in each image.\n\n**Metric: mean IoU** — "
        "per image, |predicted ∩ true| / |predicted ∪ true| (1.0 when both masks are empty), "
        "averaged over the 200 images.\n\nMasks are run-length encoded: space-separated pairs "
        "`start length`, start 1-based, pixels numbered row-major over height × width (sizes in "
        "`test_ids.csv`); starts strictly increasing, runs inside the image and not overlapping. "
        "An empty field is the empty mask.\n\nColumns: `image_id,rle_mask`, each id exactly once. "
        "Masks are synthetic.\n"
    )
    return {
        "manifest.json": manifest("oxford-pet-segmentation", "Oxford pet segmentation", desc,
                                  "mean_iou", 20, "image_id", ["rle_mask"], len(ids),
                                  {"slug": "oxford-pets", "title": "Oxford-IIIT pets",
                                   "source": "synthetic (MedForge generator)", "license": "CC0-1.0"},
                                  {}),
        "holdout_labels.csv": csv(["image_id", "rle_mask"], zip(ids, masks)),
        "test_ids.csv": csv(["image_id", "width", "height"],
                            [[i, w, h] for i, (w, h) in zip(ids, sizes)]),
        "sample_submission.csv": csv(["image_id", "rle_mask"], [[i, ""] for i in ids]),
    }


def main():
    check = "--check" in sys.argv[1:]
    rng = random.Random(SEED)
    bundles = {
        "titanic-survival": titanic(rng),
        "rsna-pneumonia-detection": rsna(rng),
        "cifar-100-classification": cifar(rng),
        "oxford-pet-segmentation": pets(rng),
        "chest-xray-pneumothorax": pneumothorax(rng),
    }
    drift = []
    for slug, files in bundles.items():
        for name, text in files.items():
            path = HERE / slug / name
            if check:
                if not path.exists() or path.read_text() != text:
                    drift.append(str(path.relative_to(HERE)))
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    if drift:
        print("generated files differ from the generator:", *drift, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
