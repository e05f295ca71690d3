// The CloudFront Function's answer at either viewer stage, given the page the URI names.
function viewerHeaders(values, into) {
  for (var name in values) into[name] = { value: values[name][1] };
  return into;
}
function queryString(query) {
  var out = [];
  for (var name in query) {
    var values = query[name].multiValue || [query[name]];
    for (var i = 0; i < values.length; i++) out.push(values[i].value === "" ? name : name + "=" + values[i].value);
  }
  return out.join("&");
}
function respond(event, found) {
  var request = event.request;
  var outcome = route(request.method, request.uri, queryString(request.querystring), found);
  if (event.context.eventType === "viewer-response") {
    var response = event.response;
    if (outcome.status === 404 && response.statusCode === 200) {
      response.statusCode = 404;
      response.statusDescription = "Not Found";
      response.headers["cache-control"] = { value: R.cache_control };
    }
    viewerHeaders(headersFor(answeredPath(outcome, request.uri)), response.headers);
    return response;
  }
  if (outcome.deny) return { statusCode: 404, statusDescription: "Not Found", headers: viewerHeaders(headersFor(request.uri), {}) };
  if (outcome.redirect) {
    var location = { location: { value: outcome.location } };
    return { statusCode: outcome.redirect, statusDescription: "Redirect", headers: viewerHeaders(headersFor(request.uri), location) };
  }
  if (outcome.serve) request.uri = outcome.serve;
  return request;
}
