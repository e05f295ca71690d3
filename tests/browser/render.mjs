// Opens pages in headless Chromium and checks that each app rendered its route: the expected text
// is in the visible text (document.body.innerText) once the page loaded, and no script, module or
// stylesheet failed to load (an HTTP error or a network error for a .js/.mjs/.css, or a console
// message such as "Failed to fetch dynamically imported module"). On failure it saves a
// screenshot. Chromium is driven over the DevTools protocol on a pipe (--remote-debugging-pipe):
// no npm package, no browser download, no network beyond the loopback servers under test.
//
// Usage: node render.mjs JOBS.json SCREENSHOT_DIR
// JOBS.json: [{ fixture, mode, origin: "http://127.0.0.1:PORT", cases: [{ name, path, text }] }]
// Environment: CHROMIUM (default /usr/bin/chromium), BROWSER_PARALLEL (pages at once, default 4),
//              BROWSER_TIMEOUT_MS (per page, default 10000).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [jobsFile, screenshotDir] = process.argv.slice(2);
const jobs = JSON.parse(readFileSync(jobsFile, "utf8"));
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const parallel = Number(process.env.BROWSER_PARALLEL || 4);
const timeoutMs = Number(process.env.BROWSER_TIMEOUT_MS || 10000);
// After the text appeared: time for late chunk loads to fail.
const settleMs = 250;

// What counts as a failed script or module load in the console.
const LOAD_FAILURE = new RegExp([
  "Failed to fetch dynamically imported module",
  "error loading dynamically imported module",
  "Importing a module script failed",
  "Failed to load module script",
  "ChunkLoadError",
  "Loading (CSS )?chunk \\S+ failed",
  "Unable to preload CSS",
  "Refused to (apply style|execute script)",
  "Unexpected token '<'",
  "net::ERR_",
].join("|"));
const CODE_URL = /\.(m?js|css)(\?|#|$)/;

class Chromium {
  constructor() {
    this.profile = mkdtempSync(join(tmpdir(), "spadeploy-chromium-"));
    this.proc = spawn(chromiumPath, [
      "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
      "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
      "--disable-extensions", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--disable-default-apps", "--mute-audio", "--no-proxy-server",
      "--disable-features=Translate,MediaRouter,OptimizationHints",
      `--user-data-dir=${this.profile}`, "--window-size=1280,900", "about:blank",
    ], { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] });
    this.stderr = "";
    this.proc.stderr.on("data", (d) => { this.stderr = (this.stderr + d).slice(-4000); });
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Set();
    this.exited = new Promise((resolve) => this.proc.on("exit", (code, signal) => {
      for (const { reject } of this.pending.values()) {
        reject(new Error(`Chromium exited (${code ?? signal}): ${this.stderr}`));
      }
      this.pending.clear();
      resolve();
    }));
    this.proc.on("error", (e) => {
      console.log(`FAIL cannot start Chromium at ${chromiumPath}: ${e.message}`);
      process.exit(2);
    });
    let buffer = Buffer.alloc(0);
    this.proc.stdio[4].on("data", (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      let end;
      while ((end = buffer.indexOf(0)) >= 0) {
        const message = JSON.parse(buffer.subarray(0, end).toString("utf8"));
        buffer = buffer.subarray(end + 1);
        this.dispatch(message);
      }
    });
  }

  dispatch(message) {
    if (message.id !== undefined) {
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      if (message.error) waiting.reject(new Error(`${waiting.method}: ${message.error.message}`));
      else waiting.resolve(message.result);
      return;
    }
    for (const listener of this.listeners) listener(message.method, message.params, message.sessionId);
  }

  send(method, params = {}, sessionId = undefined, ms = timeoutMs) {
    const id = this.nextId++;
    const message = { id, method, params };
    if (sessionId) message.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer in ${ms} ms`));
      }, ms);
      this.pending.set(id, {
        method,
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      this.proc.stdio[3].write(`${JSON.stringify(message)}\0`);
    });
  }

  on(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close() {
    try {
      await this.send("Browser.close", {}, undefined, 5000);
    } catch {
      this.proc.kill("SIGKILL");
    }
    await Promise.race([this.exited, sleep(5000)]);
    if (this.proc.exitCode === null) this.proc.kill("SIGKILL");
    rmSync(this.profile, { recursive: true, force: true });
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// One page in a fresh browser context (no cache, storage or service worker from another case).
async function visit(browser, job, testCase) {
  const url = new URL(testCase.path, job.origin).href;
  const { browserContextId } = await browser.send("Target.createBrowserContext");
  const problems = [];
  const consoleLines = [];
  let status = null;
  let sessionId;
  const requests = new Map();
  let loaded = false;
  const off = browser.on((method, params, from) => {
    if (from !== sessionId) return;
    if (method === "Network.requestWillBeSent") {
      requests.set(params.requestId, { url: params.request.url, type: params.type });
    } else if (method === "Network.responseReceived") {
      const { response, type } = params;
      if (type === "Document" && status === null) status = response.status;
      if (type !== "Document" && response.status >= 400 && (type === "Script" || type === "Stylesheet" || CODE_URL.test(response.url))) {
        problems.push(`${type} ${response.url} answered ${response.status}`);
      }
    } else if (method === "Network.loadingFailed") {
      const request = requests.get(params.requestId) || {};
      const type = params.type || request.type;
      if (!params.canceled && type !== "Document" && (type === "Script" || type === "Stylesheet" || CODE_URL.test(request.url || ""))) {
        problems.push(`${type} ${request.url} failed: ${params.errorText}`);
      }
    } else if (method === "Runtime.consoleAPICalled") {
      const text = params.args.map((a) => a.value ?? a.description ?? "").join(" ");
      consoleLines.push(`console.${params.type}: ${text}`);
    } else if (method === "Runtime.exceptionThrown") {
      const d = params.exceptionDetails;
      consoleLines.push(`uncaught: ${d.exception?.description || d.text}`);
    } else if (method === "Log.entryAdded") {
      consoleLines.push(`${params.entry.level}: ${params.entry.text}${params.entry.url ? ` (${params.entry.url})` : ""}`);
    } else if (method === "Page.loadEventFired") {
      loaded = true;
    }
  });
  let screenshot = null;
  let found = false;
  const started = Date.now();
  try {
    const { targetId } = await browser.send("Target.createTarget", { url: "about:blank", browserContextId });
    ({ sessionId } = await browser.send("Target.attachToTarget", { targetId, flatten: true }));
    const send = (method, params) => browser.send(method, params, sessionId);
    await Promise.all(["Page.enable", "Runtime.enable", "Network.enable", "Log.enable"].map((m) => send(m)));
    await send("Network.setCacheDisabled", { cacheDisabled: true });
    const navigation = await send("Page.navigate", { url });
    if (navigation.errorText) problems.push(`navigation failed: ${navigation.errorText}`);
    const deadline = started + timeoutMs;
    while (!loaded && Date.now() < deadline) await sleep(50);
    if (!loaded) problems.push(`no load event in ${timeoutMs} ms`);
    while (Date.now() < deadline) {
      const { result } = await send("Runtime.evaluate", {
        expression: "document.body ? document.body.innerText : ''",
        returnByValue: true,
      });
      if (typeof result.value === "string" && result.value.includes(testCase.text)) {
        found = true;
        break;
      }
      await sleep(100);
    }
    if (!found) problems.unshift(`${JSON.stringify(testCase.text)} is not in the page's text after ${timeoutMs} ms`);
    await sleep(settleMs);
    for (const line of consoleLines) if (LOAD_FAILURE.test(line)) problems.push(line);
    if (problems.length) {
      mkdirSync(screenshotDir, { recursive: true });
      const name = `${job.fixture}-${job.mode}-${testCase.path.replace(/[^A-Za-z0-9]+/g, "_")}.png`;
      screenshot = join(screenshotDir, name);
      const { data } = await send("Page.captureScreenshot", { format: "png" });
      writeFileSync(screenshot, Buffer.from(data, "base64"));
    }
  } catch (e) {
    problems.push(`error: ${e.message}`);
  } finally {
    off();
    await browser.send("Target.disposeBrowserContext", { browserContextId }).catch(() => {});
  }
  return { problems: [...new Set(problems)], consoleLines, status, screenshot, ms: Date.now() - started };
}

