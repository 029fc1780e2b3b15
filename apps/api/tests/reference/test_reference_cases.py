"""Keeps the committed cross-check cases honest: the reference recomputes every expected score,
the generator reproduces every file, and the reference itself is pinned by hand-computed values.

    /usr/bin/python3 -m pytest -q apps/api/tests/reference

scikit-learn is optional: without it the exact pure-Python accuracy/roc_auc stand in (they agree
to rounding), and the checks that compare the two are skipped.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import make_cases
import metrics_reference as ref

CASES_DIR = Path(__file__).resolve().parent / "cases"
METRICS = ["accuracy", "roc_auc", "map_iou", "mean_iou"]
TOLERANCE = 1e-12  # sklearn's trapezoid vs the exact ratio differ by a few ulps at most


def load(metric):
    return json.loads((CASES_DIR / ("%s.json" % metric)).read_text())


@pytest.fixture(scope="module")
def regenerated():
    return make_cases.build_cases()


@pytest.mark.parametrize("metric", METRICS)
def test_committed_expected_values_match_the_reference(metric):
    doc = load(metric)
    assert doc["metric"] == metric
    assert len(doc["cases"]) >= 40
    for case in doc["cases"]:
        if "error" in case:
            with pytest.raises(ValueError):
                ref.score_case(metric, case["input"])
            continue
        got = ref.score_case(metric, case["input"])
        assert [name for name, _ in got] == [name for name, _ in case["expected"]], case["name"]
        for (name, value), (_, want) in zip(got, case["expected"]):
            assert value == pytest.approx(want, abs=TOLERANCE, rel=0), (case["name"], name)


@pytest.mark.parametrize("metric", METRICS)
def test_generator_reproduces_the_committed_file(metric, regenerated):
    committed_text = (CASES_DIR / ("%s.json" % metric)).read_text()
    doc = regenerated[metric]
    if doc["oracle"] == json.loads(committed_text)["oracle"]:
        assert make_cases.dump(doc) == committed_text, "rerun make_cases.py and commit cases/"
        return
    # Another oracle: same inputs, expected values equal to rounding.
    committed = json.loads(committed_text)
    assert [c["input"] for c in doc["cases"]] == [c["input"] for c in committed["cases"]]
    for new, old in zip(doc["cases"], committed["cases"]):
        assert ("error" in new) == ("error" in old)
        for (n1, v1), (n2, v2) in zip(new.get("expected", []), old.get("expected", [])):
            assert n1 == n2 and v1 == pytest.approx(v2, abs=TOLERANCE, rel=0)


@pytest.mark.skipif(ref.ORACLE != "sklearn", reason="scikit-learn not importable")
def test_exact_fallbacks_agree_with_sklearn():
    for case in load("accuracy")["cases"] + load("roc_auc")["cases"]:
        if "error" in case:
            continue
        inputs = case["input"]
        if "scores" in inputs:
            exact = ref.roc_auc_exact(inputs["truth"], inputs["scores"])
            sk = ref.roc_auc(inputs["truth"], inputs["scores"])[0][1]
        else:
            exact = ref.accuracy_exact(inputs["truth"], inputs["predicted"])
            sk = ref.accuracy(inputs["truth"], inputs["predicted"])[0][1]
        assert exact == pytest.approx(sk, abs=TOLERANCE, rel=0), case["name"]


def test_mask_sweep_matches_pixel_sets_on_small_cases():
    checked = 0
    for case in load("mean_iou")["cases"]:
        if "error" in case:
            continue
        for img in case["input"]["images"]:
            runs = img["predicted"] + img["truth"]
            if sum(e - b for b, e in runs) > 200_000:
                continue
            assert ref.mask_iou(img["predicted"], img["truth"]) == ref.mask_iou_pixels(
                img["predicted"], img["truth"]
            ), case["name"]
            checked += 1
    assert checked >= 100


# --- the reference itself, against hand-computed values ------------------------------------------


def primary(components):
    return components[0][1]


def test_roc_auc_ties_count_half():
    # positive 0.3: tie 0.5 + win 1; positive 0.9: 2 wins -> 3.5 / 4
    assert primary(ref.roc_auc([0, 1, 0, 1], [0.3, 0.3, 0.1, 0.9])) == 0.875
    assert ref.roc_auc_exact([0, 1, 0, 1], [0.3, 0.3, 0.1, 0.9]) == 0.875
    assert ref.roc_auc_exact([1, 0], [-0.0, 0.0]) == 0.5
    with pytest.raises(ValueError):
        ref.roc_auc([1, 1], [0.2, 0.3])


G1, G2 = [0.0, 0.0, 10.0, 10.0], [6.0, 0.0, 10.0, 10.0]
P1, P2 = [0.9, 2.0, 0.0, 10.0, 10.0], [0.9, 0.0, 0.0, 10.0, 10.0]


def one(truth, predicted):
    return ref.map_iou([{"truth": truth, "predicted": predicted}])


def test_map_iou_thresholds_are_inclusive():
    wide = [0.0, 0.0, 20.0, 1.0]
    for k in range(8, 16):  # IoU exactly k/20 is a TP at thresholds 0.40 .. k/20
        got = one([wide], [[0.9, 0.0, 0.0, float(k), 1.0]])
        assert primary(got) == (k - 7) / 8
        assert [v for _, v in got[1:]] == [1.0] * (k - 7) + [0.0] * (15 - k)


def test_map_iou_equal_confidence_keeps_file_order():
    assert primary(one([G1, G2], [P1, P2])) == pytest.approx(1 / 3, abs=1e-15)
    assert primary(one([G1, G2], [P2, P1])) == pytest.approx(5 / 12, abs=1e-15)


def test_map_iou_equal_iou_goes_to_the_first_truth_box():
    p3 = [0.9, 3.0, 0.0, 10.0, 10.0]  # IoU 7/13 with both G1 and G2
    assert primary(one([G1, G2], [p3, [0.8] + G1])) == pytest.approx(1 / 3, abs=1e-15)
    assert primary(one([G2, G1], [p3, [0.8] + G1])) == pytest.approx(7 / 12, abs=1e-15)


def test_map_iou_negative_patients():
    perfect = {"truth": [G1], "predicted": [[1.0] + G1]}
    skipped = {"truth": [], "predicted": []}
    false_alarm = {"truth": [], "predicted": [[0.1] + G1]}
    assert primary(ref.map_iou([perfect, skipped])) == 1.0
    assert primary(ref.map_iou([perfect, false_alarm, skipped])) == 0.5
    assert ref.map_iou([skipped, skipped]) == [("primary", 1.0)] + [
        ("iou_%.2f" % (k / 20), 1.0) for k in range(8, 16)
    ]
    assert ref.box_iou([5, 5, 0, 0], [5, 5, 0, 0]) == 0.0  # union 0


def test_mean_iou_empty_masks():
    assert ref.mask_iou([], []) == 1.0
    assert ref.mask_iou([], [[0, 10]]) == 0.0
    assert ref.mask_iou([[0, 4], [6, 10]], [[2, 8]]) == 0.4
    images = [{"predicted": [], "truth": []}, {"predicted": [], "truth": [[0, 3]]}]
    assert primary(ref.mean_iou(images)) == 0.5
    assert not math.isnan(ref.mask_iou([[0, 1]], [[1, 2]]))
