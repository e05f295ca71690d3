"""moto's server with its CloudFront models corrected to AWS's documented behaviour.

spadeploy's tests talk to moto (PyPI `moto[server]`, pinned to 5.2.5 by scripts/moto-up.sh).
moto 5.2.5 departs from AWS where spadeploy's routing work depends on it; this launcher patches
exactly those places before starting the same server `moto_server` would start:

1. Cache behaviors keep their LambdaFunctionAssociations and FunctionAssociations (moto drops
   them and always answers Quantity 0).
2. UpdateDistribution checks If-Match against the current ETag (HTTP 412 PreconditionFailed on a
   stale one) and issues a new ETag on every change (moto accepts any value and never changes it).
3. Invalidations are `InProgress` when created and `Completed` once read back (moto answers
   `COMPLETED` at once, which AWS never sends and the SDK waiters do not recognise).
4. CloudFront Functions: UpdateFunction and PublishFunction exist (moto: 500 and 404), with
   If-Match checks, a LIVE stage, and DescribeFunction/GetFunction honouring `Stage`.
5. Bucket policies: moto checks object requests against the policy but ignores each statement's
   Condition, so a Deny limited to requests carrying a secret Referer denies every request. AWS
   applies a conditional statement only to matching requests; the tests' requests never carry
   the condition keys, so conditional statements are skipped in that check.
6. Origins keep their S3OriginConfig and OriginAccessControlId (moto drops both from responses).
7. CloudFront KeyValueStore's data plane (the `cloudfront-keyvaluestore` API, which moto lacks):
   DescribeKeyValueStore, GetKey, ListKeys and UpdateKeys on the stores CreateKeyValueStore made,
   with an ETag that every change replaces, If-Match checked ("Pre-Condition failed"), at most 50
   puts and deletes per UpdateKeys, keys of 1 to 512 bytes, values of at most 1 KB and 5 MB per
   store (ServiceQuotaExceededException), all or nothing per call, ListKeys pages of at most 50.

Everything else is moto's own behaviour. Usage: python moto_server.py -H 127.0.0.1 -p PORT
"""

import sys

import json
from urllib.parse import parse_qs, unquote, urlsplit

from werkzeug.wrappers import Request, Response

from moto.cloudfront import models, responses, urls
from moto.s3 import models as s3_models
from moto.cloudfront.exceptions import CloudFrontException
from moto.core.responses import ActionResult
from moto.moto_api._internal import mock_random
from moto import server as moto_server
from moto.server import main


class PreconditionFailed(CloudFrontException):
    def __init__(self) -> None:
        super().__init__(
            "PreconditionFailed",
            "The If-Match version is missing or not valid for the resource.",
        )


def random_etag() -> str:
    return "E" + "".join(mock_random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(13))


# 1. Associations survive on every cache behavior.
def associations(config, name):
    block = config.get(name) or {}
    items = block.get("Items") or []
    return {"Quantity": len(items), "Items": items} if items else {"Quantity": 0}


_behaviour_init = models.DefaultCacheBehaviour.__init__


def behaviour_init(self, config):
    _behaviour_init(self, config)
    self.lambda_function_associations = associations(config, "LambdaFunctionAssociations")
    self.function_associations = associations(config, "FunctionAssociations")


models.DefaultCacheBehaviour.__init__ = behaviour_init


# 2. If-Match is checked, and every update issues a new ETag.
_update_distribution = models.CloudFrontBackend.update_distribution


def update_distribution(self, dist_config, _id, if_match):
    dist = self.distributions.get(_id)
    if dist is not None and if_match and if_match != dist.etag:
        raise PreconditionFailed()
    result = _update_distribution(self, dist_config, _id, if_match)
    dist = self.distributions[_id]
    dist.etag = random_etag()
    return result[0], result[1], dist.etag


models.CloudFrontBackend.update_distribution = update_distribution


# 3. Invalidation status as AWS spells it.
_invalidation_init = models.Invalidation.__init__


def invalidation_init(self, *args, **kwargs):
    _invalidation_init(self, *args, **kwargs)
    self.status = "InProgress"


models.Invalidation.__init__ = invalidation_init
_get_invalidation = models.CloudFrontBackend.get_invalidation


