"""Every shell script in the repository passes shellcheck and runs with `set -euo pipefail`:
files named *.sh and files whose first line is a bash/sh shebang (tracked, or new and not
ignored)."""

import shutil
import subprocess

from conftest import REPO, require, run


def shell_scripts():
    listed = run(["git", "-C", REPO, "ls-files", "-z", "-co", "--exclude-standard"]).stdout
    scripts = []
    for name in filter(None, listed.split("\0")):
        path = REPO / name
        if not path.is_file():
            continue
        if name.endswith(".sh"):
            scripts.append(name)
            continue
        with open(path, "rb") as f:
            first = f.readline(200)
        if first.startswith(b"#!") and any(s in first for s in (b"bash", b"/sh", b" sh")):
            scripts.append(name)
    return sorted(scripts)


def test_shellcheck_passes_on_every_shell_script():
    require(shutil.which("shellcheck") is not None,
            "needs shellcheck")
    scripts = shell_scripts()
    assert "infra/firewall/setup.sh" in scripts and "scripts/test.sh" in scripts, scripts
    r = subprocess.run(["shellcheck", "-x", *scripts], cwd=REPO, capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0, f"shellcheck on {len(scripts)} scripts:\n{r.stdout}{r.stderr}"


def test_every_shell_script_sets_strict_mode():
    missing = [s for s in shell_scripts()
               if "set -euo pipefail" not in (REPO / s).read_text(errors="replace")]
    assert not missing, f"without `set -euo pipefail`: {missing}"
