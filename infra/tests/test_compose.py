"""infra/compose/docker-compose.yml and .env.example: the structure the deployment relies on
(services, fixed networks and addresses, health checks, restart policies, privileges), no secret
written in either file, Compose's own validation, and that the variables the API reads and the
variables the deployment sets are the same set (short, explained allowlists aside)."""
import ipaddress
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy_support import (COMPOSE_DIR, COMPOSE_FILE, ENV_EXAMPLE, ROOT, api_variables,
                            env_example, interpolated_names, load_compose, service_env)

SERVICES = {"medforge-db", "medforge-api", "medforge-api-worker", "medforge-web", "medforge-caddy"}
SUBNETS = {
    "medforge-control": ipaddress.ip_network("172.31.0.0/24"),
    "medforge-public-sessions": ipaddress.ip_network("172.30.0.0/24"),
}
CADDY_CONTROL = "172.31.0.2"

# API variables a production deployment leaves out on purpose (the compose stack runs the docker
# runtime and the zfs store, never the development back ends).
DEV_ONLY = {
    "SESSION_PROCESS_COMMAND": "the `process` runtime (development); compose runs `docker`",
    "SESSION_PROCESS_USER": "the `process` runtime (development); compose runs `docker`",
    "SESSION_PROCESS_SANDBOX": "the `process` runtime (development); compose runs `docker`",
    "WORKSPACE_DIR_ROOT": "the `dir` workspace store (development); compose uses `zfs`",
}
# .env.example settings that docker-compose.yml does not interpolate, with their reader.
READ_BY_COMPOSE_ITSELF = {
    "COMPOSE_PROJECT_NAME": "Compose reads it from .env to name the project",
}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|PRIVATE_KEY|API_KEY")


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def networks_of(service: dict) -> dict:
    nets = service.get("networks") or {}
    if isinstance(nets, list):
        return {n: {} for n in nets}
    return {n: (cfg or {}) for n, cfg in nets.items()}


def volume_specs(service: dict) -> list[dict]:
    """Each volume entry as {type, source, target, propagation}, short or long syntax."""
    specs = []
    for v in service.get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            source, target = parts[0], parts[1]
            opts = parts[2].split(",") if len(parts) > 2 else []
            kind = "bind" if source.startswith(("/", ".", "$")) else "volume"
            propagation = next((o for o in opts if o in {"rshared", "shared", "rslave", "slave",
                                                         "private", "rprivate"}), None)
            specs.append({"type": kind, "source": source, "target": target,
                          "propagation": propagation})
        else:
            specs.append({"type": v["type"], "source": v.get("source"), "target": v["target"],
                          "propagation": (v.get("bind") or {}).get("propagation")})
    return specs


# --- structure ----------------------------------------------------------------------------------

def test_services_are_the_five_of_the_stack(services):
    assert set(services) == SERVICES


def test_every_service_restarts_and_has_a_health_check(services):
    for name, svc in services.items():
        assert svc.get("restart") in {"always", "unless-stopped"}, f"{name}: restart policy"
        hc = svc.get("healthcheck")
        assert hc and not hc.get("disable"), f"{name}: no health check"
        test = hc["test"]
        assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1, \
            f"{name}: health check test {test!r}"
        for key in ("interval", "timeout", "retries"):
            assert key in hc, f"{name}: health check without {key}"


def test_api_health_check_asks_the_api(services):
    test = " ".join(services["medforge-api"]["healthcheck"]["test"])
    assert re.search(r"http://127\.0\.0\.1:8000/(healthz|readyz)", test), test
    assert service_env(services["medforge-api"])["API_BIND"].endswith(":8000")


def test_networks_are_external_with_fixed_names(compose):
    nets = compose["networks"]
    assert set(nets) == {"medforge-control", "medforge-public-sessions",
                         "medforge-private-sessions"}
    for key, cfg in nets.items():
        assert cfg.get("external") is True, f"{key} must be created by infra/host/bootstrap.sh"
        assert cfg.get("name") == key


