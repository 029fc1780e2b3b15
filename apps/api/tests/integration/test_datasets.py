"""Datasets: the catalog, detail with the top-level files, folder listings, and file downloads
(Range, confinement to the dataset's folder, bounded memory for large files)."""

from __future__ import annotations

import hashlib
import os
import pathlib
import re
import socket
import time
import urllib.parse

import pytest

from conftest import (REPO_ROOT, RawConn, assert_meta, check_raw_problem, ok, ok_list, problem,
                      raw_request)

BUNDLES = REPO_ROOT / "apps" / "api" / "data" / "competitions"
# dataset slug -> the competition bundle it was seeded from
DATASETS = {
    "chest-xray": "chest-xray-pneumothorax",
    "cifar-100": "cifar-100-classification",
    "oxford-pets": "oxford-pet-segmentation",
    "rsna-pneumonia": "rsna-pneumonia-detection",
    "titanic": "titanic-survival",
}
SLUGS = sorted(DATASETS)
PUBLIC_FILES = ["README.md", "sample_submission.csv", "test_ids.csv"]
FILES = "/api/v1/datasets/{slug}/files/{path}"
SECRET = "TOP-SECRET-OUTSIDE-THE-ROOT"


def files_url(slug: str, path: str) -> str:
    return FILES.format(slug=slug, path=path)


def listing(resp) -> tuple[dict, dict]:
    """A folder listing: data {path, entries} with list meta (limit, next_cursor, has_more)."""
    data = ok(resp)
    meta = resp.json()["meta"]
    assert set(data) == {"path", "entries"}, data
    assert meta["has_more"] == (meta["next_cursor"] is not None), meta
    return data, meta


def rss_peak_kib(pid: int) -> int:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture(scope="module")
def root(server) -> pathlib.Path:
    return pathlib.Path(server.env["DATASETS_ROOT"])


@pytest.fixture(scope="module")
def pets(root) -> pathlib.Path:
    """Extra content in oxford-pets: nested folders, hidden entries, symlinks in and out."""
    d = root / "oxford-pets"
    (d / "images" / "train").mkdir(parents=True)
    for name in ("b.png", "a.png", "c.png"):
        (d / "images" / name).write_bytes(name.encode() * 10)
    (d / "images" / "train" / "x.bin").write_bytes(b"\x00\x01\x02")
    (d / "images" / ".hidden.png").write_bytes(b"hidden")
    (d / ".git").mkdir()
    (d / ".git" / "config").write_text("[core]\n")
    secret = root.parent / "secret.txt"
    secret.write_text(SECRET)
    (d / "leak.txt").symlink_to(secret)
    (d / "leak-dir").symlink_to(root.parent)
    (d / "images" / "inside-link.png").symlink_to(d / "images" / "a.png")
    (d / "loop").symlink_to("loop")
    return d


# ------------------------------------------------------------------------------------------
# catalog and detail
# ------------------------------------------------------------------------------------------


def test_seeded_datasets_are_listed_by_slug(api):
    items, meta = ok_list(api.get("/api/v1/datasets"))
    assert [d["slug"] for d in items] == SLUGS
    assert meta["has_more"] is False and meta["limit"] == 50
    titanic = next(d for d in items if d["slug"] == "titanic")
    assert titanic == {"slug": "titanic", "title": "Titanic passengers",
                       "source": "synthetic (MedForge generator)"}


def test_pagination_walks_every_dataset(api):
    seen, cursor = [], None
    while True:
        path = "/api/v1/datasets?limit=2" + (f"&cursor={cursor}" if cursor else "")
        items, meta = ok_list(api.get(path))
        assert len(items) <= 2 and meta["limit"] == 2
        seen += [d["slug"] for d in items]
        if not meta["has_more"]:
            break
        cursor = meta["next_cursor"]
    assert seen == SLUGS
    for bad in ("0", "501", "x", "-1"):
        problem(api.get(f"/api/v1/datasets?limit={bad}"), 400, "invalid_limit")
    problem(api.get("/api/v1/datasets?cursor=nope"), 400, "invalid_cursor")


