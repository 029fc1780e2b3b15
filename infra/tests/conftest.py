"""Helpers for the host-script tests: commands, network namespaces, a dockerd in a namespace.

Every network test builds its own namespaces (names start with "mfi" and a random suffix) and
runs the firewall script inside a dedicated "host" namespace, so the rules of the machine's own
namespace are never touched. Tests that need root or a tool skip outside CI and fail in CI.
"""

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIREWALL = REPO / "infra" / "firewall" / "setup.sh"
ZFS_SETUP = REPO / "infra" / "zfs" / "setup.sh"
BOOTSTRAP = REPO / "infra" / "host" / "bootstrap.sh"
PYTHON = "/usr/bin/python3"


def run(cmd, *, check=True, env=None, timeout=120):
    """Runs cmd (a list), returns the CompletedProcess; check=True raises with its output."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    result = subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(str(c) for c in cmd)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


def require(condition, why):
    """Skips the test when condition is false, except in CI, where that is a failure."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"required in CI: {why}")
    pytest.skip(why)


def require_root_and(*tools):
    require(os.geteuid() == 0, "needs root (network namespaces, iptables, zfs)")
    for tool in tools:
        require(shutil.which(tool) is not None, f"needs {tool}")


def poll(condition, what, deadline_s=20.0, every_s=0.05):
    end = time.monotonic() + deadline_s
    while True:
        if condition():
            return
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")
        time.sleep(every_s)


# The addresses of the production roles on medforge-public-sessions, and two sessions.
CADDY_IP = "172.30.0.2"
API_IP = "172.30.0.3"
SESSION_A_IP = "172.30.0.10"
SESSION_B_IP = "172.30.0.11"
SUBNET = "172.30.0.0/24"
ROLES = {"caddy": CADDY_IP, "api": API_IP, "sa": SESSION_A_IP, "sb": SESSION_B_IP}


class Lab:
    """A "host" namespace holding a Linux bridge, with one namespace per role wired to it by a
    veth pair, each role with its address in SUBNET."""

    def __init__(self):
        self.prefix = "mfi" + secrets.token_hex(3)
        self.namespaces = []
        self.servers = []
        self.host = self.netns("host")
        self.bridge = None

    def netns(self, role):
        name = f"{self.prefix}-{role}"
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def ns(self, role):
        return f"{self.prefix}-{role}"

    def ex(self, role, *cmd, **kw):
        """Runs cmd inside the role's namespace."""
        return run(["ip", "netns", "exec", self.ns(role), *cmd], **kw)

    def make_bridge(self, name="mfbr0"):
        run(["ip", "-n", self.host, "link", "add", name, "type", "bridge"])
        run(["ip", "-n", self.host, "link", "set", name, "up"])
        return name

    def wire(self, bridge):
        """One namespace per role, attached to bridge (which lives in the host namespace)."""
        self.bridge = bridge
        for role, address in ROLES.items():
            ns = self.netns(role)
            veth = f"v{role}"
            run(["ip", "-n", self.host, "link", "add", veth, "type", "veth",
                 "peer", "name", "eth0", "netns", ns])
            run(["ip", "-n", self.host, "link", "set", veth, "master", bridge, "up"])
            run(["ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        # Both sessions serve :8080 (the guarded IDE port); session B also serves :8081.
        self.serve("sa", SESSION_A_IP, 8080)
        self.serve("sb", SESSION_B_IP, 8080)
        self.serve("sb", SESSION_B_IP, 8081)

    def serve(self, role, address, port):
        # `ip netns exec` execs the command, so the Popen is the server itself.
        proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(role), PYTHON, "-m", "http.server", str(port),
             "--bind", address],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.servers.append(proc)
        poll(lambda: proc.poll() is not None or self._answers(role, address, port, 1) == 0,
             f"http.server on {address}:{port}")
        assert proc.poll() is None, f"http.server on {address}:{port} exited"

    def _answers(self, role, address, port, connect_timeout):
        r = self.ex(role, "curl", "-s", "-o", "/dev/null", "--connect-timeout",
                    str(connect_timeout), "--max-time", str(connect_timeout + 3),
                    f"http://{address}:{port}/", check=False)
        return r.returncode

    def reaches(self, role, address, port=8080):
        """True when role gets an HTTP answer from address:port; False when the connection
        times out (a DROP). Anything else (refused, reset) means the lab is broken: raise."""
        rc = self._answers(role, address, port, 2)
        if rc == 0:
            return True
        if rc == 28:
            return False
        raise AssertionError(f"curl from {role} to {address}:{port} failed with rc {rc}")

    def iptables_s(self, iptables="iptables"):
        return self.ex("host", iptables, "-S").stdout

    def bridge_nf(self):
        return self.ex("host", "cat", "/proc/sys/net/bridge/bridge-nf-call-iptables").stdout.strip()

    def set_bridge_nf(self, value):
        self.ex("host", "sh", "-c",
                f"echo {value} > /proc/sys/net/bridge/bridge-nf-call-iptables")

    def close(self):
        for proc in self.servers:
            proc.terminate()
        for proc in self.servers:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Deleting a namespace deletes its veth ends and bridges with it.
        for name in reversed(self.namespaces):
            run(["ip", "netns", "del", name], check=False)


@pytest.fixture
def lab():
    require_root_and("ip", "iptables", "iptables-restore", "curl")
    require(os.path.exists("/proc/sys/net/bridge/bridge-nf-call-iptables"),
            "br_netfilter is not loaded on this kernel (modprobe br_netfilter)")
    the_lab = Lab()
    try:
        yield the_lab
    finally:
        the_lab.close()


@contextmanager
def dockerd_in(netns):
    """A private dockerd whose network namespace is netns (iptables on, so it lays out its real
    FORWARD/DOCKER-USER chains there). nsenter, not `ip netns exec`: the latter remounts /sys,
    which hides the cgroup mounts dockerd needs. Yields its DOCKER_HOST."""
    root = Path(tempfile.mkdtemp(prefix="mfi-dockerd.", dir="/tmp"))
    (root / "daemon.json").write_text("{}\n")
    sock = root / "docker.sock"
    ns = f"mfi-{root.name.split('.')[-1]}"
    log = open(root / "dockerd.log", "w")
    proc = subprocess.Popen(
        ["nsenter", f"--net=/var/run/netns/{netns}", "dockerd",
         "--config-file", root / "daemon.json", "--data-root", root / "data",
         "--exec-root", root / "x", "--pidfile", root / "pid", "-H", f"unix://{sock}",
         "--bridge=none", "--containerd-namespace", ns,
         "--containerd-plugins-namespace", f"{ns}-plugins"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        def ready():
            if proc.poll() is not None:
                raise AssertionError(f"dockerd exited:\n{(root / 'dockerd.log').read_text()}")
            return run(["curl", "-sf", "--unix-socket", sock, "http://docker/_ping"],
                       check=False).returncode == 0
        poll(ready, "dockerd in the test namespace", deadline_s=60)
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        # dockerd stops the containerd it started; anything of this instance still alive goes.
        for pid_dir in Path("/proc").glob("[0-9]*"):
            try:
                cmdline = (pid_dir / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if str(root) in cmdline and int(pid_dir.name) != os.getpid():
                run(["kill", "-KILL", pid_dir.name], check=False)
        with open("/proc/mounts") as mounts:
            for line in mounts:
                target = line.split()[1]
                if target.startswith(str(root)):
                    run(["umount", "-l", target], check=False)
        shutil.rmtree(root, ignore_errors=True)
