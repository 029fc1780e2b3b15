"""Competition administration: creating a competition from an uploaded bundle (validated like a
seeded one; all or nothing: no row and no folder after a refusal), and PATCH (title, description,
daily cap, closing and reopening)."""
from __future__ import annotations

import json
import os
import pathlib
import secrets
import stat

import pytest

from conftest import REPO_ROOT, ok, ok_list, problem

TITANIC = REPO_ROOT / "apps" / "api" / "data" / "competitions" / "titanic-survival"
SAMPLE = (TITANIC / "sample_submission.csv").read_bytes()


def new_slug(prefix: str = "adm") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def titanic_manifest(slug: str, **changes) -> dict:
    m = json.loads((TITANIC / "manifest.json").read_text())
    m["slug"] = slug
    m.update(changes)
    return m


def bundle_form(slug: str, *, manifest: bytes | dict | None = None, holdout: bytes | None = None,
                test_ids: bytes | None = None, sample: bytes | None = None,
                drop: str | None = None, extra: dict | None = None) -> dict:
    """The multipart fields of a bundle: titanic's files with `slug`, each replaceable."""
    if manifest is None:
        manifest = titanic_manifest(slug)
    if isinstance(manifest, dict):
        manifest = json.dumps(manifest).encode()
    form = {
        "manifest": ("manifest.json", manifest, "application/json"),
        "holdout_labels": ("holdout_labels.csv", holdout if holdout is not None
                           else (TITANIC / "holdout_labels.csv").read_bytes(), "text/csv"),
        "test_ids": ("test_ids.csv", test_ids if test_ids is not None
                     else (TITANIC / "test_ids.csv").read_bytes(), "text/csv"),
        "sample_submission": ("sample_submission.csv", sample if sample is not None else SAMPLE,
                              "text/csv"),
    }
    if drop:
        del form[drop]
    form.update(extra or {})
    return form


def create(api, who, form):
    return api.post("/api/v1/admin/competitions", files=form, token=who.token)


def bundles_dir(server) -> pathlib.Path:
    return server.workdir / "submissions" / "_bundles"


def bundle_folders(server) -> set[str]:
    d = bundles_dir(server)
    return {p.name for p in d.iterdir()} if d.is_dir() else set()


def competition_rows(server, slug: str) -> list:
    return server.db.query(f"SELECT slug, bundle_path, status FROM competitions WHERE slug = '{slug}'")


def upload(api, user, slug, data=SAMPLE, name="preds.csv"):
    return api.post(f"/api/v1/competitions/{slug}/submissions?filename={name}", data=data,
                    headers={"Content-Type": "text/csv"}, token=user.token)


@pytest.fixture(scope="module")
def created(server, api, admin) -> str:
    """One competition created through the API, shared by the read-only checks below."""
    slug = new_slug("made")
    ok(create(api, admin, bundle_form(slug)), 201)
    return slug


# ------------------------------------------------------------------------------------------
# POST /api/v1/admin/competitions
# ------------------------------------------------------------------------------------------


def test_create_returns_the_detail_and_the_competition_is_listed_and_scores(server, api, admin, user):
    slug = new_slug()
    before = bundle_folders(server)
    d = ok(create(api, admin, bundle_form(slug, manifest=titanic_manifest(slug, title="Made here"))), 201)
    assert d["slug"] == slug and d["title"] == "Made here" and d["status"] == "active"
    assert d["metric"] == "accuracy" and d["submission_cap_per_day"] == 20
    assert d["dataset"] == {"slug": "titanic", "title": "Titanic passengers"}
    assert d["remaining_today"] == 20 and d["created_at"] == d["updated_at"]

    items, _ = ok_list(api.get("/api/v1/competitions?limit=500"))
    assert slug in [c["slug"] for c in items]

    # Stored as <SUBMISSIONS_DIR>/_bundles/<slug>-<8 hex>/, the holdout private.
    [folder] = bundle_folders(server) - before
    assert folder.startswith(slug + "-") and len(folder) == len(slug) + 9
    path = bundles_dir(server) / folder
    assert sorted(p.name for p in path.iterdir()) == [
        "holdout_labels.csv", "manifest.json", "sample_submission.csv", "test_ids.csv"]
    assert stat.S_IMODE(os.stat(path / "holdout_labels.csv").st_mode) == 0o600
    assert (path / "holdout_labels.csv").read_bytes() == (TITANIC / "holdout_labels.csv").read_bytes()
    [(_, bundle_path, _)] = competition_rows(server, slug)
    assert pathlib.Path(bundle_path) == path

    # Public files are served from it; the holdout never is.
    r = api.get(f"/api/v1/competitions/{slug}/files/sample_submission.csv")
    assert r.status_code == 200 and r.content == SAMPLE
    problem(api.get(f"/api/v1/competitions/{slug}/files/holdout_labels.csv"), 404, "file_not_found")

    sub = ok(upload(api, user, slug), 201)
    assert sub["submission"]["status"] == "scored", sub
    seeded = ok(upload(api, user, "titanic-survival"), 201)
    assert sub["submission"]["official_score"]["primary_score"] == \
        seeded["submission"]["official_score"]["primary_score"]
    assert sub["remaining_today"] == 19


