"""infra/firewall/setup.sh against real bridged traffic between network namespaces."""

import shutil

import pytest

from conftest import (API_IP, BOOTSTRAP, CADDY_IP, FIREWALL, SESSION_A_IP, SESSION_B_IP, SUBNET,
                      dockerd_in, require, run)

CHAIN = "MEDFORGE-SESSIONS"


def desired_rules(bridge):
    match = f"-i {bridge} -o {bridge} -p tcp -m tcp --dport 8080"
    return [
        f"-A {CHAIN} -s {CADDY_IP}/32 -d {SUBNET} {match} -j ACCEPT",
        f"-A {CHAIN} -s {API_IP}/32 -d {SUBNET} {match} -j ACCEPT",
        f"-A {CHAIN} {match} -j DROP",
        f"-A {CHAIN} -j RETURN",
    ]


def rules_of(dump, chain):
    return [line for line in dump.splitlines() if line.startswith(f"-A {chain} ")]


def assert_one_copy_each(dump, bridge, hook_chain):
    lines = dump.splitlines()
    for rule in desired_rules(bridge):
        assert lines.count(rule) == 1, f"{rule!r} appears {lines.count(rule)} times in\n{dump}"
    assert rules_of(dump, CHAIN) == desired_rules(bridge), dump
    hook = f"-A {hook_chain} -j {CHAIN}"
    assert lines.count(hook) == 1, dump
    # The hook is the first rule of its chain: ahead of Docker's RETURN and ACCEPTs.
    assert rules_of(dump, hook_chain)[0] == hook, dump
    assert sum(line.endswith(f"-j {CHAIN}") for line in lines) == 1, dump


def assert_isolated(lab):
    for role in ("caddy", "api"):
        for address in (SESSION_A_IP, SESSION_B_IP):
            assert lab.reaches(role, address), f"{role} cannot reach {address}:8080"
    assert not lab.reaches("sa", SESSION_B_IP), "session A reaches session B's 8080"
    assert not lab.reaches("sb", SESSION_A_IP), "session B reaches session A's 8080"
    # Only the IDE port is guarded.
    assert lab.reaches("sa", SESSION_B_IP, 8081)


def firewall(lab, *args, env=None, check=True):
    return lab.ex("host", FIREWALL, *args, env=env, check=check)


# Debian 12's iptables is the nft one; iptables-legacy is what older hosts (and some Docker
# setups) use. The script drives whichever it is given.
@pytest.mark.parametrize("iptables", ["iptables", "iptables-legacy"])
def test_only_caddy_and_the_api_reach_session_ports(lab, iptables):
    require(shutil.which(iptables) is not None, f"needs {iptables}")
    bridge = lab.make_bridge()
    lab.wire(bridge)
    # br_netfilter off in the host namespace: the script must turn it on.
    lab.set_bridge_nf(0)

    # Control: without the script, sessions reach each other's IDE port.
    assert lab.reaches("sa", SESSION_B_IP)
    assert lab.reaches("sb", SESSION_A_IP)
    assert lab.reaches("caddy", SESSION_A_IP)

    before = lab.iptables_s(iptables)
    dry = firewall(lab, "--iptables", iptables, "--bridge", bridge, "--dry-run")
    for rule in desired_rules(bridge):
        assert rule in dry.stdout
    assert f"-I FORWARD 1 -j {CHAIN}" in dry.stdout
    assert lab.iptables_s(iptables) == before, "--dry-run changed the rules"
    assert lab.bridge_nf() == "0", "--dry-run changed net.bridge.bridge-nf-call-iptables"
    assert lab.reaches("sa", SESSION_B_IP)

    first = firewall(lab, "--iptables", iptables, "--bridge", bridge)
    assert f"chain {CHAIN} created" in first.stdout
    assert "set net.bridge.bridge-nf-call-iptables=1" in first.stdout
    assert lab.bridge_nf() == "1"
    after = lab.iptables_s(iptables)
    assert_one_copy_each(after, bridge, "FORWARD")
    assert_isolated(lab)

    again = firewall(lab, "--iptables", iptables, "--bridge", bridge)
    assert "nothing to change" in again.stdout, again.stdout
    assert lab.iptables_s(iptables) == after
    assert_one_copy_each(lab.iptables_s(iptables), bridge, "FORWARD")

    # Without bridge netfilter the rules do not see bridged packets at all: the script is what
    # turns it back on.
    lab.set_bridge_nf(0)
    assert lab.reaches("sa", SESSION_B_IP)
    fixed = firewall(lab, "--iptables", iptables, "--bridge", bridge)
    assert "set net.bridge.bridge-nf-call-iptables=1" in fixed.stdout
    assert not lab.reaches("sa", SESSION_B_IP)

    # A dry run on a host where the rules are in place says so.
    dry_again = firewall(lab, "--iptables", iptables, "--bridge", bridge, "--dry-run")
    assert "a real run would change nothing" in dry_again.stdout


