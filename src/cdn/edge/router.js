function matchPattern(pattern, path) {
  var want = pattern.split("/"), parts = path.split("/"), params = {}, i;
  if (parts.length > 1 && parts[parts.length - 1] === "" && want[want.length - 1] !== "") parts.pop();
  for (i = 0; i < want.length; i++) {
    if (want[i] === "*" && i === want.length - 1) {
      params.splat = parts.slice(i).join("/");
      return params;
    }
    if (i >= parts.length) return null;
    if (want[i].charAt(0) === ":") {
      if (parts[i] === "") return null;
      params[want[i].substring(1)] = parts[i];
    } else if (want[i] !== parts[i]) return null;
  }
  return want.length === parts.length ? params : null;
}
function fill(to, params) {
  return to.replace(/:([A-Za-z][A-Za-z0-9_]*)/g, function (token, name) {
    return Object.prototype.hasOwnProperty.call(params, name) ? params[name] : token;
  });
}
function withQuery(location, query) {
  if (!query) return location;
  return location + (location.indexOf("?") === -1 ? "?" : "&") + query;
}
// A path Location starting with `//` or `/\` (or their percent-encodings) leaves the site in a
// browser: the run collapses to one `/` (same_site in routing.rs).
function sameSite(location) {
  var run = /^\/(?:[\/\\]|%2f|%5c)+/i.exec(location);
  return run ? "/" + location.substring(run[0].length) : location;
}
function redirect(status, location, query) {
  return { redirect: status, location: sameSite(withQuery(location, query)) };
}
// State however it is spelled (S3 decodes %2E): segments decoded, case-folded, without empty or
// "." parts (names_state in routing.rs).
function namesState(path) {
  var decoded;
  try {
    decoded = decodeURIComponent(path);
  } catch (e) {
    return path.toLowerCase().indexOf("spadeploy") !== -1;
  }
  var parts = decoded.toLowerCase().split(/[\/\\]/).filter(function (p) { return p !== "" && p !== "."; });
  var base = R.base.toLowerCase().split("/").filter(function (p) { return p !== ""; });
  for (var i = 0; i < base.length; i++) if (parts[i] !== base[i]) return false;
  return parts[base.length] === ".spadeploy";
}
function extension(path) {
  var last = path.substring(path.lastIndexOf("/") + 1), dot = last.lastIndexOf(".");
  return dot === -1 ? "" : last.substring(dot + 1);
}
function isPage(path) {
  var ext = extension(path);
  return ext === "" || ext === "html";
}
function candidates(path) {
  if (path.charAt(path.length - 1) === "/") {
    var folder = path.substring(0, path.length - 1), found = [path + R.index];
    if (R.clean_urls && folder !== "") found.push(folder + ".html");
    return found;
  }
  return R.clean_urls ? [path, path + ".html", path + "/" + R.index] : [path, path + "/" + R.index];
}
function resolve(path) {
  var c = candidates(path);
  for (var i = 0; i < c.length; i++) if (PAGES[c[i]] === 1) return c[i];
  return null;
}
function fallbackFor(method, path) {
  if ((method !== "GET" && method !== "HEAD") || extension(path) !== "") return null;
  for (var i = 0; i < R.no_fallback.length; i++) if (path.indexOf(R.no_fallback[i]) === 0) return null;
  for (var j = 0; j < R.spas.length; j++) {
    var spa = R.spas[j];
    if (path.indexOf(spa.prefix) === 0 || path + "/" === spa.prefix) return spa;
  }
  return null;
}
// The evaluation order of the README's "Routing"; mirrors Routes::route in routing.rs.
function route(method, path, query, found) {
  var i, params;
  if (namesState(path)) return { deny: true };
  for (i = 0; i < R.redirects.length; i++) {
    params = matchPattern(R.redirects[i].from, path);
    if (params) return redirect(R.redirects[i].status, fill(R.redirects[i].to, params), query);
  }
  var ext = extension(path), last = path.substring(path.lastIndexOf("/") + 1);
  if (found === path) {
    var notFound = R.not_found === path;
    if (R.clean_urls && ext === "html" && last !== R.index && !notFound) {
      return redirect(301, path.substring(0, path.length - 5), query);
    }
    return { serve: path, status: notFound ? 404 : 200 };
  }
  // Only where something other than a 404 answers after the redirect (routing.rs says why).
  if (ext === "" && path !== R.base && (found || fallbackFor(method, path))) {
    var slash = path.charAt(path.length - 1) === "/";
    if (R.trailing_slash === "add" && !slash) return redirect(308, path + "/", query);
    if (R.trailing_slash === "remove" && slash && path !== "/") {
      return redirect(308, path.substring(0, path.length - 1), query);
    }
  }
  // The 404 page by any of its URLs (/404, /404/) is a 404 too, as by its own name.
  if (found) return { serve: found, status: found === R.not_found ? 404 : 200 };
  if (!isPage(path)) return { pass: true };
  for (i = 0; i < R.rewrites.length; i++) {
    params = matchPattern(R.rewrites[i].from, path);
    if (params) return { serve: fill(R.rewrites[i].to, params), status: 200 };
  }
  var spa = fallbackFor(method, path);
  if (spa) return { serve: spa.index, status: 200, fallback: true };
  if (R.not_found) return { serve: R.not_found, status: 404 };
  return { pass: true };
}
function answeredPath(outcome, path) {
  return outcome.serve || path;
}
function headersFor(path) {
  var out = Object.create(null);
  for (var i = 0; i < R.headers.length; i++) {
    if (!matchPattern(R.headers[i].pattern, path)) continue;
    for (var j = 0; j < R.headers[i].values.length; j++) {
      out[R.headers[i].values[j][0].toLowerCase()] = R.headers[i].values[j];
    }
  }
  return out;
}
