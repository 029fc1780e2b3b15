"""docs/configuration.md documents exactly the variables the binaries read."""
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def test_configuration_doc_matches_binary():
    api = Path(os.environ.get("MEDFORGE_BIN_DIR", ROOT / "build/release")) / "medforge-api"
    read = set(subprocess.run([str(api), "--check-config"], check=True, capture_output=True,
                              text=True, env={"PATH": os.environ["PATH"]}).stdout.split())
    doc = (ROOT / "docs/configuration.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", doc, flags=re.M))
    # CLI-only, listed separately
    documented -= {"MEDFORGE_ADMIN_PASSWORD", "MEDFORGE_BUNDLE_CACHE_DIR"}
    assert read, "medforge-api --check-config printed nothing"
    assert read - documented == set(), f"undocumented: {sorted(read - documented)}"
    assert documented - read == set(), f"documented but not read: {sorted(documented - read)}"


def test_bad_configuration_names_every_bad_variable():
    api = Path(os.environ.get("MEDFORGE_BIN_DIR", ROOT / "build/release")) / "medforge-api"
    env = {"PATH": os.environ["PATH"], "API_BIND": "nonsense", "AUTH_RATE_LIMIT": "x/y",
           "LOG_LEVEL": "loud"}
    proc = subprocess.run([str(api)], capture_output=True, text=True, env=env, timeout=30)
    assert proc.returncode == 2
    for name in ("API_BIND", "AUTH_RATE_LIMIT", "LOG_LEVEL"):
        assert name in proc.stderr
