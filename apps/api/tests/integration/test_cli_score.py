"""`medforge score`: offline validation and scoring with the platform's own code (exit 0/1/2)."""
import json
import shutil
import subprocess

import pytest

from conftest import CLI_BIN, REPO_ROOT, base_env

BUNDLES = REPO_ROOT / "apps" / "api" / "data" / "competitions"
SLUGS = ["titanic-survival", "rsna-pneumonia-detection", "cifar-100-classification",
         "oxford-pet-segmentation", "chest-xray-pneumothorax"]


def score(*args):
    env = base_env()
    env["COMPETITIONS_DIR"] = str(BUNDLES)
    proc = subprocess.run([str(CLI_BIN), "score", "--json", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=60)
    out = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, out, proc.stderr


def test_generated_bundles_match_the_generator():
    subprocess.run(["/usr/bin/python3", str(BUNDLES / "generate.py"), "--check"], check=True)


@pytest.mark.parametrize("slug", SLUGS)
def test_every_seeded_sample_submission_scores(slug):
    rc, out, err = score("--competition", slug, BUNDLES / slug / "sample_submission.csv")
    assert rc == 0, err
    assert list(out) == ["status", "primary_score", "components", "rows"]
    assert out["status"] == "scored" and 0.0 <= out["primary_score"] <= 1.0
    assert out["components"]["primary"] == out["primary_score"]
    rows = len((BUNDLES / slug / "sample_submission.csv").read_text().splitlines()) - 1
    assert out["rows"] == rows
    if slug == "rsna-pneumonia-detection":
        assert sorted(k for k in out["components"] if k != "primary") == [
            f"iou_0.{k * 5:02d}" for k in range(8, 16)]


def test_the_holdout_itself_scores_perfectly(tmp_path):
    sub = tmp_path / "perfect.csv"
    shutil.copy(BUNDLES / "titanic-survival" / "holdout_labels.csv", sub)
    rc, out, _ = score("--bundle", BUNDLES / "titanic-survival", sub)
    assert (rc, out["primary_score"]) == (0, 1.0)
    seg = tmp_path / "seg.csv"
    shutil.copy(BUNDLES / "oxford-pet-segmentation" / "holdout_labels.csv", seg)
    rc, out, _ = score("--competition", "oxford-pet-segmentation", seg)
    assert (rc, out["primary_score"]) == (0, 1.0)


@pytest.mark.parametrize("body,needle", [
    ("PassengerId,Survived\n892,0\n892,1\n", 'line 3, column "PassengerId": duplicate id'),
    ("PassengerId\n892\n", 'column "Survived": required column is missing'),
    ("PassengerId,Survived\n892,1.0\n", 'line 2, column "Survived"'),
    ("PassengerId,Survived\n892,7\n", 'line 2, column "Survived": is not one of the allowed'),
    ("PassengerId,Survived\n\n\n99999,0\n", 'line 4, column "PassengerId": id is not in the test set'),
    ("PassengerId,Survived\n892,0\n", "417 id(s) of the test set are missing"),
    ("PassengerId,Survived\n", "no data rows"),
    ('PassengerId,Survived\n892,"0\n', "line 2"),
    ("PassengerId,Survived\n892,0\x00\n", "line 2"),
])
def test_invalid_submissions_exit_1_with_line_and_column(tmp_path, body, needle):
    f = tmp_path / "sub.csv"
    f.write_bytes(body.encode())
    rc, out, _ = score("--competition", "titanic-survival", f)
    assert rc == 1 and out["status"] == "invalid", out
    assert needle in out["error"], out["error"]


def test_roc_auc_and_map_iou_value_rules(tmp_path):
    f = tmp_path / "p.csv"
    ids = (BUNDLES / "chest-xray-pneumothorax" / "test_ids.csv").read_text().splitlines()[1:]
    f.write_text("image_id,label\n" + "".join(f"{i},nan\n" for i in ids))
    rc, out, _ = score("--competition", "chest-xray-pneumothorax", f)
    assert rc == 1 and 'line 2, column "label"' in out["error"]
    pid = (BUNDLES / "rsna-pneumonia-detection" / "test_ids.csv").read_text().splitlines()[1]
    f.write_text(f"patientId,confidence,x,y,width,height\n{pid},0.5,1,2,,4\n")
    rc, out, _ = score("--competition", "rsna-pneumonia-detection", f)
    assert rc == 1 and "all empty" in out["error"] and "line 2" in out["error"]


def test_bad_bundle_exits_2(tmp_path):
    bundle = tmp_path / "b"
    shutil.copytree(BUNDLES / "titanic-survival", bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["expected_row_count"] = 417
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    rc, out, _ = score("--bundle", bundle, bundle / "sample_submission.csv")
    assert rc == 2 and out["status"] == "bundle_error" and "expected_row_count" in out["error"]
    (bundle / "test_ids.csv").write_text("PassengerId\n892\n")
    manifest["expected_row_count"] = 418
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    rc, out, _ = score("--bundle", bundle, bundle / "sample_submission.csv")
    assert rc == 2 and "test_ids.csv" in out["error"]


def test_usage_errors_exit_2(tmp_path):
    rc, _, err = score("--competition", "titanic-survival", tmp_path / "missing.csv")
    assert rc == 2 and "cannot open" in err
    rc, _, err = score("--competition", "titanic-survival", "--bundle", BUNDLES, "x.csv")
    assert rc == 2
    rc, _, err = score(BUNDLES / "titanic-survival" / "sample_submission.csv")
    assert rc == 2
