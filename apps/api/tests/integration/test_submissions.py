"""Uploads: the order of checks (cap → size → complete validation → stored file → queued row →
auto-score), every validation rule with a hostile file, no cap consumed and no file left by a
rejected upload, raw text/csv and multipart bodies, and the cap under parallel uploads."""
import hashlib
import http.client
import pathlib

import pytest

from conftest import (RawConn, assert_no_leak, check_raw_problem, ok, ok_list, problem,
                      run_threads, unique_email)
from submission_support import (BUNDLES, TITANIC, copy_bundle, remaining_today, stored_files,
                                 titanic_csv, upload)

SAMPLE = (BUNDLES / TITANIC / "sample_submission.csv").read_bytes()
TEN_MIB = 10 * 1024 * 1024


def test_raw_csv_upload_is_stored_validated_and_scored(api, server, user):
    before = remaining_today(api, user.token, TITANIC)
    body = titanic_csv(300)
    r = upload(api, user.token, TITANIC, body, "my-preds.csv")
    data = ok(r, 201)
    sub = data["submission"]
    assert data["daily_cap"] == 20 and data["remaining_today"] == before - 1
    assert sub["status"] == "scored" and sub["filename"] == "my-preds.csv"
    assert sub["row_count"] == 418 and sub["competition_slug"] == TITANIC
    score = sub["official_score"]
    assert score["primary_score"] == pytest.approx(300 / 418, abs=1e-12)
    assert score["components"] == {"primary": score["primary_score"]}
    assert score["metric"] == "accuracy" and score["evaluation_split_version"] == "v1"
    assert len(score["manifest_sha256"]) == 64
    # stored by id under SUBMISSIONS_DIR/<slug>/<user_id>/<id>.csv, byte for byte
    path = pathlib.Path(server.env["SUBMISSIONS_DIR"]) / TITANIC / user.user_id / f"{sub['id']}.csv"
    assert path.read_bytes() == body
    rows = server.db.query(f"SELECT artifact_sha256, status FROM submissions WHERE id = '{sub['id']}'")
    assert rows == [(hashlib.sha256(body).hexdigest(), "scored")]
    # no temporary file is left behind
    incoming = pathlib.Path(server.env["SUBMISSIONS_DIR"]) / ".incoming"
    assert not any(incoming.iterdir())
    assert remaining_today(api, user.token, TITANIC) == before - 1


def test_multipart_upload_uses_the_part_filename(api, user):
    sub = ok(upload(api, user.token, TITANIC, SAMPLE, "sample.csv", multipart=True), 201)["submission"]
    assert sub["filename"] == "sample.csv" and sub["status"] == "scored"
    # a path in the filename keeps only its last component
    sub = ok(upload(api, user.token, TITANIC, SAMPLE, "../../etc/evil.csv", multipart=True),
             201)["submission"]
    assert sub["filename"] == "evil.csv"


def test_other_sample_submissions_score(api, user):
    for slug in ("rsna-pneumonia-detection", "cifar-100-classification", "oxford-pet-segmentation",
                 "chest-xray-pneumothorax"):
        body = (BUNDLES / slug / "sample_submission.csv").read_bytes()
        sub = ok(upload(api, user.token, slug, body, multipart=True), 201)["submission"]
        assert sub["status"] == "scored", slug
        assert isinstance(sub["official_score"]["primary_score"], float)
    rsna = ok_list(api.get("/api/v1/competitions/rsna-pneumonia-detection/submissions/me",
                           token=user.token))[0][0]
    assert set(rsna["official_score"]["components"]) == {"primary"} | {
        f"iou_{t / 100:.2f}" for t in range(40, 80, 5)}


HEADER = b"PassengerId,Survived\n"
IDS = [pid for pid, _ in __import__("submission_support").titanic_labels()]


def rows(values: dict | None = None, drop: set | None = None, extra: list | None = None) -> bytes:
    out = []
    for pid in IDS:
        if drop and pid in drop:
            continue
        out.append(f"{pid},{(values or {}).get(pid, '0')}")
    out += extra or []
    return ("\n".join(out) + "\n").encode()


