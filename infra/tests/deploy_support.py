"""Shared helpers of the deployment tests (test_compose*, test_images*, test_pack*): the
repository layout, the compose file and .env.example, the variables the API reads, and a small
Dockerfile reader."""
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "infra/compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
CONFIG_DOC = ROOT / "docs/configuration.md"

# Variables only the CLI reads (docs/configuration.md lists them apart); not part of a deployment.
CLI_ONLY = {"MEDFORGE_ADMIN_PASSWORD", "MEDFORGE_BUNDLE_CACHE_DIR"}


def bin_dir() -> Path | None:
    """Where prebuilt medforge binaries are: MEDFORGE_BIN_DIR, else build/release, else none."""
    for candidate in (os.environ.get("MEDFORGE_BIN_DIR"), ROOT / "build/release"):
        if candidate and (Path(candidate) / "medforge-api").is_file():
            return Path(candidate)
    return None


def api_variables() -> tuple[set[str], str]:
    """The environment variables medforge-api (and the worker, which shares its config) reads,
    and where that list came from: `medforge-api --check-config` when a binary is at hand, else
    the tables of docs/configuration.md (a test in apps/api keeps both equal)."""
    found = bin_dir()
    if found is not None:
        out = subprocess.run([str(found / "medforge-api"), "--check-config"], check=True,
                             capture_output=True, text=True, env={"PATH": os.environ["PATH"]},
                             timeout=30).stdout
        names = set(out.split())
        assert names, "medforge-api --check-config printed no variable names"
        return names, f"{found}/medforge-api --check-config"
    doc = CONFIG_DOC.read_text()
    names = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", doc, flags=re.M)) - CLI_ONLY
    assert names, "no variable table found in docs/configuration.md"
    return names, "docs/configuration.md"


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


# `NAME=value` (set) or `# NAME=value` (documented, optional) lines of an env file.
_ENV_LINE = re.compile(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$")


def env_example() -> list[dict]:
    """Every setting of .env.example: name, value, whether it is commented out (optional), and
    the comment lines right above it (settings listed one under the other share that comment)."""
    entries: list[dict] = []
    comment: list[str] = []
    last = None
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = _ENV_LINE.match(line.strip())
        if m:
            entry = {"name": m.group(2), "value": m.group(3), "optional": bool(m.group(1)),
                     "comment": comment or (last["comment"] if last else [])}
            entries.append(entry)
            last, comment = entry, []
        elif line.startswith("#"):
            text = line.lstrip("#").strip()
            if text and set(text) != {"-"}:
                comment.append(text)
        elif not line.strip():
            comment, last = [], None
    return entries


def interpolated_names(text: str) -> set[str]:
    """Names used as ${NAME…} in compose text."""
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))


def service_env(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


# --- Dockerfiles ---------------------------------------------------------------------------------

def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of a Dockerfile: comments dropped, continuation lines
    joined. Raises ValueError on a line that is not an instruction."""
    known = {"FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
             "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"}
    out: list[tuple[str, str]] = []
    pending = ""
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comment lines inside a continued instruction are ignored by Docker too
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if not full:
            continue
        word, _, args = full.partition(" ")
        if word.upper() not in known:
            raise ValueError(f"{path}:{number}: not a Dockerfile instruction: {word}")
        out.append((word.upper(), args.strip()))
    if pending:
        raise ValueError(f"{path}: ends inside a continued line")
    return out


def exec_form(args: str) -> list[str]:
    """The argv of a CMD/ENTRYPOINT/HEALTHCHECK CMD: JSON exec form, else shell form split."""
    args = args.strip()
    if args.startswith("["):
        value = json.loads(args)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
        return value
    return shlex.split(args)


def stages(instructions: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Instructions per build stage, keyed by the stage name (or its index)."""
    result: dict[str, list[tuple[str, str]]] = {}
    current = None
    for inst, args in instructions:
        if inst == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(result))
            current = result.setdefault(name, [])
            current.append((inst, args))
        elif current is not None:
            current.append((inst, args))
    return result
