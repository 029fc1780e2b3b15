"""infra/zfs/setup.sh against a real (userspace) ZFS: zfs-fuse, started by
scripts/zfs-throwaway.sh, which also gives an existing pool to lay the datasets out in.

zfs-fuse predates lz4, so these runs pass --compression lzjb (or ZFS_COMPRESSION); that the
default is lz4 is checked by the clear refusal zfs-fuse answers it with."""

import secrets

import pytest

from conftest import REPO, ZFS_SETUP, poll, require_root_and, run

LEAVES = ("medforge/workspaces", "medforge/system/db")
ALL = ("medforge", "medforge/workspaces", "medforge/system", "medforge/system/db")


@pytest.fixture(scope="module")
def zfs(tmp_path_factory):
    require_root_and("zfs-fuse", "zpool", "zfs")
    work = tmp_path_factory.mktemp("zfs")
    throwaway = work / "throwaway"
    made = []
    run([REPO / "scripts" / "zfs-throwaway.sh", "start", throwaway])
    try:
        env = dict(line.split("=", 1) for line in (throwaway / "env").read_text().split())
        yield {"pool": env["MEDFORGE_TEST_ZFS_POOL"], "work": work, "made": made}
    finally:
        # Pools of our own go first: the throwaway stops the daemon only when none is left.
        for pool in made:
            destroy(pool)
        run([REPO / "scripts" / "zfs-throwaway.sh", "stop", throwaway])


def pool_exists(pool):
    return run(["zpool", "list", "-H", "-o", "name", pool], check=False).returncode == 0


def destroy(pool):
    # zfs-fuse unmounts nested datasets asynchronously: "busy" for a moment is normal.
    def gone():
        if not pool_exists(pool):
            return True
        r = run(["zpool", "destroy", "-f", pool], check=False)
        assert r.returncode == 0 or "busy" in r.stderr, r.stderr
        return r.returncode == 0
    poll(gone, f"zpool destroy {pool}", deadline_s=30, every_s=0.2)


def get(prop, dataset):
    return run(["zfs", "get", "-H", "-o", "value", prop, dataset]).stdout.strip()


def get_all(pool):
    # Everything ZFS says about the datasets, except what the clock or the last write moves.
    moving = {"used", "available", "referenced", "usedbydataset", "usedbychildren", "written",
              "logicalused", "logicalreferenced", "compressratio", "refcompressratio"}
    out = run(["zfs", "get", "-H", "-r", "-o", "name,property,value,source", "all", pool]).stdout
    return [line for line in out.splitlines() if line.split("\t")[1] not in moving]


def zfs_setup(*args, env=None, check=True):
    return run([ZFS_SETUP, *args], env=env, check=check)


def test_loopback_pool_layout_is_idempotent_and_repairs_drift(zfs):
    pool = "mfinfra" + secrets.token_hex(4)
    image = zfs["work"] / f"{pool}.img"
    mount = zfs["work"] / f"{pool}-mnt"
    args = ["--pool", pool, "--loopback", image, "--size", "256M", "--mountpoint", mount,
            "--compression", "lzjb"]

    dry = zfs_setup(*args, "--dry-run")
    assert f"would run: zpool create -m {mount} {pool} {image}" in dry.stdout, dry.stdout
    assert f"would run: zfs create -o compression=lzjb -o atime=off {pool}/medforge" in dry.stdout
    assert f"would run: zfs create {pool}/medforge/system/db" in dry.stdout
    assert not pool_exists(pool) and not image.exists(), "--dry-run made something"

    zfs["made"].append(pool)
    first = zfs_setup(*args)
    assert "done: 6 change(s)" in first.stdout, first.stdout
    for ds in ALL:
        assert get("type", f"{pool}/{ds}") == "filesystem"
        assert get("compression", f"{pool}/{ds}") == "lzjb"
        assert get("atime", f"{pool}/{ds}") == "off"
    for leaf in LEAVES:
        assert get("mountpoint", f"{pool}/{leaf}") == f"{mount}/{leaf}"
    state = get_all(pool)

    again = zfs_setup(*args)
    assert "nothing to change" in again.stdout, again.stdout
    assert "run:" not in again.stdout, again.stdout
    assert get_all(pool) == state

    # Someone overrides a property below: the next run puts it back, on that dataset only.
    run(["zfs", "set", "atime=on", f"{pool}/medforge/workspaces"])
    fixed = zfs_setup(*args)
    assert f"run: zfs set atime=off {pool}/medforge/workspaces" in fixed.stdout, fixed.stdout
    assert "done: 1 change(s)" in fixed.stdout
    assert get("atime", f"{pool}/medforge/workspaces") == "off"

    # The pool gone (and nothing to make it from): a clear failure, nothing half-made.
    destroy(pool)
    gone = zfs_setup("--pool", pool, "--compression", "lzjb", check=False)
    assert gone.returncode == 1
    assert f"pool {pool} does not exist" in gone.stderr, gone.stderr
    assert "POOL_DISKS" in gone.stderr
    assert not pool_exists(pool)


def test_existing_pool_gets_the_datasets_from_the_environment(zfs):
    pool = zfs["pool"]
    env = {"POOL_NAME": pool, "ZFS_COMPRESSION": "lzjb"}
    out = zfs_setup(env=env).stdout
    assert f"pool {pool} exists" in out
    for leaf in LEAVES:
        assert get("compression", f"{pool}/{leaf}") == "lzjb"
        assert get("atime", f"{pool}/{leaf}") == "off"
    # Disks are never added to (or a pool re-made on) an existing pool.
    other = zfs_setup("--loopback", zfs["work"] / "unused.img", "--size", "64M", env=env).stdout
    assert "not touching POOL_DISKS/--loopback" in other and "nothing to change" in other
    assert not (zfs["work"] / "unused.img").exists()


def test_default_compression_is_lz4_and_an_unknown_one_fails_before_any_change(zfs):
    pool = "mfinfra" + secrets.token_hex(4)
    image = zfs["work"] / f"{pool}.img"
    r = zfs_setup("--pool", pool, "--loopback", image, "--size", "64M", check=False)
    assert r.returncode == 1
    assert "does not support compression=lz4" in r.stderr, r.stderr
    assert not pool_exists(pool) and not image.exists()
    assert "(default: lz4" in zfs_setup("--help").stdout


def test_usage_errors():
    for args, text in ((["--disks", "/dev/x", "--loopback", "/tmp/y"], "not both"),
                       (["--pool", "9bad"], "not a pool name"),
                       (["--size", "lots"], "not a size"),
                       (["--frobnicate"], "unknown argument")):
        r = zfs_setup(*args, check=False)
        assert r.returncode == 2 and text in r.stderr, (args, r.stderr)
    usage = zfs_setup("--help").stdout
    for word in ("POOL_NAME", "POOL_DISKS", "--loopback", "--size", "--mountpoint",
                 "--compression", "--dry-run", "medforge/workspaces", "medforge/system/db",
                 "atime=off"):
        assert word in usage, word
