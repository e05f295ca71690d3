// Preview hosts (`<id>.<PREVIEWS.domain>`): each preview's rules and pages come from the
// KeyValueStore (`preview:<id>` points at them, written last), its files from its own folder.
// Every other host is production, answered exactly as without previews. Mirrors src/preview/host.rs.
var SITE = R;
// The preview a Host names: null for production hosts, "" for a preview host naming no valid id.
function previewId(host) {
  var name = String(host || "").toLowerCase();
  if (name.charAt(0) === "[") return null;
  var colon = name.indexOf(":");
  if (colon !== -1) name = name.substring(0, colon);
  if (name.charAt(name.length - 1) === ".") name = name.substring(0, name.length - 1);
  var suffix = "." + PREVIEWS.domain;
  if (name === PREVIEWS.domain) return "";
  if (name.length <= suffix.length || name.substring(name.length - suffix.length) !== suffix) return null;
  var id = name.substring(0, name.length - suffix.length);
  return /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(id) ? id : "";
}
// The preview's pointer and its rules (read sequentially: Promise.all costs function memory).
async function previewOf(id) {
  var pointer = await lookup("preview:" + id), rules = "", i;
  if (pointer === null) return null;
  try {
    pointer = JSON.parse(pointer);
    for (i = 0; i < pointer.chunks; i++) rules += await lookup("preview:" + id + ":" + pointer.table + ":r" + i);
    pointer.rules = JSON.parse(rules);
  } catch (e) {
    return null;
  }
  return pointer;
}
function noindex(headers) {
  if (PREVIEWS.noindex) headers["x-robots-tag"] = { value: "noindex" };
  return headers;
}
// The pointer's `auth`: the sha256 of the Authorization header a viewer must send (Basic).
function denied(p, request) {
  var given = request.headers.authorization;
  return p.auth && (!given || crypto.createHash("sha256").update(given.value).digest("hex") !== p.auth);
}
function previewMissing() {
  return { statusCode: 404, statusDescription: "Not Found", headers: noindex({ "cache-control": { value: "no-store" } }) };
}
// A viewer-response may see the URI as rewritten: back to the viewer's.
function viewerUri(p, uri) {
  return uri.indexOf(p.prefix) === 0 ? R.base + uri.substring(p.prefix.length) : uri;
}
async function previewRespond(event) {
  var request = event.request, id = previewId(request.headers.host && request.headers.host.value);
  R = SITE;
  if (id === null) {
    // Production never serves a preview's files, whatever the path.
    if (request.uri.indexOf(R.base + "_previews/") === 0 && event.context.eventType === "viewer-request") return previewMissing();
    return respond(event, await lookup(request.uri));
  }
  var p = id === "" ? null : await previewOf(id);
  if (p === null) return event.context.eventType === "viewer-request" ? previewMissing() : event.response;
  R = p.rules;
  if (event.context.eventType === "viewer-response") {
    request.uri = viewerUri(p, request.uri);
    var response = respond(event, await lookup("preview:" + id + ":" + p.table + ":" + request.uri));
    noindex(response.headers)["x-spadeploy-release"] = { value: p.release };
    return response;
  }
  if (denied(p, request)) {
    return { statusCode: 401, statusDescription: "Unauthorized", headers: noindex({ "www-authenticate": { value: 'Basic realm="preview"' }, "cache-control": { value: "no-store" } }) };
  }
  var answer = respond(event, await lookup("preview:" + id + ":" + p.table + ":" + request.uri));
  if (answer.statusCode) {
    noindex(answer.headers);
    return answer;
  }
  if (answer.uri.indexOf(R.base) !== 0) return previewMissing();
  answer.uri = p.prefix + answer.uri.substring(R.base.length);
  return answer;
}