def test_fixed_addresses(services):
    def addr(service, network):
        return networks_of(services[service])[network].get("ipv4_address")

    assert addr("medforge-caddy", "medforge-control") == CADDY_CONTROL
    assert addr("medforge-caddy", "medforge-public-sessions") == "172.30.0.2"
    assert addr("medforge-api", "medforge-public-sessions") == "172.30.0.3"
    # Every container of the stack has a fixed address inside its network's subnet, none twice,
    # and all below .128: dynamic addresses (sessions) come from the upper half (--ip-range).
    seen = set()
    for name, svc in services.items():
        nets = networks_of(svc)
        assert nets, f"{name}: no network"
        for net, cfg in nets.items():
            assert net in SUBNETS, f"{name} joins {net}, which no service should use yet"
            ip = ipaddress.ip_address(cfg.get("ipv4_address") or "0.0.0.0")
            assert ip in SUBNETS[net], f"{name}: {ip} is not in {net} {SUBNETS[net]}"
            assert int(ip) - int(SUBNETS[net].network_address) < 128, f"{name}: {ip}"
            assert (net, ip) not in seen, f"{ip} used twice on {net}"
            seen.add((net, ip))


def test_api_settings_match_the_networks(services):
    env = service_env(services["medforge-api"])
    assert env["TRUSTED_PROXIES"] == CADDY_CONTROL
    assert env["PUBLIC_SESSIONS_NETWORK"] == "medforge-public-sessions"
    assert ipaddress.ip_network(env["PUBLIC_SESSIONS_SUBNET"]) == SUBNETS["medforge-public-sessions"]
    assert env["SESSION_RUNTIME"] == "docker"
    assert env["WORKSPACE_STORE"] == "zfs"
    assert env["SESSION_RUNTIME_USE_SUDO"] == "true"
    assert env["SESSION_STOP_ON_SHUTDOWN"] == "false"
    assert re.fullmatch(r"mariadb://medforge:\$\{MARIADB_PASSWORD[^}]*\}@medforge-db:3306/medforge",
                        env["DATABASE_URL"]), env["DATABASE_URL"]
    # Caddy reaches the API by its control address, so the API sees Caddy's TRUSTED_PROXIES address.
    api_control = networks_of(services["medforge-api"])["medforge-control"]["ipv4_address"]
    assert service_env(services["medforge-caddy"])["API_UPSTREAM"] == f"{api_control}:8000"
    assert service_env(services["medforge-web"])["API_URL"] == "http://medforge-api:8000"


def test_only_the_api_gets_the_docker_socket_zfs_and_privileges(services):
    for name, svc in services.items():
        sources = {v["source"] for v in volume_specs(svc)}
        devices = [d.split(":")[0] for d in svc.get("devices") or []]
        if name == "medforge-api":
            assert "/var/run/docker.sock" in sources
            assert devices == ["/dev/zfs"]
            tank = [v for v in volume_specs(svc) if v["source"] == "/tank"]
            assert tank and tank[0]["target"] == "/tank" and tank[0]["propagation"] == "rshared"
            assert svc.get("cap_add") == ["SYS_ADMIN"]
            assert svc.get("group_add"), "the API needs the docker socket's group"
            gpus = svc["deploy"]["resources"]["reservations"]["devices"]
            assert gpus == [{"driver": "nvidia", "count": "all",
                             "capabilities": ["gpu", "utility"]}], gpus
        else:
            assert "/var/run/docker.sock" not in sources, name
            assert not devices, f"{name}: devices {devices}"
            assert not any(v["source"] == "/tank" for v in volume_specs(svc)), name
            assert not svc.get("cap_add"), name
            assert "deploy" not in svc, f"{name}: only the API asks for the GPUs (nvidia-smi)"
        assert not svc.get("privileged"), f"{name} must not be privileged"


def test_datasets_root_is_bound_at_the_same_path(services):
    binds = [v for v in volume_specs(services["medforge-api"])
             if "DATASETS_ROOT" in str(v["source"])]
    assert len(binds) == 1 and binds[0]["source"] == binds[0]["target"]
    assert "${DATASETS_ROOT" in service_env(services["medforge-api"])["DATASETS_ROOT"]


def test_api_and_worker_share_the_data_volume(compose, services):
    def data_volume(name):
        vols = [v for v in volume_specs(services[name]) if v["type"] == "volume"]
        assert len(vols) == 1, f"{name}: {vols}"
        return vols[0]

    api, worker = data_volume("medforge-api"), data_volume("medforge-api-worker")
    assert api["source"] == worker["source"] and api["target"] == worker["target"]
    assert api["source"] in compose["volumes"]
    for name in ("medforge-api", "medforge-api-worker"):
        env = service_env(services[name])
        for key in ("SUBMISSIONS_DIR", "COMPETITIONS_DIR"):
            assert env[key].startswith(api["target"] + "/"), f"{name}: {key}={env[key]}"
    assert services["medforge-api-worker"]["command"][0] == "medforge-worker"
    assert services["medforge-api-worker"]["image"] == services["medforge-api"]["image"]