def test_detail_lists_the_public_files_and_never_the_labels(api, root):
    d = ok(api.get("/api/v1/datasets/titanic"))
    assert {k: d[k] for k in ("slug", "title", "source", "license")} == {
        "slug": "titanic", "title": "Titanic passengers",
        "source": "synthetic (MedForge generator)", "license": "CC0-1.0"}
    assert [f["name"] for f in d["files"]] == PUBLIC_FILES
    assert all(f["type"] == "file" for f in d["files"])
    assert d["files_truncated"] is False
    bundle = BUNDLES / "titanic-survival"
    sizes = {f["name"]: f["size"] for f in d["files"]}
    for name in ("sample_submission.csv", "test_ids.csv"):
        assert sizes[name] == (bundle / name).stat().st_size
    # bytes and checksum describe the folder as seeded: SHA-256 over "name\0size\n" in name order.
    assert d["bytes"] == sum(sizes.values())
    listing_text = "".join(f"{n}\0{sizes[n]}\n" for n in sorted(sizes))
    assert d["checksum"] == hashlib.sha256(listing_text.encode()).hexdigest()
    text = str(d)
    for forbidden in ("holdout", "manifest", str(root)):
        assert forbidden not in text


def test_every_seeded_folder_holds_only_public_files(root):
    for slug, bundle in DATASETS.items():
        if slug == "oxford-pets":
            continue  # the module adds test content there
        assert sorted(p.name for p in (root / slug).iterdir()) == PUBLIC_FILES, slug
        for name in ("sample_submission.csv", "test_ids.csv"):
            assert (root / slug / name).read_bytes() == (BUNDLES / bundle / name).read_bytes()
        holdout = (BUNDLES / bundle / "holdout_labels.csv").read_bytes()
        readme = (root / slug / "README.md").read_text()
        assert readme.startswith("# ") and "CC0-1.0" in readme
        # No holdout row beyond the header can be found anywhere in the dataset.
        rows = [r for r in holdout.decode().splitlines()[1:] if r]
        sample = (root / slug / "sample_submission.csv").read_text()
        assert not all(r in sample for r in rows), f"{slug}: sample equals the holdout"
    assert not list(root.glob(".*.seed-*")), "temporary seed folders were left behind"


def test_unknown_dataset_is_404(api):
    for slug in ("nope", "Titanic", "a" * 200, "%2e%2e", "titanic%00", "..%2ftitanic"):
        problem(api.get(f"/api/v1/datasets/{slug}"), 404, "dataset_not_found")
        problem(api.get(files_url(slug, "README.md")), 404, "dataset_not_found")


# ------------------------------------------------------------------------------------------
# downloads
# ------------------------------------------------------------------------------------------


def test_download_whole_file(api):
    data = (BUNDLES / "titanic-survival" / "test_ids.csv").read_bytes()
    r = api.get(files_url("titanic", "test_ids.csv"))
    assert r.status_code == 200, r.text
    assert r.content == data
    assert r.headers["Content-Type"] == "text/csv"
    assert r.headers["Content-Length"] == str(len(data))
    assert r.headers["Content-Disposition"] == 'attachment; filename="test_ids.csv"'
    assert r.headers["Accept-Ranges"] == "bytes"
    assert re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', r.headers["ETag"])
    assert r.headers["Cache-Control"] == "no-store" and r.headers.get("X-Request-Id")
    readme = api.get(files_url("titanic", "README.md"))
    assert readme.status_code == 200
    assert readme.headers["Content-Type"] == "text/markdown"
    assert readme.text.startswith("# Titanic passengers")