def test_a_new_dataset_gets_its_row(server, api, admin):
    slug = new_slug()
    ds = {"slug": new_slug("ds"), "title": "Another dataset", "source": "synthetic", "license": "CC0-1.0"}
    d = ok(create(api, admin, bundle_form(slug, manifest=titanic_manifest(slug, dataset=ds))), 201)
    assert d["dataset"] == {"slug": ds["slug"], "title": "Another dataset"}
    rows = server.db.query(f"SELECT title, license FROM datasets WHERE slug = '{ds['slug']}'")
    assert rows == [("Another dataset", "CC0-1.0")]


def test_an_existing_slug_is_409_and_leaves_nothing(server, api, admin, created):
    for slug in ("titanic-survival", created):
        before = bundle_folders(server)
        body = problem(create(api, admin, bundle_form(slug)), 409, "competition_exists")
        assert body["slug"] == slug
        assert bundle_folders(server) == before
        assert len(competition_rows(server, slug)) == 1


def _manifest_without(slug: str, key: str) -> dict:
    m = titanic_manifest(slug)
    del m[key]
    return m


def _holdout_with_bad_label() -> bytes:
    lines = (TITANIC / "holdout_labels.csv").read_text().splitlines()
    pid, _ = lines[3].split(",")
    lines[3] = f"{pid},7"
    return ("\n".join(lines) + "\n").encode()


def _test_ids_missing_one() -> bytes:
    lines = (TITANIC / "test_ids.csv").read_text().splitlines()
    return ("\n".join(lines[:-1]) + "\n").encode()