def test_database_service(services):
    db = services["medforge-db"]
    assert re.fullmatch(r"\$\{MEDFORGE_DB_IMAGE:-mariadb:10\.11\}", db["image"]), db["image"]
    data = [v for v in volume_specs(db) if v["target"] == "/var/lib/mysql"]
    assert data and data[0]["type"] == "bind"
    assert data[0]["source"].endswith("/tank/medforge/system/db}"), data[0]["source"]
    for name in ("medforge-api", "medforge-api-worker"):
        dep = services[name]["depends_on"]["medforge-db"]
        assert dep["condition"] == "service_healthy", name


def test_caddy_ports_and_config(services):
    caddy = services["medforge-caddy"]
    assert set(caddy["ports"]) == {"80:80", "443:443", "443:443/udp"}
    assert "../caddy:/etc/caddy:ro" in caddy["volumes"]
    assert (COMPOSE_DIR / "../caddy/Dockerfile").resolve().is_file()
    env = service_env(caddy)
    assert env["PUBLIC_SCHEME"] == "https"
    assert env["DOMAIN"].startswith("${DOMAIN")
    assert env["CLOUDFLARE_API_TOKEN"].startswith("${CLOUDFLARE_API_TOKEN")


def test_no_ports_published_but_caddys(services):
    for name, svc in services.items():
        if name != "medforge-caddy":
            assert not svc.get("ports"), f"{name} publishes ports"


# --- secrets ------------------------------------------------------------------------------------

def test_no_secret_literal_in_the_compose_file(services):
    for name, svc in services.items():
        for key, value in service_env(svc).items():
            if SECRET_NAME.search(key) and value:
                assert re.fullmatch(r"\$\{[A-Z0-9_]+(:?[-?][^}]*)?\}", value), \
                    f"{name}: {key} must come from .env, not be written here"
    text = COMPOSE_FILE.read_text()
    for url in re.findall(r"[a-z]+://[^\s/@]+:[^\s@]+@", text):
        assert re.search(r":\$\{[A-Z0-9_]+[^}]*\}@$", url), f"password literal in {url}"


def test_env_example_holds_no_secret_values():
    for e in env_example():
        if SECRET_NAME.search(e["name"]) and not e["optional"]:
            assert e["value"] == "", f"{e['name']} must be empty in .env.example"


def test_required_secrets_stop_compose_when_unset(services):
    """`${VAR:?…}` makes Compose refuse to start without each secret (an empty value too)."""
    text = COMPOSE_FILE.read_text()
    for var in ("SESSION_SECRET", "MARIADB_PASSWORD", "MARIADB_ROOT_PASSWORD",
                "CLOUDFLARE_API_TOKEN", "PACK_IMAGE", "DOCKER_GID"):
        assert re.search(r"\$\{" + var + r":\?", text), f"{var} is not required"


# --- variables ----------------------------------------------------------------------------------

def test_every_env_example_setting_is_commented():
    for e in env_example():
        assert e["comment"], f".env.example: {e['name']} has no comment"


