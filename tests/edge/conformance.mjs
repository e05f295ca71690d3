// Runs the routing conformance table against spadeploy's generated edge functions under Node.js,
// with CloudFront event shapes as AWS documents them (lambda-event-structure.html,
// functions-event-structure.html). Origins are modelled from AWS's documented semantics:
//   - website mode: the bucket's website endpoint (IndexDocument, ErrorDocument for 4xx,
//     `key` -> 302 `key/` when key/index exists), with the Lambda@Edge function on
//     origin-request (it may answer itself) and origin-response;
//   - private mode: the S3 REST endpoint behind OAC with s3:ListBucket (missing keys are 404),
//     the CloudFront Function on viewer-request and, when associated, viewer-response (which
//     CloudFront skips for origin statuses >= 400 and for answers the function made). AWS does
//     not say whether viewer-response sees the URI as sent or as rewritten: both are run.
//     The function runs twice more: with its pages inline, and reading them from a KeyValueStore
//     stand-in (the `cloudfront` module's kvs(), which rejects a missing key as AWS documents)
//     holding the table spadeploy writes to the store.
//   - the /api/* cache behavior: a fake API, with no edge function attached.
// Usage: node conformance.mjs CASES.tsv SITE.json...
// CASES.tsv: site, method, target, status, body (file:KEY, api, empty, any, contains:TEXT: the
//            body contains TEXT, html: the body is an HTML document), headers (name=value|-name)
// SITE.json: { name, root, table (routing --print-table), objects (live record), and the code to
//              run: lambda, function, function_kvs (each optional), kvs_items (what the store
//              holds; default: the table's) }
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import vm from "node:vm";

const [casesFile, ...siteFiles] = process.argv.slice(2);
const empty = Buffer.alloc(0);

async function loadSite(file) {
  const site = JSON.parse(readFileSync(file, "utf8"));
  site.objects = new Map(
    Object.entries(site.objects).map(([key, o]) => [
      key,
      { ...o, body: readFileSync(join(site.root, ...key.split("/"))) },
    ]),
  );
  if (site.lambda) site.lambdaHandler = (await import(pathToFileURL(site.lambda).href)).handler;
  const stored = site.kvs_items || site.table.key_value_store;
  if (site.function) site.functionHandler = loadFunction(site.function, stored);
  if (site.function_kvs) site.kvsHandler = loadFunction(site.function_kvs, stored);
  const routes = site.table.routes;
  site.base = routes.base;
  site.indexSuffix = routes.index;
  site.errorKey = site.table.not_found_key || "index.html";
  site.events = site.table.events;
  return site;
}

// A CloudFront Function's handler; one that imports `cloudfront` gets a KeyValueStore stand-in
// holding `stored` (its get() rejects a missing key, as AWS documents).
function loadFunction(file, stored) {
  const code = readFileSync(file, "utf8");
  const importLine = 'import cf from "cloudfront";';
  if (!code.startsWith(importLine)) return vm.runInNewContext(`${code}\n;handler`, {});
  const cf = {
    kvs: () => ({
      get: async (key) => {
        if (!Object.prototype.hasOwnProperty.call(stored, key)) throw new Error(`the key ${key} does not exist`);
        return stored[key];
      },
    }),
  };
  return vm.runInNewContext(`${code.slice(importLine.length)}\n;handler`, { cf });
}

const API = { "/api/health": [200, '{"ok":true}'] };
function api(uri) {
  const hit = API[uri];
  if (hit) return { status: hit[0], headers: { "content-type": "application/json" }, body: Buffer.from(hit[1]) };
  return { status: 404, headers: { "content-type": "application/json" }, body: Buffer.from('{"error":"not found"}') };
}
const isApi = (uri) => uri.startsWith("/api/");

// The key a URL path reaches (no origin path: the base is the target's key prefix).
function keyOf(site, uri) {
  if (!uri.startsWith(site.base)) return null;
  return decodeURIComponent(uri.slice(site.base.length));
}

function object(site, key) {
  const o = key === null ? undefined : site.objects.get(key);
  return o && { status: 200, headers: { "content-type": o.content_type, "cache-control": o.cache_control }, body: o.body };
}

