#!/usr/bin/env bash
# GPU host check: GPU discovery from the real nvidia-smi and the process runtime's GPU pinning
# (see docs/sessions.md, "On a GPU host"). Run as root on the GPU machine:
#   scripts/gpu-host-check.sh BUNDLE_DIR
# BUNDLE_DIR holds medforge-api and lib/ with its libraries and loader, made on the build machine:
#   scripts/gpu-host-check.sh --bundle DIR   (strips build/release/medforge-api, copies ldd's libs)
# It creates the `medforge-session` user when missing, starts the API (SQLite) with the process
# runtime three ways (GPU mode nvidia/none; bwrap when installed), creates a session whose
# "IDE" records its environment, nvidia-smi and PyTorch's view (when /opt/torch/.venv exists), and
# prints everything; then checks the idle stop with GPU utilisation (an idle GPU's session is
# stopped, a busy one's kept; GPU_CHECK_ONLY=idle runs only that; GPU_CHECK_ONLY=status only the
# first API with its /api/v1/status answer). Logs go to $OUT (default
# /tmp/medforge-gpu-check).
set -euo pipefail
if [[ "${1:-}" == --bundle ]]; then
  d=${2:?--bundle DIR}; mkdir -p "$d/lib"
  strip -o "$d/medforge-api" build/release/medforge-api
  ldd build/release/medforge-api | awk '/=>/ {print $3}' | xargs -I{} cp -L {} "$d/lib/"
  cp -L /lib64/ld-linux-x86-64.so.2 "$d/lib/"
  cp "$0" "$d/check.sh"
  exit 0
fi
# From here on a diagnostic: every step runs and reports, whatever an earlier one did.
set +e
B=$(cd "${1:-$(dirname "$0")}" && pwd)
OUT=${OUT:-/tmp/medforge-gpu-check}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
api() { "$B/lib/ld-linux-x86-64.so.2" --library-path "$B/lib" "$B/medforge-api" "$@"; }
echo "== host"; uname -r; head -2 /etc/os-release; id -u; nproc
echo "== nvidia-smi"; nvidia-smi -L
nvidia-smi --query-gpu=index,name,uuid --format=csv,noheader | tee "$OUT/nvsmi.csv"
command -v python3 bwrap curl || true
api --version
W=$(mktemp -d /tmp/mfdev.XXXXXX); chmod 0711 "$W"
id medforge-session >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin medforge-session
cat >"$W/probe.sh" <<'EOF'
#!/bin/bash
port=$1; ws=$2
{ echo "CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset}"; echo "NVIDIA_VISIBLE_DEVICES=${NVIDIA_VISIBLE_DEVICES-unset}"
  echo "MEDFORGE_GPU_ID=${MEDFORGE_GPU_ID-unset}"; echo "CUDA_DEVICE_ORDER=${CUDA_DEVICE_ORDER-unset}"; echo "uid=$(id -u) user=$(id -un 2>/dev/null)"
  nvidia-smi --query-gpu=index,name,uuid --format=csv,noheader 2>&1; ls /dev/nvidia* 2>&1 | tr '\n' ' '; echo
  [[ -x /opt/torch/.venv/bin/python3 ]] && /opt/torch/.venv/bin/python3 -c "import torch; n=torch.cuda.device_count(); print('torch sees', n, 'GPU(s)', [torch.cuda.get_device_name(i) for i in range(n)]); print('matmul ok', float((torch.ones(64,64,device='cuda')@torch.ones(64,64,device='cuda'))[0,0]) if n else 'no cuda')" 2>&1 | tail -2; } >"$ws/probe.txt"
if [[ -e "$(dirname "$0")/busy" && -x /opt/torch/.venv/bin/python3 ]]; then
  # keep the GPU busy for 60 s, so the idle check must not stop this session
  /opt/torch/.venv/bin/python3 -c "
import time, torch
x = torch.randn(4096, 4096, device='cuda'); t = time.time()
while time.time() - t < 60:
    x = x @ x; x = x / x.norm()
