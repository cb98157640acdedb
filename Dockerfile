# syntax=docker/dockerfile:1
# Multi-stage build: the builder compiles the DSP addon (cmake-js, offline via node-api-headers) and installs
# production dependencies; the runtime image carries only Node, node_modules, the addon and the sources
# (Node 22 runs the TypeScript sources directly through type stripping, so there is no transpile step).
# The addon is built for a portable x86-64 baseline with runtime dispatch (see native/README or CMakeLists.txt):
# never -march=native here, since the image runs on whatever CPU the cluster gives it.

ARG NODE_VERSION=22.23.3

FROM node:${NODE_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake ninja-build g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Install without lifecycle scripts first (cache-friendly layer), then build the addon explicitly.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY CMakeLists.txt ./
COPY native ./native
COPY scripts ./scripts
RUN npm run build:native
RUN npm prune --omit=dev --ignore-scripts

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    SERVER_PORT=8000 \
    AUDIO_BACKEND=native
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/build/Release/gateway_dsp.node ./build/Release/gateway_dsp.node
COPY package.json ./
COPY src ./src
COPY prompts ./prompts
COPY assets ./assets
COPY data ./data
COPY scenarios ./scenarios
USER node
EXPOSE 8000
# Liveness only; readiness (/readyz) is for the orchestrator, which must stop sending new calls while draining.
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.SERVER_PORT||8000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM starts a graceful drain (readyz → 503, active calls finish, up to DRAIN_TIMEOUT_S).
STOPSIGNAL SIGTERM
CMD ["node", "src/main.ts"]