INVALID = {
    "manifest_not_json": (lambda s: bundle_form(s, manifest=b"{not json"), "manifest.json is not valid JSON"),
    "manifest_missing_field": (lambda s: bundle_form(s, manifest=_manifest_without(s, "metric")),
                               'manifest.json: "metric" is missing'),
    "holdout_bad_label": (lambda s: bundle_form(s, holdout=_holdout_with_bad_label()),
                          "holdout_labels.csv: line 4"),
    "test_ids_not_the_holdout": (lambda s: bundle_form(s, test_ids=_test_ids_missing_one()), "test_ids.csv"),
    "sample_not_valid": (lambda s: bundle_form(s, sample=b"PassengerId,Survived\n892,0\n"),
                         "sample_submission.csv does not pass validation"),
    "field_missing": (lambda s: bundle_form(s, drop="test_ids"), "no `test_ids` field"),
    "field_unexpected": (lambda s: bundle_form(s, extra={"notes": ("n.txt", b"x", "text/plain")}),
                         "unexpected field"),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_an_invalid_bundle_is_422_and_leaves_no_row_and_no_folder(server, api, admin, case):
    make, needle = INVALID[case]
    slug = new_slug()
    before = bundle_folders(server)
    body = problem(create(api, admin, make(slug)), 422, "bundle_invalid")
    assert needle in body["detail"], body
    assert competition_rows(server, slug) == []
    assert bundle_folders(server) == before
    problem(api.get(f"/api/v1/competitions/{slug}"), 404, "competition_not_found")


def test_the_bad_holdout_label_is_not_quoted(server, api, admin):
    body = problem(create(api, admin, bundle_form(new_slug(), holdout=_holdout_with_bad_label())),
                   422, "bundle_invalid")
    assert "7" not in body["detail"].split("line 4", 1)[1], body


def test_a_new_dataset_is_not_inserted_when_the_bundle_is_refused(server, api, admin):
    slug, ds_slug = new_slug(), new_slug("ds")
    ds = {"slug": ds_slug, "title": "t", "source": "s", "license": "l"}
    manifest = titanic_manifest(slug, dataset=ds)
    problem(create(api, admin, bundle_form(slug, manifest=manifest, holdout=_holdout_with_bad_label())),
            422, "bundle_invalid")
    assert server.db.query(f"SELECT slug FROM datasets WHERE slug = '{ds_slug}'") == []


def test_malformed_multipart_and_wrong_media_type(server, api, admin):
    before = bundle_folders(server)
    r = api.post("/api/v1/admin/competitions", data=b"--x\r\nnot a part", token=admin.token,
                 headers={"Content-Type": "multipart/form-data; boundary=x"})
    problem(r, 400, "invalid_multipart")
    r = api.post("/api/v1/admin/competitions", json={"manifest": {}}, token=admin.token)
    problem(r, 415, "unsupported_media_type")
    assert bundle_folders(server) == before


def test_only_admins_create(api, user):
    form = bundle_form(new_slug())
    problem(create(api, user, form), 403, "admin_required")
    problem(api.post("/api/v1/admin/competitions", files=form), 401, "authentication_required")


# ------------------------------------------------------------------------------------------
# PATCH /api/v1/admin/competitions/{slug}
# ------------------------------------------------------------------------------------------


def patch(api, who, slug, body):
    return api.patch(f"/api/v1/admin/competitions/{slug}", json=body, token=who.token)


def test_closing_refuses_uploads_hides_from_the_list_and_keeps_the_leaderboard(server, api, admin, user):
    slug = new_slug()
    ok(create(api, admin, bundle_form(slug)), 201)
    ok(upload(api, user, slug), 201)
    before = ok(api.get(f"/api/v1/competitions/{slug}"))

    d = ok(patch(api, admin, slug, {"status": "closed"}))
    assert d["status"] == "closed" and d["updated_at"] > before["updated_at"]
    assert d["created_at"] == before["created_at"]
    problem(upload(api, user, slug), 409, "competition_closed")
    items, _ = ok_list(api.get("/api/v1/competitions?limit=500"))
    assert slug not in [c["slug"] for c in items]
    assert ok(api.get(f"/api/v1/competitions/{slug}"))["status"] == "closed"
    board = ok(api.get(f"/api/v1/competitions/{slug}/leaderboard"))
    assert [e["user_id"] for e in board["entries"]] == [user.user_id]
    r = api.get(f"/api/v1/competitions/{slug}/files/test_ids.csv")
    assert r.status_code == 200

    d = ok(patch(api, admin, slug, {"status": "active"}))
    assert d["status"] == "active"
    items, _ = ok_list(api.get("/api/v1/competitions?limit=500"))
    assert slug in [c["slug"] for c in items]
    ok(upload(api, user, slug), 201)


def test_title_description_and_cap(server, api, admin, user):
    slug = new_slug()
    ok(create(api, admin, bundle_form(slug)), 201)
    ok(upload(api, user, slug), 201)
    d = ok(patch(api, admin, slug, {"title": "Renamed", "description": "# New\n\ntext",
                                    "submission_cap_per_day": 3}))
    assert (d["title"], d["description"], d["submission_cap_per_day"]) == ("Renamed", "# New\n\ntext", 3)
    assert d["metric"] == "accuracy" and d["status"] == "active"
    assert ok(api.get(f"/api/v1/competitions/{slug}", token=user.token))["remaining_today"] == 2
    sub = ok(upload(api, user, slug), 201)
    assert (sub["daily_cap"], sub["remaining_today"]) == (3, 1)
    ok(upload(api, user, slug), 201)
    problem(upload(api, user, slug), 429, "submission_cap_reached")
    d = ok(patch(api, admin, slug, {"submission_cap_per_day": 5}))
    assert ok(api.get(f"/api/v1/competitions/{slug}", token=user.token))["remaining_today"] == 2
    # The row is the truth: the stored manifest is not rewritten, and restarts keep the change.
    summary = next(c for c in ok_list(api.get("/api/v1/competitions?limit=500"))[0] if c["slug"] == slug)
    assert summary["title"] == "Renamed" and summary["submission_cap_per_day"] == 5


def test_an_empty_patch_changes_nothing(api, admin, created):
    before = ok(api.get(f"/api/v1/competitions/{created}"))
    after = ok(patch(api, admin, created, {}))
    assert after["updated_at"] == before["updated_at"]


@pytest.mark.parametrize("body", [
    {"status": "open"},
    {"status": "Closed"},
    {"submission_cap_per_day": 0},
    {"submission_cap_per_day": "5"},
    {"submission_cap_per_day": 1.5},
    {"submission_cap_per_day": 100001},
    {"title": ""},
    {"title": "   "},
    {"title": "x" * 256},
    {"title": 3},
    {"description": ""},
    {"slug": "other"},
    {"metric": "roc_auc"},
])
def test_invalid_patch_bodies_are_422(api, admin, created, body):
    before = ok(api.get(f"/api/v1/competitions/{created}"))
    problem(patch(api, admin, created, body), 422, "request_validation_failed")
    assert ok(api.get(f"/api/v1/competitions/{created}")) == before


def test_patch_needs_a_json_object_and_an_existing_competition(api, admin, user, created):
    r = api.patch(f"/api/v1/admin/competitions/{created}", data="status=closed", token=admin.token,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    problem(r, 415, "unsupported_media_type")
    r = api.patch(f"/api/v1/admin/competitions/{created}", data="[1]", token=admin.token,
                  headers={"Content-Type": "application/json"})
    problem(r, 422, "request_validation_failed")
    problem(patch(api, admin, "no-such-competition", {"status": "closed"}), 404, "competition_not_found")
    problem(patch(api, user, created, {"status": "closed"}), 403, "admin_required")
    problem(api.patch(f"/api/v1/admin/competitions/{created}", json={"status": "closed"}), 401,
            "authentication_required")
    assert ok(api.get(f"/api/v1/competitions/{created}"))["status"] == "active"
