// Runs a CloudFront Function that serves previews under Node.js, as CloudFront would: the code
// CloudFront holds, with a KeyValueStore stand-in holding what the store holds (get() rejects a
// missing key, as AWS documents). Prints one JSON answer per request.
// Usage: node previews.mjs CODE.mjs ITEMS.json REQUESTS.json
//   REQUESTS.json: [{ host, uri, method?, event? ("viewer-request" | "viewer-response") }]
//   Answers: { uri } (the request goes on to the origin with that URI) or { status, headers }.
// Or: node previews.mjs --hosts CODE.mjs HOSTS.tsv  (previewId against the Host table)
import { readFileSync } from "node:fs";
import crypto from "node:crypto";
import vm from "node:vm";

const importLine = 'import cf from "cloudfront";';

function load(file, items, expose) {
  const code = readFileSync(file, "utf8");
  if (!code.startsWith(importLine)) throw new Error(`${file} does not read a KeyValueStore`);
  const cf = {
    kvs: () => ({
      get: async (key) => {
        if (!Object.prototype.hasOwnProperty.call(items, key)) throw new Error(`the key ${key} does not exist`);
        return items[key];
      },
    }),
  };
  const body = code.slice(importLine.length).replace('\nimport crypto from "crypto";', "\n");
  return vm.runInNewContext(`${body}\n;(${expose})`, { cf, crypto });
}

function event(eventType, r) {
  const e = {
    version: "1.0",
    context: { distributionDomainName: "d111111abcdef8.cloudfront.net", eventType },
    viewer: { ip: "198.51.100.11" },
    request: { method: r.method || "GET", uri: r.uri, querystring: {}, headers: { host: { value: r.host } }, cookies: {} },
  };
  if (r.authorization) e.request.headers.authorization = { value: r.authorization };
  if (eventType === "viewer-response") e.response = { statusCode: 200, statusDescription: "OK", headers: {}, cookies: {} };
  return e;
}

const args = process.argv.slice(2);
if (args[0] === "--hosts") {
  const fn = load(args[1], {}, "{ previewId: previewId, PREVIEWS: PREVIEWS }");
  let failed = 0, passed = 0;
  for (const line of readFileSync(args[2], "utf8").split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const [host, domain, want] = line.split("\t");
    fn.PREVIEWS.domain = domain;
    const got = fn.previewId(host);
    const name = got === null ? "production" : got === "" ? "unknown" : got;
    if (name === want) passed++;
    else { failed++; console.log(`FAIL ${JSON.stringify(host)} ${domain}: ${name}, want ${want}`); }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
const [codeFile, itemsFile, requestsFile] = args;
const handler = load(codeFile, JSON.parse(readFileSync(itemsFile, "utf8")), "handler");
const out = [];
for (const r of JSON.parse(readFileSync(requestsFile, "utf8"))) {
  const got = await handler(event(r.event || "viewer-request", r));
  const headers = {};
  for (const [name, v] of Object.entries(got.headers || {})) headers[name] = v.value;
  out.push(got.statusCode ? { status: got.statusCode, headers } : { uri: got.uri, headers });
}
console.log(JSON.stringify(out));