def test_range_requests(api):
    data = (BUNDLES / "titanic-survival" / "sample_submission.csv").read_bytes()
    n = len(data)
    url = files_url("titanic", "sample_submission.csv")
    cases = {
        "bytes=0-9": (0, 9),
        "bytes=-5": (n - 5, n - 1),
        "bytes=100-": (100, n - 1),
        f"bytes=10-{n + 1000}": (10, n - 1),
        f"bytes=-{n * 2}": (0, n - 1),
        f"bytes={n - 1}-{n - 1}": (n - 1, n - 1),
    }
    for header, (first, last) in cases.items():
        r = api.get(url, headers={"Range": header})
        assert r.status_code == 206, (header, r.status_code, r.text[:200])
        assert r.content == data[first:last + 1], header
        assert r.headers["Content-Range"] == f"bytes {first}-{last}/{n}", header
        assert r.headers["Content-Length"] == str(last - first + 1)
        assert r.headers["Content-Type"] == "text/csv"
    # Ignored ranges (several, bad syntax, another unit) send the whole file with 200.
    for header in ("bytes=0-1,5-6", "bytes=5-1", "bytes=x-", "items=0-1"):
        r = api.get(url, headers={"Range": header})
        assert r.status_code == 200 and r.content == data, header
        assert "Content-Range" not in r.headers
    # If-Range: the range holds only for the current version of the file.
    etag = api.get(url).headers["ETag"]
    assert api.get(url, headers={"Range": "bytes=0-0", "If-Range": etag}).status_code == 206
    r = api.get(url, headers={"Range": "bytes=0-0", "If-Range": '"stale"'})
    assert r.status_code == 200 and r.content == data


def test_unsatisfiable_range_is_416(api):
    n = (BUNDLES / "titanic-survival" / "test_ids.csv").stat().st_size
    for header in (f"bytes={n}-", f"bytes={n + 10}-{n + 20}", "bytes=-0"):
        r = api.get(files_url("titanic", "test_ids.csv"), headers={"Range": header})
        problem(r, 416, "range_not_satisfiable")
        assert r.headers["Content-Range"] == f"bytes */{n}", header


def test_competition_files_are_streamed_with_ranges_too(api):
    data = (BUNDLES / "titanic-survival" / "test_ids.csv").read_bytes()
    url = "/api/v1/competitions/titanic-survival/files/test_ids.csv"
    r = api.get(url, headers={"Range": "bytes=2-5"})
    assert r.status_code == 206 and r.content == data[2:6]
    assert r.headers["Content-Disposition"] == 'attachment; filename="titanic-survival-test_ids.csv"'
    r = api.get(url)
    assert r.status_code == 200 and r.content == data
    assert r.headers["Content-Type"].startswith("text/csv")


def test_large_file_streams_with_bounded_memory(api, server, root):
    size = 50 * 1024 * 1024
    big = root / "cifar-100" / "big.bin"
    with open(big, "wb") as f:  # sparse, with real bytes at both ends
        f.write(b"HEAD")
        f.seek(size - 4)
        f.write(b"TAIL")
    try:
        before = rss_peak_kib(server.proc.pid)
        r = api.get(files_url("cifar-100", "big.bin"), stream=True)
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "application/octet-stream"
        assert r.headers["Content-Length"] == str(size)
        got, first, last = 0, b"", b""
        for chunk in r.iter_content(1 << 20):
            if not first:
                first = chunk[:4]
            got += len(chunk)
            last = (last + chunk)[-4:]
        assert (got, first, last) == (size, b"HEAD", b"TAIL")
        grown_kib = rss_peak_kib(server.proc.pid) - before
        assert grown_kib < 16 * 1024, f"peak RSS grew by {grown_kib} KiB for a {size >> 20} MiB file"
        r = api.get(files_url("cifar-100", "big.bin"), headers={"Range": f"bytes={size - 6}-"})
        assert r.status_code == 206 and r.content == b"\x00\x00TAIL"
    finally:
        big.unlink()


# ------------------------------------------------------------------------------------------
# folders
# ------------------------------------------------------------------------------------------


def test_folder_listing_is_sorted_and_hides_what_is_not_served(api, pets):
    data, meta = listing(api.get(files_url("oxford-pets", "images")))
    assert data["path"] == "images"
    assert data["entries"] == [
        {"name": "a.png", "size": 50, "type": "file"},
        {"name": "b.png", "size": 50, "type": "file"},
        {"name": "c.png", "size": 50, "type": "file"},
        {"name": "train", "size": 0, "type": "dir"},
    ]
    assert meta["has_more"] is False and meta["limit"] == 500
    data, _ = listing(api.get(files_url("oxford-pets", "images/train/")))
    assert data == {"path": "images/train", "entries": [{"name": "x.bin", "size": 3, "type": "file"}]}
    # The dataset's top level: hidden entries and symlinks are left out.
    names = [f["name"] for f in ok(api.get("/api/v1/datasets/oxford-pets"))["files"]]
    assert names == ["README.md", "images", "sample_submission.csv", "test_ids.csv"]