def get_invalidation(self, dist_id, id):
    invalidation = _get_invalidation(self, dist_id, id)
    result = models.Invalidation.__new__(models.Invalidation)
    result.__dict__.update(invalidation.__dict__)
    # Answer InProgress once, then Completed, so pollers are exercised.
    invalidation.status = "Completed"
    return result


models.CloudFrontBackend.get_invalidation = get_invalidation


# 4. CloudFront Functions: update, publish, and a LIVE stage.
def function_summary(self, stage=None):
    live = stage == "LIVE"
    if live and getattr(self, "live", None) is None:
        raise models.NoSuchFunctionExists(self.name)
    return {
        "Name": self.name,
        "Status": self.status,
        "FunctionConfig": self.live["config"] if live else self.config,
        "FunctionMetadata": {
            "FunctionARN": self.arn,
            "Stage": "LIVE" if live else "DEVELOPMENT",
            "CreatedTime": self.created_time,
            "LastModifiedTime": self.last_modified_time,
        },
    }


models.CloudFrontFunction.function_summary = property(lambda self: function_summary(self))
models.CloudFrontFunction.summary_for = function_summary


def backend_update_function(self, name, if_match, config, code):
    function = self.describe_function(name)
    if if_match != function.etag:
        raise PreconditionFailed()
    function.config = config
    function.code = code
    function.status = "UNPUBLISHED"
    function.last_modified_time = models.utcnow()
    function.etag = random_etag()
    return function


def backend_publish_function(self, name, if_match):
    function = self.describe_function(name)
    if if_match != function.etag:
        raise PreconditionFailed()
    function.live = {"config": function.config, "code": function.code}
    function.status = "DEPLOYED"
    function.last_modified_time = models.utcnow()
    return function


models.CloudFrontBackend.update_function = backend_update_function
models.CloudFrontBackend.publish_function = backend_publish_function


def respond_update_function(self):
    function = self.backend.update_function(
        name=self._get_param("Name"),
        if_match=self._get_param("IfMatch"),
        config=self._get_param("FunctionConfig", {}),
        code=self._get_param("FunctionCode"),
    )
    return ActionResult({"FunctionSummary": function.function_summary, "ETag": function.etag})


def respond_publish_function(self):
    function = self.backend.publish_function(
        name=self._get_param("Name"), if_match=self._get_param("IfMatch")
    )
    return ActionResult({"FunctionSummary": function.summary_for("LIVE")})


def respond_describe_function(self):
    function = self.backend.describe_function(name=self._get_param("Name"))
    stage = self._get_param("Stage")
    return ActionResult({"FunctionSummary": function.summary_for(stage), "ETag": function.etag})


def respond_get_function(self):
    function = self.backend.get_function(name=self._get_param("Name"))
    if self._get_param("Stage") == "LIVE":
        if getattr(function, "live", None) is None:
            raise models.NoSuchFunctionExists(function.name)
        code = function.live["code"]
    else:
        code = function.code
    return ActionResult({"FunctionCode": code, "ETag": function.etag, "ContentType": "application/octet-stream"})


responses.CloudFrontResponse.update_function = respond_update_function
responses.CloudFrontResponse.publish_function = respond_publish_function
responses.CloudFrontResponse.describe_function = respond_describe_function
responses.CloudFrontResponse.get_function = respond_get_function
urls.url_paths["{0}/2020-05-31/function/(?P<function_name>[^/]+)/publish$"] = (
    responses.CloudFrontResponse.dispatch
)

# 6. Origins keep S3OriginConfig and OriginAccessControlId.
_origin_init = models.Origin.__init__


def origin_init(self, origin):
    _origin_init(self, origin)
    if "S3OriginConfig" in origin:
        self.s3_origin_config = origin["S3OriginConfig"]
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""


models.Origin.__init__ = origin_init


# 5. Conditional bucket-policy statements do not match unconditioned requests.
_get_permission = s3_models.FakeBucket.get_permission


def get_permission(self, action, resource):
    if self.policy is None:
        return _get_permission(self, action, resource)
    policy = json.loads(self.policy.decode())
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    unconditional = [s for s in statements if "Condition" not in s]
    original = self.policy
    self.policy = json.dumps({**policy, "Statement": unconditional}).encode()
    try:
        return _get_permission(self, action, resource)
    finally:
        self.policy = original


s3_models.FakeBucket.get_permission = get_permission