def test_env_example_names_are_unique():
    names = [e["name"] for e in env_example()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_api_variables_and_deployment_variables_agree(services):
    api, source = api_variables()
    deploy_env = service_env(services["medforge-api"]) | service_env(services["medforge-api-worker"])
    example = {e["name"] for e in env_example()}
    deployed = set(deploy_env) | example

    # Every allowlisted variable is really read by the API and really absent from the deployment.
    assert set(DEV_ONLY) <= api, f"stale DEV_ONLY entries: {sorted(set(DEV_ONLY) - api)}"
    assert not set(DEV_ONLY) & deployed, sorted(set(DEV_ONLY) & deployed)

    missing = api - deployed - set(DEV_ONLY)
    assert not missing, f"read by the API ({source}) but not in compose nor .env.example: " \
                        f"{sorted(missing)}"
    unknown = set(deploy_env) - api
    assert not unknown, f"set for the API/worker in compose but not read by it ({source}): " \
                        f"{sorted(unknown)}"


def test_env_example_names_every_value_compose_fixes(services):
    """The API variables compose sets to a literal are listed (with their value) in the
    .env.example block that says so, so an operator reading .env.example sees every setting."""
    api, _ = api_variables()
    text = ENV_EXAMPLE.read_text()
    fixed = dict(re.findall(r"^#   ([A-Z][A-Z0-9_]+) +(\S+)", text, flags=re.M))
    for name in ("medforge-api", "medforge-api-worker"):
        for key, value in service_env(services[name]).items():
            if key in api and "${" not in value:
                assert key in fixed, f".env.example does not mention {key} (fixed to {value})"
                assert fixed[key] == value, f".env.example says {key}={fixed[key]}, compose {value}"
            elif key == "DATABASE_URL":
                assert key in fixed
    assert set(fixed) <= api


def test_compose_interpolations_and_env_example_agree():
    text = COMPOSE_FILE.read_text()
    used = interpolated_names(text)
    example = {e["name"] for e in env_example()}
    undocumented = used - example
    assert not undocumented, f"docker-compose.yml uses ${{…}} not in .env.example: {sorted(undocumented)}"
    unused = example - used - set(READ_BY_COMPOSE_ITSELF)
    assert not unused, f".env.example settings nothing reads: {sorted(unused)}"
    assert set(READ_BY_COMPOSE_ITSELF) <= example


def test_api_variables_are_passed_through_not_defaulted_in_compose(services):
    """An operator's default lives in one place: `${VAR:-}` hands an unset variable to the API
    empty (= its own documented default); a default written into compose would hide it."""
    api, _ = api_variables()
    for name in ("medforge-api", "medforge-api-worker"):
        for key, value in service_env(services[name]).items():
            m = re.fullmatch(r"\$\{([A-Z0-9_]+):-([^}]*)\}", value)
            if m and key in api:
                assert m.group(1) == key and m.group(2) == "", f"{name}: {key}={value}"


# --- Compose itself ------------------------------------------------------------------------------

def filled_env(tmp_path: Path) -> Path:
    """.env.example with a placeholder for each empty required value."""
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.fullmatch(r"([A-Z][A-Z0-9_]*)=", line)
        lines.append(f"{line}{'999' if m and m.group(1) == 'DOCKER_GID' else 'placeholder'}"
                     if m else line)
    out = tmp_path / "filled.env"
    out.write_text("\n".join(lines) + "\n")
    return out


def compose_tree(tmp_path: Path) -> Path:
    """The compose file in a copy of the paths it names, so Compose finds every build context:
    the real folder where it exists, an empty one where another branch adds it (apps/web)."""
    tree = tmp_path / "tree"
    (tree / "infra/compose").mkdir(parents=True)
    shutil.copy(COMPOSE_FILE, tree / "infra/compose/docker-compose.yml")
    for rel in ("apps/api", "apps/web", "infra/caddy"):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / rel).is_dir():
            (tree / rel).symlink_to(ROOT / rel)
        else:
            (tree / rel).mkdir()
    return tree / "infra/compose/docker-compose.yml"


def compose_cli() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True) \
        if shutil.which("docker") else None
    return ["docker", "compose"] if probe is not None and probe.returncode == 0 else None


def run_config(cli: list[str], compose_file: Path, env_file: Path):
    return subprocess.run([*cli, "--env-file", str(env_file), "-f", str(compose_file), "config"],
                          capture_output=True, text=True, timeout=60,
                          env={k: v for k, v in os.environ.items()
                               if not k.startswith(("COMPOSE_", "DOCKER_"))})


def test_compose_validates_the_file(tmp_path):
    cli = compose_cli()
    if cli is None:
        if os.environ.get("CI") == "true":
            pytest.fail("docker-compose must be installed in CI (scripts/setup-deps.sh)")
        pytest.skip("neither docker-compose nor `docker compose` is installed")
    proc = run_config(cli, compose_tree(tmp_path), filled_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    import yaml
    resolved = yaml.safe_load(proc.stdout)
    assert set(resolved["services"]) == SERVICES
    api_env = resolved["services"]["medforge-api"]["environment"]
    assert api_env["DATABASE_URL"] == "mariadb://medforge:placeholder@medforge-db:3306/medforge"
    assert api_env["SESSION_SECRET"] == "placeholder"


def test_compose_refuses_the_example_without_secrets(tmp_path):
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither docker-compose nor `docker compose` is installed")
    proc = run_config(cli, compose_tree(tmp_path), ENV_EXAMPLE)
    assert proc.returncode != 0
    assert re.search(r"set (MARIADB_PASSWORD|SESSION_SECRET|MARIADB_ROOT_PASSWORD|"
                     r"CLOUDFLARE_API_TOKEN|PACK_IMAGE|DOCKER_GID) in \.env", proc.stderr), \
        proc.stderr