# (name, slug, body, filename, expected fragment of the detail)
HOSTILE = [
    ("not csv name", TITANIC, HEADER + rows(), "preds.txt", ".csv"),
    ("empty file", TITANIC, b"", "e.csv", "line 1"),
    ("header only", TITANIC, HEADER, "h.csv", "no data"),
    ("missing column", TITANIC, b"PassengerId\n892\n", "m.csv", '"Survived"'),
    ("duplicate header", TITANIC, b"PassengerId,Survived,Survived\n892,0,0\n", "d.csv", "line 1"),
    ("unknown id", TITANIC, HEADER + rows(extra=["9999,0"]), "u.csv", "line 420"),
    ("missing id", TITANIC, HEADER + rows(drop={"900"}), "mi.csv", "missing"),
    ("repeated id", TITANIC, HEADER + rows(extra=["892,1"]), "r.csv", "line 420"),
    ("label not allowed", TITANIC, HEADER + rows({"895": "2"}), "l.csv", 'line 5, column "Survived"'),
    ("float label", TITANIC, HEADER + rows({"893": "1.0"}), "f.csv", 'line 3, column "Survived"'),
    ("empty label", TITANIC, HEADER + rows({"893": ""}), "f.csv", 'line 3, column "Survived"'),
    ("trailing garbage", TITANIC, HEADER + rows({"894": "1x"}), "g.csv", 'line 4, column "Survived"'),
    ("raw id differs", TITANIC, HEADER + rows(drop={"892"}, extra=["892.0,0"]), "i.csv", "line 419"),
    ("invalid utf-8", TITANIC, HEADER + rows(extra=["\xff"]).replace(b"\xc3\xbf", b"\xff"), "u8.csv",
     "line 420"),
    ("nul byte", TITANIC, HEADER + b"892,0\x00\n", "n.csv", "line 2"),
    ("lone cr", TITANIC, HEADER + b"892,0\r893,0\n", "cr.csv", "line 2"),
    ("quote in unquoted field", TITANIC, HEADER + b'89"2,0\n', "q.csv", "line 2"),
    ("too many fields", TITANIC, HEADER + b"892,0,1\n", "tf.csv", "line 2"),
    ("unterminated quote storm", TITANIC, HEADER + b'"' * 200000, "qs.csv", "line 2"),
    ("nan probability", "chest-xray-pneumothorax", b"image_id,label\ncxr-00000,nan\n", "p.csv",
     'line 2, column "label"'),
    ("probability above 1", "chest-xray-pneumothorax", b"image_id,label\ncxr-00000,1.5\n", "p.csv",
     'line 2, column "label"'),
    ("overflowing float", "chest-xray-pneumothorax", b"image_id,label\ncxr-00000,1e999\n", "p.csv",
     'line 2, column "label"'),
    ("box row mixed with empty", "rsna-pneumonia-detection",
     b"patientId,confidence,x,y,width,height\n4f10dfa35717b5d9-0000,,,,,\n"
     b"4f10dfa35717b5d9-0000,0.5,1,1,10,10\n", "b.csv", "line 3"),
    ("negative width", "rsna-pneumonia-detection",
     b"patientId,confidence,x,y,width,height\n4f10dfa35717b5d9-0000,0.5,1,1,-10,10\n", "b.csv",
     'line 2, column "width"'),
    ("bad rle token", "oxford-pet-segmentation", b"image_id,rle_mask\npet-0000,1 x\n", "s.csv",
     'line 2, column "rle_mask"'),
    ("rle out of image", "oxford-pet-segmentation",
     b"image_id,rle_mask\npet-0000,36171 10\n", "s.csv", 'line 2, column "rle_mask"'),
    ("overlapping runs", "oxford-pet-segmentation", b"image_id,rle_mask\npet-0000,1 5 3 2\n",
     "s.csv", 'line 2, column "rle_mask"'),
    ("ten thousand columns", TITANIC, b",".join(b"c%d" % i for i in range(10000)) + b"\n", "w.csv",
     "line 1"),
]


