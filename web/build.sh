#!/usr/bin/env bash
# Builds the web app into web/dist: the browser SDK (crates/appel-web) compiled to wasm32 and bound
# with wasm-bindgen (the version pinned in Cargo.toml), plus the page's own files.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${APPEL_WEB_PROFILE:-release}
target_dir=${CARGO_TARGET_DIR:-target}
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build --locked --target wasm32-unknown-unknown -p appel-web "${flag[@]}"
rm -rf web/dist && mkdir -p web/dist/pkg
wasm-bindgen --target web --out-dir web/dist/pkg \
  "$target_dir/wasm32-unknown-unknown/$profile/appel_web.wasm"
cp catalog/codes.d.ts web/dist/pkg/codes.d.ts
cp web/src/* web/dist/
cp catalog/codes.json web/dist/codes.json
echo "web app built into web/dist"
