#!/usr/bin/env node
// The `spadeploy` command of the npm package: runs the native binary that npm installed from the
// one optional dependency matching this machine (as esbuild, Biome and Turborepo do), so nothing
// is downloaded at install time and no postinstall script runs.
"use strict";

const { spawnSync } = require("node:child_process");

const PACKAGES = {
  "linux x64": "@spadeploy/linux-x64",
  "linux arm64": "@spadeploy/linux-arm64",
  "darwin x64": "@spadeploy/darwin-x64",
  "darwin arm64": "@spadeploy/darwin-arm64",
  "win32 x64": "@spadeploy/win32-x64",
};

function fail(message) {
  console.error(`spadeploy: ${message}`);
  process.exit(1);
}

const platform = `${process.platform} ${process.arch}`;
const pkg = PACKAGES[platform];
if (!pkg) {
  fail(
    `no prebuilt binary for ${platform} (prebuilt: ${Object.keys(PACKAGES).join(", ")}); ` +
      "install it with `cargo install spadeploy` instead"
  );
}
const exe = process.platform === "win32" ? "spadeploy.exe" : "spadeploy";
let binary;
try {
  binary = require.resolve(`${pkg}/bin/${exe}`);
} catch {
  fail(
    `${pkg}, which holds the binary for ${platform}, is not installed: ` +
      "reinstall without --no-optional / --omit=optional (npm ci --include=optional)"
  );
}
const run = spawnSync(binary, process.argv.slice(2), { stdio: "inherit" });
if (run.error) {
  fail(`cannot run ${binary}: ${run.error.message}`);
}
if (run.signal) {
  // Die of the same signal, so the caller sees what happened.
  process.kill(process.pid, run.signal);
}
process.exit(run.status ?? 1);
