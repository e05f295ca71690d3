// Runs the routing conformance table against spadeploy's generated edge functions under Node.js,
// with CloudFront event shapes as AWS documents them (lambda-event-structure.html,
// functions-event-structure.html). Origins are modelled from AWS's documented semantics:
//   - website mode: the bucket's website endpoint (IndexDocument, ErrorDocument for 4xx,
//     RoutingRules with KeyPrefixEquals evaluated first, `key` → 302 `key/` when key/index exists);
//   - private mode: the S3 REST endpoint behind OAC with s3:ListBucket (missing keys are 404);
//   - the /api/* cache behavior: a fake API, with no edge function attached.
// Usage: node conformance.mjs LAMBDA.mjs FUNCTION.js CASES.tsv SITE.json
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import vm from "node:vm";

const [lambdaFile, functionFile, casesFile, siteFile] = process.argv.slice(2);
const site = JSON.parse(readFileSync(siteFile, "utf8"));
const objects = new Map(
  Object.entries(site.objects).map(([key, o]) => [
    key,
    { ...o, body: readFileSync(join(site.root, ...key.split("/"))) },
  ]),
);
const lambdaHandler = (await import(pathToFileURL(lambdaFile).href)).handler;
const functionHandler = vm.runInNewContext(`${readFileSync(functionFile, "utf8")}\n;handler`, {});
const empty = Buffer.alloc(0);

const API = { "/api/health": [200, '{"ok":true}'] };
function api(uri) {
  const hit = API[uri];
  if (hit) return { status: hit[0], headers: { "content-type": "application/json" }, body: Buffer.from(hit[1]) };
  return { status: 404, headers: { "content-type": "application/json" }, body: Buffer.from('{"error":"not found"}') };
}
const isApi = (uri) => uri.startsWith("/api/");

function object(key) {
  const o = objects.get(key);
  return o && { status: 200, headers: { "content-type": o.content_type, "cache-control": o.cache_control }, body: o.body };
}

function s3Website(uri) {
  for (const r of site.redirects) {
    if (uri.startsWith(r.from)) {
      const location = `https://${site.host}${r.to}${uri.slice(r.from.length)}`;
      return { status: r.status, headers: { location }, body: empty };
    }
  }
  const indexSuffix = site.index.slice(1);
  let key = decodeURIComponent(uri.slice(1));
  if (key === "" || key.endsWith("/")) key += indexSuffix;
  const hit = object(key);
  if (hit) return hit;
  if (objects.has(`${key}/${indexSuffix}`)) return { status: 302, headers: { location: `${uri}/` }, body: empty };
  const error = object(site.error_document);
  return { status: 404, headers: error.headers, body: error.body };
}

function s3Rest(uri) {
  return object(decodeURIComponent(uri.slice(1))) || {
    status: 404,
    headers: { "content-type": "application/xml" },
    body: Buffer.from("<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"),
  };
}

function originResponseEvent(method, uri, querystring, origin) {
  const headers = {};
  for (const [name, value] of Object.entries(origin.headers)) headers[name] = [{ key: name, value }];
  return {
    Records: [{
      cf: {
        config: {
          distributionDomainName: "d111111abcdef8.cloudfront.net",
          distributionId: "EDFDVBD6EXAMPLE",
          eventType: "origin-response",
          requestId: "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ==",
        },
        request: {
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
        },
        response: {
          headers,
          status: String(origin.status),
          statusDescription: origin.status === 200 ? "OK" : origin.status === 404 ? "Not Found" : "Found",
        },
      },
    }],
  };
}

function viewerRequestEvent(method, uri, querystring) {
  const qs = {};
  for (const pair of querystring ? querystring.split("&") : []) {
    const [name, value = ""] = pair.split("=");
    qs[name] = { value };
  }
  return {
    version: "1.0",
    context: { distributionDomainName: "d111111abcdef8.cloudfront.net", distributionId: "EDFDVBD6EXAMPLE",
               eventType: "viewer-request", requestId: "EXAMPLEntjQpEXAMPLE_SG5Z-EXAMPLEPmPfEXAMPLEu3EqEXAMPLE==" },
    viewer: { ip: "198.51.100.11" },
    request: { method, uri, querystring: qs, headers: { host: { value: "www.example.com" } }, cookies: {} },
  };
}

async function viaLambdaEdge(method, uri, querystring) {
  if (isApi(uri)) return api(uri);
  const origin = s3Website(uri);
  const out = await lambdaHandler(originResponseEvent(method, uri, querystring, origin));
  const headers = {};
  for (const [name, values] of Object.entries(out.headers)) headers[name] = values[0].value;
  const body = out.body === undefined ? origin.body : Buffer.from(out.body);
  return { status: Number(out.status), headers, body };
}

function viaCloudFrontFunction(method, uri, querystring) {
  if (isApi(uri)) return api(uri);
  const out = functionHandler(viewerRequestEvent(method, uri, querystring));
  if (out.statusCode !== undefined) {
    const headers = {};
    for (const [name, v] of Object.entries(out.headers || {})) headers[name] = v.value;
    return { status: out.statusCode, headers, body: empty };
  }
  return s3Rest(out.uri);
}

let passed = 0;
let failed = 0;
for (const line of readFileSync(casesFile, "utf8").split("\n")) {
  if (!line.trim() || line.startsWith("#")) continue;
  const [method, target, status, bodyKind, headerSpec = ""] = line.split("\t");
  const [uri, querystring = ""] = target.split("?");
  for (const [name, run] of [["lambda@edge", viaLambdaEdge], ["cloudfront-function", viaCloudFrontFunction]]) {
    const got = await run(method, uri, querystring);
    if (method === "HEAD") got.body = empty;
    const problems = [];
    if (got.status !== Number(status)) problems.push(`status ${got.status}, expected ${status}`);
    const expectedBody = {
      index: () => objects.get(site.index.slice(1)).body,
      api: () => api(uri).body,
      asset: () => objects.get(decodeURIComponent(uri.slice(1))).body,
      empty: () => empty,
      any: () => null,
    }[bodyKind]();
    if (expectedBody && !got.body.equals(expectedBody)) problems.push(`body is not the ${bodyKind} body`);
    for (const spec of headerSpec.split("|").filter(Boolean)) {
      const at = spec.indexOf("=");
      const [header, want] = [spec.slice(0, at).trim().toLowerCase(), spec.slice(at + 1).trim()];
      const value = got.headers[header];
      const ok = header === "location" ? value?.endsWith(want) : value === want;
      if (!ok) problems.push(`${header}: ${value}, expected ${want}`);
    }
    if (problems.length) {
      failed++;
      console.log(`FAIL ${name} ${method} ${target}: ${problems.join("; ")}`);
    } else {
      passed++;
    }
  }
}
console.log(`conformance: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