# 7. The KeyValueStore data plane, served beside moto (requests to /key-value-stores/...).
KVS_MAX_KEY = 512
KVS_MAX_VALUE = 1024
KVS_MAX_STORE = 5 * 1024 * 1024
KVS_MAX_BATCH = 50


def kvs_error(status, kind, message):
    body = json.dumps({"__type": kind, "Message": message, "message": message})
    return Response(body, status=status, headers={"x-amzn-ErrorType": kind}, content_type="application/json")


def find_store(arn):
    for account in models.cloudfront_backends.values():
        for backend in account.values():
            for store in backend.key_value_stores.values():
                if store.arn == arn:
                    if not hasattr(store, "items"):
                        store.items = {}
                        store.data_etag = random_etag()
                    return store
    return None


def store_size(items):
    return sum(len(k.encode()) + len(v.encode()) for k, v in items.items())


def store_state(store):
    return {"ItemCount": len(store.items), "TotalSizeInBytes": store_size(store.items), "ETag": store.data_etag}


def kvs_json(payload, etag=None):
    headers = {"ETag": etag} if etag else {}
    return Response(json.dumps(payload), status=200, headers=headers, content_type="application/json")


def kvs_update(store, request):
    if request.headers.get("If-Match") != store.data_etag:
        return kvs_error(400, "ValidationException", "Pre-Condition failed")
    body = json.loads(request.get_data() or b"{}")
    puts, deletes = body.get("Puts") or [], body.get("Deletes") or []
    if len(puts) + len(deletes) > KVS_MAX_BATCH:
        return kvs_error(400, "ValidationException", f"at most {KVS_MAX_BATCH} puts and deletes per call")
    items = dict(store.items)
    for put in puts:
        key, value = put["Key"], put["Value"]
        if not 1 <= len(key.encode()) <= KVS_MAX_KEY:
            return kvs_error(400, "ValidationException", f"key length must be 1 to {KVS_MAX_KEY} bytes")
        if len(value.encode()) > KVS_MAX_VALUE:
            return kvs_error(402, "ServiceQuotaExceededException", "Value size exceeds the limit")
        items[key] = value
    for delete in deletes:
        items.pop(delete["Key"], None)
    if store_size(items) > KVS_MAX_STORE:
        return kvs_error(402, "ServiceQuotaExceededException", "Key value store size exceeds the limit")
    store.items = items
    store.data_etag = random_etag()
    return kvs_json(store_state(store), store.data_etag)


def kvs_app(environ, start_response):
    request = Request(environ)
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path
    parts = urlsplit(raw)
    segments = parts.path.split("/")[2:]
    store = find_store(unquote(segments[0])) if segments else None
    if store is None:
        response = kvs_error(404, "ResourceNotFoundException", "no such key value store")
    elif len(segments) == 1 and request.method == "GET":
        state = store_state(store)
        response = kvs_json({**state, "KvsARN": store.arn, "Created": 0, "Status": "READY"}, store.data_etag)
    elif len(segments) == 2 and request.method == "POST":
        response = kvs_update(store, request)
    elif len(segments) == 2 and request.method == "GET":
        query = parse_qs(parts.query)
        limit = min(int(query.get("MaxResults", ["50"])[0]), KVS_MAX_BATCH)
        keys = sorted(store.items)
        start = int(query.get("NextToken", ["0"])[0])
        page = keys[start:start + limit]
        payload = {"Items": [{"Key": k, "Value": store.items[k]} for k in page]}
        if start + limit < len(keys):
            payload["NextToken"] = str(start + limit)
        response = kvs_json(payload)
    elif len(segments) == 3 and request.method == "GET":
        key = unquote(segments[2])
        if key not in store.items:
            response = kvs_error(404, "ResourceNotFoundException", "Key not found")
        else:
            response = kvs_json({"Key": key, "Value": store.items[key], **store_state(store)})
    else:
        response = kvs_error(400, "ValidationException", f"{request.method} {parts.path} is not emulated")
    return response(environ, start_response)


_dispatch = moto_server.DomainDispatcherApplication.__call__


def dispatch(self, environ, start_response):
    if environ.get("PATH_INFO", "").startswith("/key-value-stores/"):
        return kvs_app(environ, start_response)
    return _dispatch(self, environ, start_response)


moto_server.DomainDispatcherApplication.__call__ = dispatch

if __name__ == "__main__":
    main(sys.argv[1:])