function s3Website(site, uri) {
  let key = keyOf(site, uri);
  if (key !== null && (key === "" || key.endsWith("/"))) key += site.indexSuffix;
  const hit = object(site, key);
  if (hit) return hit;
  if (key !== null && site.objects.has(`${key}/${site.indexSuffix}`)) return { status: 302, headers: { location: `${uri}/` }, body: empty };
  const error = object(site, site.errorKey);
  return { status: 404, headers: error.headers, body: error.body };
}

function s3Rest(site, uri) {
  return object(site, keyOf(site, uri)) || {
    status: 404,
    headers: { "content-type": "application/xml" },
    body: Buffer.from("<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"),
  };
}

function lambdaHeaders(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) out[name] = [{ key: name, value }];
  return out;
}

function plainHeaders(lambda) {
  const out = {};
  for (const [name, values] of Object.entries(lambda || {})) out[name] = values[0].value;
  return out;
}

function lambdaEvent(eventType, request, response) {
  const cf = {
    config: {
      distributionDomainName: "d111111abcdef8.cloudfront.net",
      distributionId: "EDFDVBD6EXAMPLE",
      eventType,
      requestId: "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
    },
    request,
  };
  if (response) cf.response = response;
  return { Records: [{ cf }] };
}

function originRequest(method, uri, querystring) {
  return {
    clientIp: "203.0.113.178",
    headers: { host: [{ key: "Host", value: "my-site.s3-website-us-east-1.amazonaws.com" }] },
    method,
    origin: {
      custom: {
        customHeaders: {}, domainName: "my-site.s3-website-us-east-1.amazonaws.com",
        keepaliveTimeout: 5, path: "", port: 80, protocol: "http", readTimeout: 30,
        sslProtocols: ["TLSv1.2"],
      },
    },
    querystring,
    uri,
  };
}

async function viaLambdaEdge(site, method, uri, querystring) {
  if (isApi(uri)) return api(uri);
  const request = await site.lambdaHandler(lambdaEvent("origin-request", originRequest(method, uri, querystring)));
  if (request.status !== undefined) {
    // Answered by the function: CloudFront returns it as it is.
    return { status: Number(request.status), headers: plainHeaders(request.headers), body: request.body ? Buffer.from(request.body) : empty };
  }
  const origin = s3Website(site, request.uri);
  const response = {
    headers: lambdaHeaders(origin.headers),
    status: String(origin.status),
    statusDescription: origin.status === 200 ? "OK" : origin.status === 404 ? "Not Found" : "Found",
  };
  const out = await site.lambdaHandler(lambdaEvent("origin-response", request, response));
  const body = out.body === undefined ? origin.body : Buffer.from(out.body);
  return { status: Number(out.status), headers: plainHeaders(out.headers), body };
}

function viewerEvent(eventType, method, uri, querystring, response) {
  const qs = {};
  for (const pair of querystring ? querystring.split("&") : []) {
    const [name, value = ""] = pair.split("=");
    qs[name] = { value };
  }
  const event = {
    version: "1.0",
    context: { distributionDomainName: "d111111abcdef8.cloudfront.net", distributionId: "EDFDVBD6EXAMPLE",
               eventType, requestId: "EXAMPLEntjQpEXAMPLE_SG5Z-EXAMPLEPmPfEXAMPLEu3EqEXAMPLE==" },
    viewer: { ip: "198.51.100.11" },
    request: { method, uri, querystring: qs, headers: { host: { value: "www.example.com" } }, cookies: {} },
  };
  if (response) event.response = response;
  return event;
}

