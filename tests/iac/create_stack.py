"""Creates the resources of `spadeploy export cloudformation`'s template in the emulator, as
CloudFormation would (moto's CloudFormation does not model CloudFront): the bucket with Block
Public Access, Origin Access Control, the KeyValueStore, the function (published), the
distribution and the bucket policy, in dependency order, resolving Ref, Fn::GetAtt and Fn::Sub.
The distribution is tagged with the stack's name as CloudFormation tags what it creates.
The deploy role and OIDC provider are left out (tests/integration/iam.rs checks that policy).

usage: create_stack.py TEMPLATE.json ENDPOINT STACK_NAME   prints {"distribution", "function", "store", "bucket"}
"""

import json
import uuid
import sys

import boto3

ACCOUNT = "123456789012"
REGION = "us-east-1"


def main():
    template_path, endpoint, stack = sys.argv[1:4]
    with open(template_path) as f:
        template, _ = json.JSONDecoder().raw_decode(f.read())
    resources = template["Resources"]
    kw = dict(endpoint_url=endpoint, region_name=REGION)
    s3 = boto3.client("s3", **kw)
    cf = boto3.client("cloudfront", **kw)
    made = {}

    def resolve(value):
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return made[value["Ref"]]["ref"]
        if "Fn::GetAtt" in value:
            name, attribute = value["Fn::GetAtt"]
            return made[name][attribute]
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            text = text.replace("${AWS::Partition}", "aws").replace("${AWS::AccountId}", ACCOUNT)
            for name, got in made.items():
                text = text.replace("${%s}" % name, str(got["ref"]))
            return text
        return {k: resolve(v) for k, v in value.items()}

    props = lambda name: resolve(resources[name]["Properties"])

    bucket = props("Bucket")
    s3.create_bucket(Bucket=bucket["BucketName"])
    s3.put_public_access_block(
        Bucket=bucket["BucketName"],
        PublicAccessBlockConfiguration=bucket["PublicAccessBlockConfiguration"],
    )
    made["Bucket"] = {
        "ref": bucket["BucketName"],
        "RegionalDomainName": f"{bucket['BucketName']}.s3.{REGION}.amazonaws.com",
    }

    oac = cf.create_origin_access_control(
        OriginAccessControlConfig=props("OriginAccessControl")["OriginAccessControlConfig"]
    )["OriginAccessControl"]
    made["OriginAccessControl"] = {"ref": oac["Id"], "Id": oac["Id"]}

    store = cf.create_key_value_store(**props("KeyValueStore"))["KeyValueStore"]
    made["KeyValueStore"] = {"ref": store["Name"], "Arn": store["ARN"]}

    function = props("Function")
    config = function["FunctionConfig"]
    config["KeyValueStoreAssociations"] = wrap(config.get("KeyValueStoreAssociations", []))
    created = cf.create_function(
        Name=function["Name"], FunctionConfig=config, FunctionCode=function["FunctionCode"].encode()
    )
    if function.get("AutoPublish"):
        cf.publish_function(Name=function["Name"], IfMatch=created["ETag"])
    arn = created["FunctionSummary"]["FunctionMetadata"]["FunctionARN"]
    made["Function"] = {"ref": function["Name"], "FunctionARN": arn}

    dist = cf.create_distribution(
        DistributionConfig=distribution_config(props("Distribution")["DistributionConfig"])
    )["Distribution"]
    made["Distribution"] = {"ref": dist["Id"], "DomainName": dist["DomainName"]}
    cf.tag_resource(
        Resource=dist["ARN"],
        Tags={"Items": [{"Key": "aws:cloudformation:stack-name", "Value": stack}]},
    )

    policy = props("BucketPolicy")
    s3.put_bucket_policy(Bucket=policy["Bucket"], Policy=json.dumps(policy["PolicyDocument"]))
    print(json.dumps({
        "distribution": dist["Id"],
        "function": function["Name"],
        "store": store["ARN"],
        "bucket": bucket["BucketName"],
    }))


def wrap(items):
    """CloudFormation's lists are the API's {Quantity, Items}."""
    return {"Quantity": len(items), "Items": items}


def behavior(b):
    b = dict(b)
    allowed = b.pop("AllowedMethods", ["GET", "HEAD"])
    cached = b.pop("CachedMethods", ["GET", "HEAD"])
    b["AllowedMethods"] = {**wrap(allowed), "CachedMethods": wrap(cached)}
    b["FunctionAssociations"] = wrap(b.get("FunctionAssociations", []))
    return b


def distribution_config(c):
    c = dict(c)
    c["CallerReference"] = uuid.uuid4().hex
    c["IsIPV6Enabled"] = c.pop("IPV6Enabled", False)
    origins = []
    for o in c["Origins"]:
        o = dict(o)
        custom = o.get("CustomOriginConfig")
        if custom:
            custom = dict(custom)
            custom["OriginSslProtocols"] = wrap(custom.pop("OriginSSLProtocols", ["TLSv1.2"]))
            custom.setdefault("HTTPPort", 80)
            custom.setdefault("HTTPSPort", 443)
            o["CustomOriginConfig"] = custom
        origins.append(o)
    c["Origins"] = wrap(origins)
    c["DefaultCacheBehavior"] = behavior(c["DefaultCacheBehavior"])
    c["CacheBehaviors"] = wrap([behavior(b) for b in c.get("CacheBehaviors", [])])
    c["Aliases"] = wrap(c.get("Aliases", []))
    c["CustomErrorResponses"] = wrap(c.get("CustomErrorResponses", []))
    viewer = c.get("ViewerCertificate", {})
    if "AcmCertificateArn" in viewer:
        viewer["ACMCertificateArn"] = viewer.pop("AcmCertificateArn")
    return c


if __name__ == "__main__":
    main()