const queue = [];
for (const job of jobs) for (const testCase of job.cases) queue.push({ job, testCase });
const started = Date.now();
const browser = new Chromium();
// A browser that hangs must not hang the test suite.
setTimeout(() => {
  console.log("FAIL the browser run took over 300 s: stopped");
  browser.proc.kill("SIGKILL");
  process.exit(3);
}, 300_000).unref();
await browser.send("Browser.getVersion", {}, undefined, 30000).then(
  (v) => console.log(`browser: ${v.product}, ${queue.length} pages, ${parallel} at a time`),
  (e) => { console.log(`FAIL Chromium (${chromiumPath}) did not start: ${e.message}`); process.exit(2); },
);
let passed = 0;
let failed = 0;
const timings = [];
async function worker() {
  for (let item = queue.shift(); item; item = queue.shift()) {
    const { job, testCase } = item;
    const result = await visit(browser, job, testCase);
    const label = `[${job.fixture} ${job.mode}] ${testCase.path} (${testCase.name})`;
    timings.push([result.ms, label]);
    if (result.problems.length === 0) {
      passed++;
      continue;
    }
    failed++;
    const lines = [`FAIL ${label}: HTTP ${result.status}`, ...result.problems.map((p) => `    ${p}`)];
    const other = result.consoleLines.filter((l) => !result.problems.includes(l));
    if (other.length) lines.push("    console:", ...other.slice(0, 10).map((l) => `      ${l.slice(0, 300)}`));
    if (result.screenshot) lines.push(`    screenshot: ${result.screenshot}`);
    console.log(lines.join("\n"));
  }
}
await Promise.all(Array.from({ length: parallel }, worker));
await browser.close();
timings.sort((a, b) => b[0] - a[0]);
console.log(`slowest: ${timings.slice(0, 5).map(([ms, label]) => `${label} ${ms} ms`).join(", ")}`);
console.log(`browser: ${passed} passed, ${failed} failed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(failed ? 1 : 0);