async function viaCloudFrontFunction(site, handler, method, uri, querystring, responseSeesRewrite) {
  if (isApi(uri)) return api(uri);
  const out = await handler(viewerEvent("viewer-request", method, uri, querystring));
  if (out.statusCode !== undefined) {
    const headers = {};
    for (const [name, v] of Object.entries(out.headers || {})) headers[name] = v.value;
    return { status: out.statusCode, headers, body: empty };
  }
  const origin = s3Rest(site, out.uri);
  if (origin.status >= 400 || !site.events.includes("viewer-response")) return origin;
  const headers = {};
  for (const [name, value] of Object.entries(origin.headers)) headers[name] = { value };
  const seen = responseSeesRewrite ? out.uri : uri;
  const response = await handler(viewerEvent("viewer-response", method, seen, querystring,
    { statusCode: origin.status, statusDescription: "OK", headers, cookies: {} }));
  const plain = {};
  for (const [name, v] of Object.entries(response.headers)) plain[name] = v.value;
  return { status: response.statusCode, headers: plain, body: origin.body };
}

// An HTML document: after any BOM, whitespace and comments, a doctype or an <html> tag.
function isHtmlDocument(body) {
  const start = body.toString("utf8", 0, 4096).replace(/^\uFEFF/, "").replace(/^(\s|<!--[\s\S]*?-->)*/, "");
  return /^<!doctype html|^<html[\s>]/i.test(start);
}

const sites = new Map();
for (const file of siteFiles) {
  const site = await loadSite(file);
  sites.set(site.name, site);
}

const runners = [
  ["lambda@edge", (s) => s.lambdaHandler, viaLambdaEdge],
  ["cloudfront-function (viewer-response sees the viewer's URI)", (s) => s.functionHandler,
    (s, m, u, q) => viaCloudFrontFunction(s, s.functionHandler, m, u, q, false)],
  ["cloudfront-function (viewer-response sees the rewritten URI)", (s) => s.functionHandler,
    (s, m, u, q) => viaCloudFrontFunction(s, s.functionHandler, m, u, q, true)],
  ["cloudfront-function with a KeyValueStore", (s) => s.kvsHandler,
    (s, m, u, q) => viaCloudFrontFunction(s, s.kvsHandler, m, u, q, true)],
];
let passed = 0;
let failed = 0;
for (const line of readFileSync(casesFile, "utf8").split("\n")) {
  if (!line.trim() || line.startsWith("#")) continue;
  const [siteName, method, target, status, bodyKind, headerSpec = ""] = line.split("\t");
  const site = sites.get(siteName);
  if (!site) throw new Error(`no site ${siteName} given`);
  const [uri, querystring = ""] = target.split("?");
  for (const [name, present, run] of runners) {
    if (!present(site)) continue;
    const got = await run(site, method, uri, querystring);
    if (method === "HEAD") got.body = empty;
    const problems = [];
    if (got.status !== Number(status)) problems.push(`status ${got.status}, expected ${status}`);
    let expectedBody = null;
    if (bodyKind.startsWith("file:")) expectedBody = site.objects.get(bodyKind.slice(5)).body;
    else if (bodyKind === "api") expectedBody = api(uri).body;
    else if (bodyKind === "empty") expectedBody = empty;
    if (method === "HEAD") expectedBody = empty;
    if (expectedBody && !got.body.equals(expectedBody)) problems.push(`body is not ${bodyKind}`);
    if (bodyKind.startsWith("contains:") && method !== "HEAD" && !got.body.includes(bodyKind.slice(9))) {
      problems.push(`body does not contain ${JSON.stringify(bodyKind.slice(9))}`);
    }
    if (bodyKind === "html" && method !== "HEAD" && !isHtmlDocument(got.body)) {
      problems.push(`body is not an HTML document: ${JSON.stringify(got.body.subarray(0, 80).toString())}`);
    }
    for (const spec of headerSpec.split("|").filter(Boolean)) {
      if (spec.startsWith("-")) {
        const header = spec.slice(1).toLowerCase();
        if (got.headers[header] !== undefined) problems.push(`${header}: ${got.headers[header]}, expected none`);
        continue;
      }
      const at = spec.indexOf("=");
      const [header, want] = [spec.slice(0, at).trim().toLowerCase(), spec.slice(at + 1).trim()];
      const value = got.headers[header];
      if (value !== want) problems.push(`${header}: ${value}, expected ${want}`);
    }
    if (problems.length) {
      failed++;
      console.log(`FAIL ${name} [${siteName}] ${method} ${target}: ${problems.join("; ")}`);
    } else {
      passed++;
    }
  }
}
console.log(`conformance: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
