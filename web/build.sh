#!/usr/bin/env bash
# Builds the web app into web/dist: the browser SDK (crates/appel-web) compiled to wasm32 and bound
# with wasm-bindgen (the version pinned in Cargo.toml), plus the page's own files.
set -euo pipefail
cd "$(dirname "$0")/.."
# `release` (the default) is the size-tuned `wasm-release` profile of Cargo.toml; `debug` builds fast.
profile=${APPEL_WEB_PROFILE:-release}
target_dir=${CARGO_TARGET_DIR:-target}
cargo_profile=$profile; [ "$profile" = release ] && cargo_profile=wasm-release
[ "$profile" = debug ] && cargo_profile=dev
out_dir=$cargo_profile; [ "$cargo_profile" = dev ] && out_dir=debug
cargo build --locked --target wasm32-unknown-unknown -p appel-web --profile "$cargo_profile"
rm -rf web/dist && mkdir -p web/dist/pkg
wasm-bindgen --target web --out-dir web/dist/pkg \
  "$target_dir/wasm32-unknown-unknown/$out_dir/appel_web.wasm"
# wasm-opt shrinks the shipped build further: binaryen from web/'s npm packages (Debian's is too old
# for the features rustc now emits), reading the enabled features from the module's own section.
wasm_opt=web/node_modules/.bin/wasm-opt
if [ "$profile" != debug ] && [ -x "$wasm_opt" ]; then
  "$wasm_opt" -Oz --strip-debug --strip-producers --strip-target-features \
    -o web/dist/pkg/appel_web_bg.wasm web/dist/pkg/appel_web_bg.wasm
elif [ "$profile" != debug ]; then
  echo "wasm-opt not installed (cd web && npm install): the wasm is not optimised further" >&2
fi
cp catalog/codes.d.ts web/dist/pkg/codes.d.ts
# The package an application installs (`npm pack web/dist/pkg`) is this same folder.
cp web/sdk/package.json web/sdk/README.md web/dist/pkg/
cp web/src/* web/dist/
cp catalog/codes.json web/dist/codes.json
echo "web app built into web/dist"
