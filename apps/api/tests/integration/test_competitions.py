"""The competition catalog: seeding from the bundles, list/detail, remaining submissions today, and
the two public files (never the holdout)."""
import datetime as dt

from conftest import REPO_ROOT, ok, ok_list, problem

BUNDLES = REPO_ROOT / "apps" / "api" / "data" / "competitions"
SLUGS = sorted(["titanic-survival", "rsna-pneumonia-detection", "cifar-100-classification",
                "oxford-pet-segmentation", "chest-xray-pneumothorax"])


def test_seeded_competitions_are_listed_by_slug(api):
    items, meta = ok_list(api.get("/api/v1/competitions"))
    assert [c["slug"] for c in items] == SLUGS
    assert meta["has_more"] is False
    titanic = next(c for c in items if c["slug"] == "titanic-survival")
    assert titanic == {"slug": "titanic-survival", "title": "Titanic survival", "metric": "accuracy",
                       "higher_is_better": True, "submission_cap_per_day": 20, "status": "active",
                       "dataset_slug": "titanic"}


def test_pagination_walks_every_competition(api):
    seen, cursor = [], None
    while True:
        path = "/api/v1/competitions?limit=2" + (f"&cursor={cursor}" if cursor else "")
        items, meta = ok_list(api.get(path))
        seen += [c["slug"] for c in items]
        if not meta["has_more"]:
            break
        cursor = meta["next_cursor"]
    assert seen == SLUGS
    problem(api.get("/api/v1/competitions?limit=0"), 400, "invalid_limit")
    problem(api.get("/api/v1/competitions?cursor=nope"), 400, "invalid_cursor")


def test_detail_has_description_and_no_cap_info_when_anonymous(api):
    d = ok(api.get("/api/v1/competitions/rsna-pneumonia-detection"))
    assert d["metric"] == "map_iou" and d["submission_cap_per_day"] == 10
    assert d["description"].startswith("# RSNA pneumonia detection")
    assert d["dataset"] == {"slug": "rsna-pneumonia", "title": "RSNA pneumonia chest X-rays"}
    assert "remaining_today" not in d and "cap_resets_at" not in d


def test_detail_for_a_logged_in_caller_has_remaining_today(api, user):
    d = ok(api.get("/api/v1/competitions/titanic-survival", token=user.token))
    assert d["remaining_today"] == 20
    resets = dt.datetime.strptime(d["cap_resets_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    now = dt.datetime.utcnow()
    assert (resets.hour, resets.minute, resets.second, resets.microsecond) == (0, 0, 0, 0)
    assert dt.timedelta(0) < resets - now <= dt.timedelta(days=1)


def test_unknown_competition_is_404(api):
    for slug in ("nope", "Titanic-Survival", "a" * 200, "%2e%2e", "titanic-survival%00"):
        problem(api.get(f"/api/v1/competitions/{slug}"), 404, "competition_not_found")


def test_public_files_download_and_nothing_else(api):
    for name in ("sample_submission.csv", "test_ids.csv"):
        r = api.get(f"/api/v1/competitions/titanic-survival/files/{name}")
        assert r.status_code == 200
        assert r.headers["Content-Type"].startswith("text/csv")
        assert "attachment" in r.headers["Content-Disposition"]
        assert r.content == (BUNDLES / "titanic-survival" / name).read_bytes()
    for name in ("holdout_labels.csv", "manifest.json", "..%2fmanifest.json", "%2e%2e", "x.csv"):
        r = api.get(f"/api/v1/competitions/titanic-survival/files/{name}")
        assert r.status_code == 404, name
        assert "Survived" not in r.text
    problem(api.get("/api/v1/competitions/nope/files/test_ids.csv"), 404, "competition_not_found")


def test_cli_seed_inserts_once(tmp_path):
    import subprocess
    from conftest import CLI_BIN, base_env
    env = base_env()
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path}/seed.db", "COMPETITIONS_DIR": str(BUNDLES),
                "DATASETS_ROOT": str(tmp_path / "datasets"), "SESSION_SECRET": "x" * 64})
    first = subprocess.run([str(CLI_BIN), "seed"], env=env, capture_output=True, text=True)
    assert first.returncode == 0 and "competitions added: 5" in first.stdout, first.stderr
    again = subprocess.run([str(CLI_BIN), "seed"], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "competitions added: 0" in again.stdout