@pytest.mark.parametrize("name,slug,body,filename,fragment", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_files_are_refused_and_leave_nothing(api, server, user, name, slug, body, filename,
                                                     fragment):
    before_left = remaining_today(api, user.token, slug)
    before_files = stored_files(server)
    for multipart in (False, True):
        body_ = problem(upload(api, user.token, slug, body, filename, multipart=multipart), 422,
                        "submission_invalid")
        assert fragment in body_["detail"], body_["detail"]
        assert_no_leak(body_["detail"])
    assert remaining_today(api, user.token, slug) == before_left
    assert stored_files(server) == before_files
    count = server.db.query(f"SELECT COUNT(*) FROM submissions WHERE user_id = '{user.user_id}'")
    assert count == [("0",)]


def test_missing_filename_media_type_and_multipart_errors(api, user):
    problem(upload(api, user.token, TITANIC, SAMPLE, None), 422, "submission_invalid")
    problem(api.post(f"/api/v1/competitions/{TITANIC}/submissions?filename=a.csv", token=user.token,
                     data=SAMPLE, headers={"Content-Type": "application/json"}), 415,
            "unsupported_media_type")
    problem(api.post(f"/api/v1/competitions/{TITANIC}/submissions", token=user.token,
                     files={"other": ("a.csv", SAMPLE, "text/csv")}), 422, "submission_invalid")
    problem(api.post(f"/api/v1/competitions/{TITANIC}/submissions", token=user.token,
                     data=b"--xyz\r\nnot a part", headers={
                         "Content-Type": "multipart/form-data; boundary=xyz"}), 400,
            "invalid_multipart")
    problem(api.post(f"/api/v1/competitions/{TITANIC}/submissions", token=user.token,
                     files=[("file", ("a.csv", SAMPLE, "text/csv")),
                            ("file", ("b.csv", SAMPLE, "text/csv"))]), 422, "submission_invalid")


def test_size_limit_with_length_known_and_chunked(api, server, user):
    before = remaining_today(api, user.token, TITANIC)
    # within the framing allowance: the file itself is measured (422 with both sizes)
    big = SAMPLE + b"\n" * (TEN_MIB + 1 - len(SAMPLE))
    body = problem(upload(api, user.token, TITANIC, big, "big.csv"), 422, "submission_too_large")
    assert body["max_bytes"] == TEN_MIB and body["size_bytes"] == TEN_MIB + 1
    body = problem(upload(api, user.token, TITANIC, big, "big.csv", multipart=True), 422,
                   "submission_too_large")
    assert body["max_bytes"] == TEN_MIB and body["size_bytes"] == TEN_MIB + 1
    # beyond it: refused from Content-Length before the body is read
    huge = b"0" * (TEN_MIB + 200 * 1024)
    body = problem(upload(api, user.token, TITANIC, huge, "huge.csv"), 422, "submission_too_large")
    assert body["size_bytes"] == len(huge)
    # chunked (no length): cut off while streaming
    def gen():
        for _ in range(12):
            yield b"1" * (1024 * 1024)
    body = problem(upload(api, user.token, TITANIC, gen(), "chunked.csv"), 422,
                   "submission_too_large")
    assert body["max_bytes"] == TEN_MIB and body["size_bytes"] > TEN_MIB
    assert remaining_today(api, user.token, TITANIC) == before
    incoming = pathlib.Path(server.env["SUBMISSIONS_DIR"]) / ".incoming"
    assert not any(incoming.iterdir())


def test_expect_continue_and_refusal_before_the_body(server, api, user):
    # curl-style upload: the server answers 100 Continue, then the result
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("POST", f"/api/v1/competitions/{TITANIC}/submissions?filename=c.csv")
    conn.putheader("Cookie", f"medforge_session={user.token}")
    conn.putheader("Content-Type", "text/csv")
    conn.putheader("Content-Length", str(len(SAMPLE)))
    conn.putheader("Expect", "100-continue")
    conn.endheaders()
    conn.sock.settimeout(5)
    first = conn.sock.recv(64)
    assert first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    conn.send(SAMPLE)
    resp = conn.getresponse()
    assert resp.status == 201
    conn.close()
    # an anonymous upload is refused from the header alone: the body is never waited for
    with RawConn(server.port) as c:
        c.send(f"POST /api/v1/competitions/{TITANIC}/submissions?filename=a.csv HTTP/1.1\r\n"
               f"Host: x\r\nContent-Type: text/csv\r\nContent-Length: 5000000\r\n\r\n".encode())
        check_raw_problem(c.read_response(), 401, "authentication_required")


def test_unknown_competition_and_origin_guard(api, user):
    problem(upload(api, user.token, "no-such-comp", SAMPLE), 404, "competition_not_found")
    problem(upload(api, user.token, TITANIC, SAMPLE,
                   headers={"Origin": "http://s-abcdefgh.medforge.localhost:8080"}), 403,
            "origin_not_allowed")
    problem(upload(api, None, TITANIC, SAMPLE), 401, "authentication_required")


def test_my_submissions_and_submission_by_id(api, user, other_user, admin):
    ids = [ok(upload(api, user.token, TITANIC, titanic_csv(k)), 201)["submission"]["id"]
           for k in (100, 200, 300)]
    items, meta = ok_list(api.get(f"/api/v1/competitions/{TITANIC}/submissions/me?limit=2",
                                  token=user.token))
    assert [s["id"] for s in items] == ids[::-1][:2] and meta["has_more"]
    rest, meta = ok_list(api.get(f"/api/v1/competitions/{TITANIC}/submissions/me?limit=2&cursor="
                                 f"{meta['next_cursor']}", token=user.token))
    assert [s["id"] for s in rest] == [ids[0]] and not meta["has_more"]
    one = ok(api.get(f"/api/v1/submissions/{ids[1]}", token=user.token))
    assert one["official_score"]["primary_score"] == pytest.approx(200 / 418)
    assert "attempts" not in one
    problem(api.get(f"/api/v1/submissions/{ids[1]}", token=other_user.token), 403)
    assert ok(api.get(f"/api/v1/submissions/{ids[1]}", token=admin.token))["attempts"] == 1
    problem(api.get("/api/v1/submissions/not-a-uuid", token=user.token), 404, "submission_not_found")
    problem(api.get("/api/v1/submissions/00000000-0000-4000-8000-000000000000", token=user.token),
            404, "submission_not_found")
    assert ok_list(api.get(f"/api/v1/competitions/{TITANIC}/submissions/me",
                           token=other_user.token))[0] == []


@pytest.fixture
def capped(server_factory, tmp_path):
    """A server with a competition whose cap is 5, auto-score on."""
    comps = tmp_path / "bundles"
    comps.mkdir()
    copy_bundle(comps, "capped-five", submission_cap_per_day=5)
    return server_factory.start(env={"COMPETITIONS_DIR": str(comps)})


def test_parallel_uploads_never_overshoot_the_cap(capped):
    api = capped.api
    u = api.signup(unique_email("cap"))
    # a refused (invalid) upload first: it must not count
    problem(upload(api, u.token, "capped-five", b"PassengerId,Survived\n", "bad.csv"), 422)
    results = run_threads([lambda: upload(api, u.token, "capped-five", SAMPLE, "s.csv")
                           for _ in range(20)])
    codes = sorted(r.status_code for r in results)
    assert codes == [201] * 5 + [429] * 15, codes
    for r in results:
        if r.status_code == 429:
            body = problem(r, 429, "submission_cap_reached")
            assert body["daily_cap"] == 5 and body["cap_resets_at"].endswith("T00:00:00.000000Z")
            assert int(r.headers["Retry-After"]) >= 1
    counted = capped.db.query(
        f"SELECT COUNT(*) FROM submissions WHERE user_id = '{u.user_id}' AND counts_toward_cap = 1")
    assert counted == [("5",)]
    files = [p for p in stored_files(capped) if ".incoming" not in p.parts]
    assert len(files) == 5
    # the next one is refused before its body is read
    problem(upload(api, u.token, "capped-five", SAMPLE, "s.csv"), 429, "submission_cap_reached")
    assert ok(api.get("/api/v1/competitions/capped-five", token=u.token))["remaining_today"] == 0
    # another user has their own cap
    v = api.signup(unique_email("cap2"))
    ok(upload(api, v.token, "capped-five", SAMPLE, "s.csv"), 201)


def test_tolerated_forms_are_accepted(api, user):
    """BOM, CRLF mixed with LF, blank lines, quoted fields, extra and reordered columns, an
    unnamed index column: all valid, and the score is the same as the plain file's."""
    plain = titanic_csv(250)
    lines = plain.decode().splitlines()[1:]
    out = ["\ufeff,Survived,extra,PassengerId"]
    for i, line in enumerate(lines):
        pid, label = line.split(",")
        out.append(f'{i},"{label}","x, ""y""\nz",{pid}')
        if i % 100 == 0:
            out.append("")
    body = ("\r\n".join(out[:200]) + "\n" + "\n".join(out[200:]) + "\n").encode()
    sub = ok(upload(api, user.token, TITANIC, body, "FORMS.CSV"), 201)["submission"]
    assert sub["official_score"]["primary_score"] == pytest.approx(250 / 418)
    assert sub["row_count"] == 418


def test_openapi_describes_the_upload_bodies(api):
    doc = api.get("/api/v1/openapi.json").json()
    doc = doc.get("data", doc) if "paths" not in doc else doc
    upload_body = doc["paths"]["/api/v1/competitions/{slug}/submissions"]["post"]["requestBody"]
    assert set(upload_body["content"]) == {"multipart/form-data", "text/csv"}
    assert upload_body["content"]["multipart/form-data"]["schema"]["required"] == ["file"]
    create = doc["paths"]["/api/v1/admin/competitions"]["post"]["requestBody"]["content"]
    assert set(create) == {"multipart/form-data"}
    assert set(create["multipart/form-data"]["schema"]["required"]) == {
        "manifest", "holdout_labels", "test_ids", "sample_submission"}
