#!/usr/bin/env bash
# Source this file (". scripts/bootstrap.sh"): it makes sure Node.js 24 and the pinned pnpm
# are first on PATH for the current shell.
#
# The machine's node may be older than MikroORM 7 needs (>= 22.17) and than our engines say
# (24). When it is, Node 24 comes from the npm package `node@24` (which ships the binary) into
# .tools/ inside the repo (git-ignored), so nothing outside the checkout is touched.
# pnpm is installed the same way, at the version pinned in package.json's packageManager.

_ctp_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_ctp_tools="$_ctp_root/.tools"
_ctp_want_major=24

_ctp_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

_ctp_npm() { npm_config_loglevel=error npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false npm "$@"; }

if [ -x "$_ctp_tools/node_modules/.bin/node" ]; then
  export PATH="$_ctp_tools/node_modules/.bin:$PATH"
fi

if [ "$(_ctp_node_major)" -lt "$_ctp_want_major" ]; then
  echo "bootstrap: node $(node -v 2>/dev/null || echo none) is older than $_ctp_want_major; installing node@$_ctp_want_major into .tools/" >&2
  mkdir -p "$_ctp_tools"
  _ctp_npm install --prefix "$_ctp_tools" --no-save --no-package-lock "node@$_ctp_want_major" >&2 || return 1 2>/dev/null || exit 1
  export PATH="$_ctp_tools/node_modules/.bin:$PATH"
  hash -r
fi

_ctp_pnpm_version="$(node -p 'require(process.argv[1]).packageManager.split("@")[1].split("+")[0]' "$_ctp_root/package.json")"
if [ "$(pnpm --version 2>/dev/null)" != "$_ctp_pnpm_version" ]; then
  if [ ! -x "$_ctp_tools/pnpm/node_modules/.bin/pnpm" ] || [ "$("$_ctp_tools/pnpm/node_modules/.bin/pnpm" --version)" != "$_ctp_pnpm_version" ]; then
    echo "bootstrap: installing pnpm@$_ctp_pnpm_version into .tools/pnpm" >&2
    _ctp_npm install --prefix "$_ctp_tools/pnpm" --no-save --no-package-lock "pnpm@$_ctp_pnpm_version" >&2 || return 1 2>/dev/null || exit 1
  fi
  export PATH="$_ctp_tools/pnpm/node_modules/.bin:$PATH"
  hash -r
fi

echo "bootstrap: node $(node -v), pnpm $(pnpm --version)" >&2
unset -f _ctp_node_major _ctp_npm
unset _ctp_root _ctp_tools _ctp_want_major _ctp_pnpm_version