def test_folder_listing_pages(api, pets):
    seen, cursor = [], None
    while True:
        q = "?limit=1" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        data, meta = listing(api.get(files_url("oxford-pets", "images") + q))
        assert len(data["entries"]) <= 1
        seen += [e["name"] for e in data["entries"]]
        if not meta["has_more"]:
            break
        cursor = meta["next_cursor"]
    assert seen == ["a.png", "b.png", "c.png", "train"]
    problem(api.get(files_url("oxford-pets", "images") + "?limit=0"), 400, "invalid_limit")
    problem(api.get(files_url("oxford-pets", "images") + "?cursor=zzz"), 400, "invalid_cursor")


def test_nested_download(api, pets):
    r = api.get(files_url("oxford-pets", "images/train/x.bin"))
    assert r.status_code == 200 and r.content == b"\x00\x01\x02"
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert r.headers["Content-Disposition"] == 'attachment; filename="x.bin"'
    r = api.get(files_url("oxford-pets", "images/a.png"))
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"


# ------------------------------------------------------------------------------------------
# confinement (raw requests: HTTP clients normalise "..")
# ------------------------------------------------------------------------------------------

HOSTILE_PATHS = [
    "../../../../etc/passwd",
    "..",
    "../titanic/README.md",
    "images/../../titanic/README.md",
    "images/../a.png",
    "./README.md",
    "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "%2E%2E%2F%2E%2E%2Fsecret.txt",
    "..%2f..%2fsecret.txt",
    "%2Fetc%2Fpasswd",
    "%2F%2Fetc%2Fpasswd",
    "README.md%00.png",
    "%00",
    "%252e%252e/%252e%252e/secret.txt",
    "..%5c..%5csecret.txt",
    "images%2f..%2f..%2fsecret.txt",
    "leak.txt",
    "leak-dir/secret.txt",
    "leak-dir",
    "images/inside-link.png",
    "loop",
    "loop/x",
    ".git/config",
    ".git",
    "images/.hidden.png",
    "missing.csv",
    "README.md/",
    "README.md/x",
    "a//b",
    "images//a.png",
    "x" * 300,
    "/".join(["d"] * 70),
    "a/" * 2000 + "b",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS, ids=lambda p: p[:40])
def test_paths_leaving_the_root_or_hidden_are_404(server, pets, path):
    resp = raw_request(server.port, f"GET {files_url('oxford-pets', path)} HTTP/1.1\r\n"
                                    f"Host: x\r\nConnection: close\r\n\r\n".encode())
    body = check_raw_problem(resp, 404, "file_not_found")
    text = resp.body.decode("utf-8", "replace")
    assert SECRET not in text and "root:" not in text
    assert str(server.workdir) not in text and "datasets/" not in body["detail"]


@pytest.mark.parametrize("path", ["", "/etc/passwd", "/"])
def test_empty_or_absolute_wildcard_is_not_a_file_route(server, path):
    resp = raw_request(server.port, f"GET /api/v1/datasets/titanic/files/{path} HTTP/1.1\r\n"
                                    f"Host: x\r\nConnection: close\r\n\r\n".encode())
    check_raw_problem(resp, 404, "route_not_found")


def test_problem_instance_keeps_the_request_path(api):
    body = problem(api.get(files_url("titanic", "nope.csv")), 404, "file_not_found")
    assert body["instance"] == files_url("titanic", "nope.csv")


def test_symlinked_dataset_root_is_allowed(api, root):
    """The dataset folder itself is configuration and may be a symlink (e.g. to a bigger disk)."""
    real = root.parent / "chest-real"
    (root / "chest-xray").rename(real)
    (root / "chest-xray").symlink_to(real)
    try:
        r = api.get(files_url("chest-xray", "test_ids.csv"))
        assert r.status_code == 200
        assert r.content == (BUNDLES / "chest-xray-pneumothorax" / "test_ids.csv").read_bytes()
    finally:
        (root / "chest-xray").unlink()
        real.rename(root / "chest-xray")