torch.cuda.synchronize()" >/dev/null 2>&1 &
fi
d=$(mktemp -d); echo '{"status":"alive","lastHeartbeat":0}' >"$d/healthz"
cd "$d" && exec python3 -m http.server --bind 127.0.0.1 "$port"
EOF
chmod 0755 "$W/probe.sh"
run_case() {
  local sandbox=$1 port=$2 gpumode=$3 ws="$W/ws-$1-$3"
  mkdir -p "$ws" "$W/ds"; chmod 0711 "$ws"
  echo "== API (process runtime, sandbox=$sandbox, SESSION_GPU_MODE=$gpumode, GPU_DISCOVERY=nvidia-smi)"
  env API_BIND="127.0.0.1:$port" DATABASE_URL="sqlite://$W/db-$sandbox-$gpumode" SESSION_SECRET=0123456789abcdef0123456789abcdef DOMAIN=localhost \
    GPU_DISCOVERY=nvidia-smi SESSION_RUNTIME=process WORKSPACE_STORE=dir WORKSPACE_DIR_ROOT="$ws" DATASETS_ROOT="$W/ds" \
    SUBMISSIONS_DIR="$W/sub-$sandbox-$gpumode" SESSION_PROCESS_SANDBOX="$sandbox" SESSION_GPU_MODE="$gpumode" SESSION_PROCESS_COMMAND="$W/probe.sh {port} {workspace}" \
    SESSION_POLL_INTERVAL_SECONDS=2 SESSION_IDLE_TIMEOUT_SECONDS=3600 SESSION_STOP_ON_SHUTDOWN=true \
    MEDFORGE_BOOTSTRAP_ADMIN_EMAIL=admin@example.org MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD=device-check-pass LOG_LEVEL=info \
    "$B/lib/ld-linux-x86-64.so.2" --library-path "$B/lib" "$B/medforge-api" >"$OUT/api-$sandbox-$gpumode.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
  local U="http://127.0.0.1:$port/api/v1" J="$W/jar-$sandbox-$gpumode"
  local tok; tok=$(curl -s -D - -o /dev/null -H 'content-type: application/json' -d '{"email":"admin@example.org","password":"device-check-pass"}' "$U/auth/login" | sed -n 's/^[Ss]et-[Cc]ookie: medforge_session=\([^;]*\);.*/\1/p')
  printf 'Cookie: medforge_session=%s\n' "$tok" >"$J"; echo "token length ${#tok}"
  echo "-- admin gpus"; curl -s -H @"$J" "$U/admin/gpus"; echo
  echo "-- readyz"; curl -s "http://127.0.0.1:$port/readyz"; echo
  echo "-- status (admin host dashboard: live GPU figures)"
  curl -s -H @"$J" "$U/status" | grep -o '"nvidia_smi":"[^"]*"\|"gpus":\[[^]]*\]'
  [[ "${GPU_CHECK_ONLY:-}" == status ]] && { kill "$pid"; wait "$pid"; return; }
  echo "-- create"; local body; body=$(curl -s -H @"$J" -H 'content-type: application/json' -d '{}' "$U/sessions"); echo "$body"
  local sid slug; sid=$(sed -n 's/.*"id":"\([0-9a-f-]\{36\}\)".*/\1/p' <<<"$body" | head -1); slug=$(sed -n 's/.*"slug":"\([a-z2-7]\{8\}\)".*/\1/p' <<<"$body" | head -1)
  echo "-- gate"; curl -s -D - -o /dev/null -H @"$J" -H "Host: s-$slug.medforge.localhost" "$U/auth/session-proxy" | grep -i 'HTTP/\|x-medforge'
  echo "-- probe.txt (what the session process saw)"; find "$ws" -name probe.txt -exec cat {} \;
  echo "-- stop"; curl -s -H @"$J" -X POST "$U/sessions/$sid/stop" -o /dev/null -w '%{http_code}\n'
  for _ in $(seq 50); do curl -s -H @"$J" "$U/sessions/$sid" | grep -q '"status":"stopped"' && break; sleep 0.2; done
  curl -s -H @"$J" "$U/sessions/$sid" | grep -o '"status":"[a-z]*"' | head -1
  echo "-- snapshots"; find "$ws" -maxdepth 3 -path '*.snapshots*' | head
  kill "$pid"; wait "$pid"
  grep -i 'gpu\|nvidia' "$OUT/api-$sandbox-$gpumode.log" | head -5
}
# Idle stop with GPU utilisation: timeout 8 s, passes every second. A session whose GPU is idle
# is stopped (reason idle); one whose GPU is busy is kept, although its IDE never had a client.
idle_case() {
  local port=18021 ws="$W/ws-idle" U J="$W/jar-idle" tok body sid
  mkdir -p "$ws"; chmod 0711 "$ws"
  echo "== idle stop (SESSION_IDLE_TIMEOUT_SECONDS=8, GPU utilisation from nvidia-smi)"
  env API_BIND="127.0.0.1:$port" DATABASE_URL="sqlite://$W/db-idle" SESSION_SECRET=0123456789abcdef0123456789abcdef DOMAIN=localhost \
    GPU_DISCOVERY=nvidia-smi SESSION_RUNTIME=process WORKSPACE_STORE=dir WORKSPACE_DIR_ROOT="$ws" DATASETS_ROOT="$W/ds" \
    SUBMISSIONS_DIR="$W/sub-idle" SESSION_PROCESS_SANDBOX=none SESSION_PROCESS_COMMAND="$W/probe.sh {port} {workspace}" \
    SESSION_POLL_INTERVAL_SECONDS=1 SESSION_IDLE_TIMEOUT_SECONDS=8 SESSION_STOP_ON_SHUTDOWN=true \
    MEDFORGE_BOOTSTRAP_ADMIN_EMAIL=admin@example.org MEDFORGE_BOOTSTRAP_ADMIN_PASSWORD=device-check-pass LOG_LEVEL=info \
    "$B/lib/ld-linux-x86-64.so.2" --library-path "$B/lib" "$B/medforge-api" >"$OUT/api-idle.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
  U="http://127.0.0.1:$port/api/v1"
  tok=$(curl -s -D - -o /dev/null -H 'content-type: application/json' -d '{"email":"admin@example.org","password":"device-check-pass"}' "$U/auth/login" | sed -n 's/^[Ss]et-[Cc]ookie: medforge_session=\([^;]*\);.*/\1/p')
  printf 'Cookie: medforge_session=%s\n' "$tok" >"$J"
  for mode in idle busy; do
    if [[ $mode == busy ]]; then touch "$W/busy"; else rm -f "$W/busy"; fi
    body=$(curl -s -H @"$J" -H 'content-type: application/json' -d '{}' "$U/sessions")
    sid=$(sed -n 's/.*"id":"\([0-9a-f-]\{36\}\)".*/\1/p' <<<"$body" | head -1)
    echo "-- $mode GPU: session $sid $(grep -o '"status":"[a-z]*"' <<<"$body" | head -1); waiting 20 s"
    local t0=$SECONDS
    while ((SECONDS - t0 < 20)); do
      curl -s -H @"$J" "$U/sessions/$sid" | grep -q '"status":"stopped"' && break
      sleep 1
    done
    echo "   after $((SECONDS - t0)) s: $(curl -s -H @"$J" "$U/sessions/$sid" | grep -o '"status":"[a-z]*"' | head -1)"
    [[ $mode == busy ]] && nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader
    curl -s -H @"$J" -X POST "$U/sessions/$sid/stop" -o /dev/null
    for _ in $(seq 50); do curl -s -H @"$J" "$U/sessions/$sid" | grep -q '"status":"stopped"' && break; sleep 0.2; done
  done
  grep -h '"session.stop_requested"' "$OUT/api-idle.log" | grep -o '"detail":"[a-z]*"\|"session_id":"[0-9a-f-]*"' | paste - - 
  kill "$pid"; wait "$pid"
}
if [[ "${GPU_CHECK_ONLY:-}" == idle ]]; then idle_case; echo "== done"; exit 0; fi
if [[ "${GPU_CHECK_ONLY:-}" == status ]]; then run_case none 18011 nvidia; echo "== done"; exit 0; fi
run_case none 18011 nvidia
run_case none 18012 none
command -v bwrap >/dev/null && run_case bwrap 18013 nvidia
idle_case
echo "== done"