def test_rules_are_replaced_as_a_whole_and_the_hook_follows_docker_user(lab):
    bridge = lab.make_bridge()
    lab.wire(bridge)
    firewall(lab, "--bridge", bridge)

    # Someone edits the chain by hand, duplicates the hook; Docker then appears (DOCKER-USER
    # first in FORWARD, its ICC ACCEPT for the bridge after).
    lab.ex("host", "iptables", "-I", CHAIN, "1", "-j", "ACCEPT")
    lab.ex("host", "iptables", "-A", "FORWARD", "-j", CHAIN)
    lab.ex("host", "iptables", "-N", "DOCKER-USER")
    lab.ex("host", "iptables", "-A", "DOCKER-USER", "-j", "RETURN")
    lab.ex("host", "iptables", "-I", "FORWARD", "1", "-j", "DOCKER-USER")
    lab.ex("host", "iptables", "-A", "FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT")
    assert lab.reaches("sa", SESSION_B_IP)

    out = firewall(lab, "--bridge", bridge).stdout
    assert f"chain {CHAIN} replaced" in out
    assert "removed the hook from FORWARD" in out
    assert f"hooked {CHAIN} as the first rule of DOCKER-USER" in out
    dump = lab.iptables_s()
    assert_one_copy_each(dump, bridge, "DOCKER-USER")
    assert f"-A FORWARD -j {CHAIN}" not in dump.splitlines()
    assert_isolated(lab)


def test_with_a_real_dockerd_and_the_bootstrap_networks(lab):
    require(shutil.which("dockerd") is not None, "needs dockerd (docker.io)")
    with dockerd_in(lab.host) as docker_host:
        env = {"DOCKER_HOST": docker_host}
        made = run([BOOTSTRAP, "--only", "networks"], env=env)
        for name in ("medforge-control", "medforge-public-sessions",
                     "medforge-private-sessions"):
            assert "docker network create" in made.stdout and name in made.stdout
        expected = {"medforge-control": ("172.31.0.0/24", "172.31.0.128/25", "false"),
                    "medforge-public-sessions": ("172.30.0.0/24", "172.30.0.128/25", "false"),
                    "medforge-private-sessions": ("172.29.0.0/24", "172.29.0.128/25", "true")}
        for name, want in expected.items():
            got = run(["docker", "network", "inspect", "-f",
                       "{{range .IPAM.Config}}{{.Subnet}} {{.IPRange}}{{end}} {{.Internal}}", name],
                      env=env).stdout.split()
            assert got == list(want), (name, got)
        again = run([BOOTSTRAP, "--only", "networks"], env=env)
        assert "run:" not in again.stdout, again.stdout
        assert again.stdout.count(" exists (") == 3, again.stdout

        net_id = run(["docker", "network", "inspect", "-f", "{{.Id}}",
                      "medforge-public-sessions"], env=env).stdout.strip()
        bridge = f"br-{net_id[:12]}"
        lab.wire(bridge)
        # Control: Docker's own rules let sessions on one network reach each other.
        assert lab.reaches("sa", SESSION_B_IP)

        # Through bootstrap's firewall step, in the namespace dockerd runs in; the bridge is
        # resolved from the Docker network, not given.
        out = lab.ex("host", BOOTSTRAP, "--only", "firewall", env=env).stdout
        assert f"is on bridge {bridge}" in out, out
        dump = lab.iptables_s()
        assert "-A FORWARD -j DOCKER-USER" in dump.splitlines()
        assert_one_copy_each(dump, bridge, "DOCKER-USER")
        assert_isolated(lab)

        rerun = lab.ex("host", BOOTSTRAP, "--only", "networks,firewall", env=env).stdout
        assert "nothing to change" in rerun, rerun
        assert lab.iptables_s() == dump

        # A subnet that does not match the Docker network is refused, not silently applied.
        bad = firewall(lab, "--subnet", "172.30.1.0/24", "--caddy-ip", "172.30.1.2",
                       "--api-ip", "172.30.1.3", env=env, check=False)
        assert bad.returncode == 1 and "has subnet 172.30.0.0/24" in bad.stderr, bad.stderr


def test_bad_input_fails_clearly(lab):
    def fails(code, text, *args, env=None):
        r = firewall(lab, *args, env=env, check=False)
        assert r.returncode == code, (args, r.returncode, r.stdout, r.stderr)
        assert text in r.stderr, (args, r.stderr)

    before = lab.iptables_s()
    fails(1, "no interface named nosuch0", "--bridge", "nosuch0")
    fails(1, "lo is not a Linux bridge", "--bridge", "lo")
    fails(1, "pass --bridge", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    fails(2, "not an IPv4 address", "--bridge", "lo", "--caddy-ip", "172.30.0.256")
    fails(2, "outside --subnet", "--bridge", "lo", "--api-ip", "10.0.0.3")
    fails(2, "not a port number", "--bridge", "lo", "--port", "70000")
    fails(2, "unknown argument", "--bridgee", "x")
    assert lab.iptables_s() == before

    usage = firewall(lab, "--help").stdout
    for option in ("--bridge", "--network", "--subnet", "--caddy-ip", "--api-ip", "--port",
                   "--iptables", "--dry-run", "MEDFORGE_FW_BRIDGE", "br_netfilter", "DOCKER-USER"):
        assert option in usage, option
