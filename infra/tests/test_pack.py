"""infra/packs/default: pinned manifests and a Dockerfile that fits what the sessions plane
expects of a pack image (docs/sessions.md): uid 1000, /workspace, /datasets, code-server on
8080 with --auth none as the image's own command, a health check on /healthz. The image itself
needs a registry and PyPI, so it is built by infra/packs/default/build.sh on a real host."""
import re
import subprocess

import pytest

from deploy_support import ROOT, dockerfile_instructions, exec_form, stages

PACK = ROOT / "infra/packs/default"
PINNED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][0-9A-Za-z.+!-]*")
BASIC = {"numpy", "pandas", "scikit-learn", "torch", "torchvision", "monai", "pydicom", "nibabel",
         "simpleitk", "opencv-python-headless", "albumentations", "timm", "lightning", "jupyter"}


def manifest(name: str) -> list[str]:
    return [l.strip() for l in (PACK / name).read_text().splitlines()
            if l.strip() and not l.strip().startswith("#")]


def check_pinned(lines: list[str]) -> list[str]:
    return [l for l in lines if not PINNED.fullmatch(l)]


@pytest.mark.parametrize("name", ["requirements-basic.txt", "requirements-extras.txt"])
def test_every_manifest_line_is_pinned(name):
    lines = manifest(name)
    assert lines, f"{name} is empty"
    assert check_pinned(lines) == [], f"{name}: not `name==version`"
    names = [l.split("==")[0].lower() for l in lines]
    assert len(names) == len(set(names)), f"{name}: a package listed twice"


def test_pin_check_rejects_loose_lines():
    assert check_pinned(["numpy>=1.26", "torch", "pandas==2.2.3 ; python_version<'4'",
                         "scipy==", "-r other.txt", "monai==1.4.0"]) == \
        ["numpy>=1.26", "torch", "pandas==2.2.3 ; python_version<'4'", "scipy==", "-r other.txt"]


def test_basic_manifest_has_the_promised_packages():
    names = {l.split("==")[0].lower() for l in manifest("requirements-basic.txt")}
    assert BASIC <= names, sorted(BASIC - names)
    extras = {l.split("==")[0].lower() for l in manifest("requirements-extras.txt")}
    assert not names & extras, f"in both manifests: {sorted(names & extras)}"


@pytest.fixture(scope="module")
def dockerfile():
    instructions = dockerfile_instructions(PACK / "Dockerfile")
    assert len(stages(instructions)) == 1
    return instructions


def last(instructions, kind):
    found = [a for inst, a in instructions if inst == kind]
    assert found, f"no {kind}"
    return found[-1]


def test_base_is_a_cuda_runtime_image_given_as_argument(dockerfile):
    first_from = next(i for i, (inst, _) in enumerate(dockerfile) if inst == "FROM")
    args = dict(a.split("=", 1) for inst, a in dockerfile[:first_from] if inst == "ARG")
    assert re.fullmatch(r"nvidia/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu22\.04", args["CUDA_IMAGE"])
    assert dockerfile[first_from][1] == "${CUDA_IMAGE}"


def test_user_workspace_and_datasets(dockerfile):
    assert last(dockerfile, "USER") in {"coder", "1000", "1000:1000"}
    runs = " ".join(a for inst, a in dockerfile if inst == "RUN")
    assert re.search(r"useradd --uid 1000 --gid 1000 .*coder", runs)
    assert "groupadd --gid 1000 coder" in runs
    assert re.search(r"install -d -o 1000 -g 1000 [^&]*/workspace", runs)
    assert re.search(r"install -d [^&]*/datasets", runs)
    assert last(dockerfile, "WORKDIR") == "/workspace"


def test_code_server_on_8080_without_auth(dockerfile):
    assert "8080" in last(dockerfile, "EXPOSE").split()
    entry = [a for inst, a in dockerfile if inst == "ENTRYPOINT"]
    argv = (exec_form(entry[-1]) if entry else []) + exec_form(last(dockerfile, "CMD"))
    assert argv[0] == "code-server", argv
    assert argv[argv.index("--auth") + 1] == "none"
    assert argv[argv.index("--bind-addr") + 1] == "0.0.0.0:8080"
    assert argv[-1] == "/workspace"


def test_health_check_on_code_servers_healthz(dockerfile):
    options, _, command = last(dockerfile, "HEALTHCHECK").partition(" CMD ")
    assert "http://127.0.0.1:8080/healthz" in " ".join(exec_form(command))


def test_manifests_are_installed_into_the_venv(dockerfile):
    runs = " ".join(a for inst, a in dockerfile if inst == "RUN")
    assert "python3 -m venv /opt/venv" in runs
    assert "pip install -r /opt/medforge/requirements-basic.txt" in runs
    assert re.search(r'if \[ "\$\{EXTRAS\}" = 1 \]; then [^;]*requirements-extras\.txt', runs)
    assert any(inst == "ARG" and a == "EXTRAS=0" for inst, a in dockerfile)
    copies = " ".join(a for inst, a in dockerfile if inst == "COPY")
    assert "requirements-basic.txt" in copies and "requirements-extras.txt" in copies
    assert last(dockerfile, "ENV").startswith("PATH=/opt/venv/bin:")


def test_build_script_usage_and_lint():
    script = PACK / "build.sh"
    proc = subprocess.run([str(script)], capture_output=True, text=True)
    assert proc.returncode == 2 and "usage:" in proc.stderr
    text = script.read_text()
    assert 'echo "PACK_IMAGE=$digest"' in text and 'echo "PACK_IMAGE=$id"' in text
    lint = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
