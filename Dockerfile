# Multi-stage build: the builder compiles the DSP addon (cmake-js, offline via node-api-headers) and installs
# production dependencies; the runtime image carries only Node, node_modules, the addon and the sources
# (Node 22 runs the TypeScript sources directly through type stripping, so there is no transpile step).
# The addon is built for a portable x86-64 baseline with runtime dispatch (see native/README or CMakeLists.txt):
# never -march=native here, since the image runs on whatever CPU the cluster gives it.
# No `# syntax=` line on purpose: it makes BuildKit pull a frontend image, and everything used here is in the
# builtin Dockerfile frontend (podman/buildah read it as is). scripts/verify-image.sh builds and checks this image.

ARG NODE_VERSION=22.23.3

FROM node:${NODE_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake ninja-build g++ make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# .npmrc carries engine-strict (and whatever registry settings the project adds): npm ci must see it.
COPY package.json package-lock.json .npmrc ./
# Install without lifecycle scripts first (cache-friendly layer), then build the addon explicitly.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY CMakeLists.txt ./
COPY native ./native
COPY scripts/node-guard.cjs scripts/build-native.ts ./scripts/
RUN npm run build:native
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund
# uWebSockets.js ships one binary per platform × arch × Node ABI (24 files, ~133 MB); its loader requires exactly
# uws_<platform>_<arch>_<modules>.node, so keep that one (computed by this very Node, which the runtime stage shares)
# and fail the build if it is missing rather than ship an image that cannot start.
RUN node -e " \
  const fs = require('node:fs'); const path = require('node:path'); \
  const dir = path.join('node_modules', 'uWebSockets.js', 'dist', 'bin'); \
  const keep = 'uws_' + process.platform + '_' + process.arch + '_' + process.versions.modules + '.node'; \
  if (!fs.existsSync(path.join(dir, keep))) { console.error('missing ' + keep); process.exit(1); } \
  for (const f of fs.readdirSync(dir)) if (f !== keep) fs.rmSync(path.join(dir, f)); \
  console.log('uWebSockets.js: kept ' + keep);"

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    SERVER_PORT=8000 \
    AUDIO_BACKEND=native
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/build/Release/gateway_dsp.node ./build/Release/gateway_dsp.node
COPY package.json .npmrc ./
COPY src ./src
COPY prompts ./prompts
COPY assets ./assets
COPY data ./data
COPY scenarios ./scenarios
# Numeric uid (the node image's `node` user) so runAsNonRoot can verify it without resolving names.
USER 1000:1000
EXPOSE 8000
# Liveness only; readiness (/readyz) is for the orchestrator, which must stop sending new calls while draining.
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.SERVER_PORT||8000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM starts a graceful drain (readyz → 503, active calls finish, up to DRAIN_TIMEOUT_S). Give the runtime a stop
# timeout above DRAIN_TIMEOUT_S (`docker run --stop-timeout`, Kubernetes terminationGracePeriodSeconds), or the drain
# ends in SIGKILL.
STOPSIGNAL SIGTERM
# --single-threaded-gc: V8 collects on the main thread only. A pod is sized at 1 vCPU (README "Capacity"); there,
# V8's GC helper threads (concurrent marking, parallel scavenge) run on the same CPU as the event loop and take it
# from the calls: bench:capacity at 300 calls passed 9 of 11 valid runs with the flag and 1 of 9 without (uplink
# p99 7-11 ms against 21-30). NODE_OPTIONS cannot carry it. Pods with several vCPUs may drop it (override the command).
CMD ["node", "--single-threaded-gc", "src/main.ts"]