def test_keep_alive_after_downloads_and_errors(server):
    """A file response, a 206, a 416 and a 404 on one connection, all framed correctly."""
    data = (BUNDLES / "titanic-survival" / "test_ids.csv").read_bytes()
    url = files_url("titanic", "test_ids.csv")
    with RawConn(server.port) as c:
        c.send(f"GET {url} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert c.read_response().body == data
        c.send(f"GET {url} HTTP/1.1\r\nHost: x\r\nRange: bytes=1-3\r\n\r\n".encode())
        r = c.read_response()
        assert (r.status, r.body) == (206, data[1:4])
        c.send(f"GET {url} HTTP/1.1\r\nHost: x\r\nRange: bytes={len(data)}-\r\n\r\n".encode())
        check_raw_problem(c.read_response(), 416, "range_not_satisfiable")
        c.send(f"GET {files_url('titanic', '..')} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        check_raw_problem(c.read_response(), 404, "file_not_found")
        c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().status == 200


def test_openapi_renders_the_wildcard_as_a_path_parameter(api):
    doc = api.get("/api/v1/openapi.json").json()
    assert not any("..." in p for p in doc["paths"]), sorted(doc["paths"])
    op = doc["paths"]["/api/v1/datasets/{slug}/files/{path}"]["get"]
    params = {(p["name"], p["in"]) for p in op["parameters"]}
    assert {("slug", "path"), ("path", "path"), ("limit", "query"), ("cursor", "query")} <= params
    assert set(op["responses"]) >= {"200", "206", "404", "416"}
    assert set(op["responses"]["200"]["content"]) == {"application/json", "application/octet-stream"}
    comp = doc["paths"]["/api/v1/competitions/{slug}/files/{name}"]["get"]
    assert set(comp["responses"]["200"]["content"]) == {"text/csv"}
    assert "206" in comp["responses"] and "416" in comp["responses"]
    for path in ("/api/v1/datasets", "/api/v1/datasets/{slug}"):
        assert doc["paths"][path]["get"]["x-medforge-access"] == "anon"


def test_request_ids_and_envelope_on_listing(api, pets):
    r = api.get(files_url("oxford-pets", "images"), headers={"X-Request-Id": "list-1"})
    body = r.json()
    assert_meta(body, r.headers)
    assert body["meta"]["request_id"] == "list-1"
    assert os.path.basename(body["data"]["path"]) == "images"


# ------------------------------------------------------------------------------------------
# write deadlines for long downloads (HTTP_BODY_TIMEOUT_SECONDS=2)
# ------------------------------------------------------------------------------------------


def _download_socket(srv, path: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # keep the kernel from buffering it all
    s.connect(("127.0.0.1", srv.port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    return s


@pytest.fixture
def slow_server(server_factory):
    srv = server_factory.start(env={"HTTP_BODY_TIMEOUT_SECONDS": "2"})
    big = pathlib.Path(srv.env["DATASETS_ROOT"]) / "titanic" / "big.bin"
    with open(big, "wb") as f:
        f.truncate(16 * 1024 * 1024)
    return srv


def _drain(s: socket.socket, pause: float = 0.0, step: int = 64 * 1024) -> int:
    got = 0
    s.settimeout(10)
    while True:
        try:
            chunk = s.recv(step)
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += len(chunk)
        if pause:
            time.sleep(pause)
    return got


def test_a_slow_steady_reader_outlasts_the_write_deadline(slow_server):
    # About 3 MB/s: the kernel's send buffer drains well within a deadline, the whole body does not.
    started = time.monotonic()
    with _download_socket(slow_server, files_url("titanic", "big.bin")) as s:
        got = _drain(s, pause=0.02)
    assert time.monotonic() - started > 3, "the download should have taken longer than the deadline"
    assert got > 16 * 1024 * 1024, got  # headers + the whole body


def test_a_reader_that_stops_is_cut_off(slow_server):
    with _download_socket(slow_server, files_url("titanic", "big.bin")) as s:
        time.sleep(4)  # the server's write stalls for longer than its deadline
        got = _drain(s)
    assert got < 16 * 1024 * 1024, got
    assert slow_server.api.get("/healthz").status_code == 200
