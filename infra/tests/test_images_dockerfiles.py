"""Lint of the image recipes that cannot be built here (no registry, no Go module proxy): the API's
Dockerfile shape and package lists, and infra/caddy/Dockerfile (xcaddy with the Cloudflare DNS
plugin). The API image's runtime-prebuilt target is built and run in test_images_api.py."""
import re
import subprocess

from deploy_support import ROOT, bin_dir, dockerfile_instructions, exec_form, stages

API_DOCKERFILE = ROOT / "apps/api/Dockerfile"
CADDY_DOCKERFILE = ROOT / "infra/caddy/Dockerfile"
# Libraries every Debian base has (Essential/required packages of a minbase debootstrap).
BASE_PACKAGES = {"libc6", "libstdc++6", "libgcc-s1", "zlib1g"}


def package_names(path) -> set[str]:
    return {w for line in path.read_text().splitlines() for w in line.split("#")[0].split()}


def setup_deps_packages() -> set[str]:
    text = (ROOT / "scripts/setup-deps.sh").read_text()
    block = re.search(r"^PACKAGES=\((.*?)^\)", text, flags=re.S | re.M)
    assert block, "PACKAGES=( … ) not found in scripts/setup-deps.sh"
    return {w for line in block.group(1).splitlines() for w in line.split("#")[0].split()}


def test_api_dockerfile_stages_and_order():
    instructions = dockerfile_instructions(API_DOCKERFILE)
    # The base is a build argument (tests pass a debootstrap image), declared before any FROM.
    first_from = next(i for i, (inst, _) in enumerate(instructions) if inst == "FROM")
    args = [a for inst, a in instructions[:first_from] if inst == "ARG"]
    assert "BASE=debian:bookworm-slim" in args
    st = stages(instructions)
    assert list(st) == ["runtime-base", "runtime-prebuilt", "build", "runtime"], list(st)
    assert st["runtime-base"][0][1] == "${BASE} AS runtime-base"
    assert st["build"][0][1] == "${BASE} AS build"
    for target in ("runtime-prebuilt", "runtime"):
        assert st[target][0][1] == f"runtime-base AS {target}"
        copies = [a for inst, a in st[target] if inst == "COPY"]
        assert len(copies) == 1 and all(p in copies[0] for p in
                                        ("medforge-api", "medforge-worker", "medforge ")), copies
    assert any(inst == "COPY" and a.startswith("--from=build ") for inst, a in st["runtime"])
    assert any(inst == "ARG" and a.startswith("BIN_DIR=") for inst, a in st["runtime-prebuilt"])
    build_runs = " ".join(a for inst, a in st["build"] if inst == "RUN")
    assert "-G Ninja" in build_runs and "CMAKE_BUILD_TYPE=RelWithDebInfo" in build_runs


def test_api_runtime_user_health_and_command():
    base = stages(dockerfile_instructions(API_DOCKERFILE))["runtime-base"]
    users = [a for inst, a in base if inst == "USER"]
    assert users == ["medforge"]
    health = [a for inst, a in base if inst == "HEALTHCHECK"]
    assert len(health) == 1
    options, _, command = health[0].partition(" CMD ")
    argv = exec_form(command)
    assert "/healthz" in " ".join(argv) and "curl" in " ".join(argv), argv
    assert exec_form(next(a for inst, a in base if inst == "CMD")) == ["medforge-api"]
    assert "8000" in next(a for inst, a in base if inst == "EXPOSE")


def test_build_packages_are_those_of_setup_deps():
    build = package_names(ROOT / "apps/api/docker/build-packages.txt")
    assert build, "empty build package list"
    assert build <= setup_deps_packages(), \
        f"not in scripts/setup-deps.sh: {sorted(build - setup_deps_packages())}"


def test_runtime_packages_provide_every_linked_library():
    """Each shared library the built programs load comes from a package of the runtime list (or
    of every Debian base). Uses the binaries at hand; the image test proves the same by running
    them, this test names the missing package."""
    binaries = bin_dir()
    runtime = package_names(ROOT / "apps/api/docker/runtime-packages.txt")
    assert {"zfsutils-linux", "sudo", "curl", "ca-certificates"} <= runtime
    if binaries is None:
        return  # nothing linked to check against (the image test fails without binaries in CI)
    libs = set()
    for program in ("medforge-api", "medforge-worker", "medforge"):
        out = subprocess.run(["ldd", str(binaries / program)], capture_output=True, text=True,
                             check=True).stdout
        libs |= set(re.findall(r"=> (/\S+)", out))
    assert libs
    for lib in sorted(libs):
        owner = subprocess.run(["dpkg", "-S", lib], capture_output=True, text=True)
        if owner.returncode != 0:  # merged /usr: dpkg knows the other spelling
            alt = lib.replace("/usr/lib/", "/lib/", 1) if lib.startswith("/usr/") \
                else "/usr" + lib
            owner = subprocess.run(["dpkg", "-S", alt], capture_output=True, text=True)
        assert owner.returncode == 0, f"no Debian package owns {lib}"
        package = owner.stdout.split(":")[0]
        assert package in runtime | BASE_PACKAGES, f"{lib} comes from {package}, not listed in " \
                                                   "apps/api/docker/runtime-packages.txt"


def test_dockerignore_sends_what_the_api_build_uses():
    lines = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines()
             if l.strip() and not l.startswith("#")]
    assert lines[0] == "*"
    for needed in ("!apps/api", "!build/release/medforge-api", "!build/image-bin"):
        assert needed in lines, needed


def test_caddy_dockerfile_builds_with_the_cloudflare_plugin():
    instructions = dockerfile_instructions(CADDY_DOCKERFILE)
    st = stages(instructions)
    assert list(st) == ["builder", "1"], list(st)
    assert re.fullmatch(r"caddy:\$\{CADDY_VERSION\}-builder AS builder", st["builder"][0][1])
    xcaddy = [a for inst, a in st["builder"] if inst == "RUN" and a.startswith("xcaddy build")]
    assert len(xcaddy) == 1 and "--with" in xcaddy[0] and \
        "github.com/caddy-dns/cloudflare" in xcaddy[0], xcaddy
    final = st["1"]
    assert re.fullmatch(r"caddy:\$\{CADDY_VERSION\}", final[0][1]), final[0]
    assert ("COPY", "--from=builder /usr/bin/caddy /usr/bin/caddy") in final
    first_from = next(i for i, (inst, _) in enumerate(instructions) if inst == "FROM")
    assert any(inst == "ARG" and re.fullmatch(r"CADDY_VERSION=2\.\d+\.\d+", a)
               for inst, a in instructions[:first_from])


def test_dockerfile_reader_rejects_garbage(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN true \\\n    && false\nfrobnicate now\n")
    try:
        dockerfile_instructions(bad)
    except ValueError as e:
        assert "frobnicate" in str(e)
    else:
        raise AssertionError("a non-instruction line was accepted")
    good = tmp_path / "Dockerfile.ok"
    good.write_text("FROM debian AS a\n# c\nRUN true \\\n    && false\n")
    assert dockerfile_instructions(good) == [("FROM", "debian AS a"), ("RUN", "true && false")]
