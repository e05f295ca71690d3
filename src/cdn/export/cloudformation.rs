//! The stack as a CloudFormation template (JSON, which CloudFormation also reads as YAML).

use serde_json::{json, Map, Value};

use super::{
    bucket_statements, content_policy, resolve_refs, trust_policy, ExportError, Ref, Stack,
    ALL_VIEWER_EXCEPT_HOST_HEADER, API_PATH, CACHING_DISABLED, CACHING_OPTIMIZED, GITHUB_OIDC_URL,
    PLACEHOLDER_CODE, RUNTIME, STS_AUDIENCE,
};

/// The template for `stack`, once every input in it is validated.
pub(crate) fn cloudformation(stack: &Stack) -> Result<String, ExportError> {
    stack.validate()?;
    let mut resources = Map::new();
    resources.insert("Bucket".into(), bucket(stack));
    resources.insert(
        "BucketPolicy".into(),
        json!({
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": { "Ref": "Bucket" },
                "PolicyDocument": reference(&json!({
                    "Version": "2012-10-17",
                    "Statement": bucket_statements(stack),
                })),
            },
        }),
    );
    resources.insert("OriginAccessControl".into(), origin_access_control(stack));
    resources.insert("KeyValueStore".into(), key_value_store(stack));
    resources.insert("Function".into(), function(stack));
    resources.insert("Distribution".into(), distribution(stack));
    let mut template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!(
            "{}: a private bucket behind CloudFront with an SPA default behavior{}; pushes write \
             only content (objects, the function's code, the store's entries)",
            stack.comment(),
            if stack.api_origin.is_some() { " and /api/* to the API" } else { "" },
        ),
        "Metadata": { "spadeploy": {
            "FunctionCode": "Placeholder: spadeploy push publishes the function's code. A stack \
                update that changes the Function resource writes the placeholder back until the \
                next push; other updates leave the code alone.",
            "KeyValueStore": "spadeploy writes this store's entries: import no data into it and \
                manage no keys of it elsewhere.",
        } },
    });
    let mut outputs = outputs();
    if stack.github.is_some() {
        github(stack, &mut template, &mut resources, &mut outputs);
    }
    template["Resources"] = resources.into();
    template["Outputs"] = outputs.into();
    Ok(format!("{template:#}\n"))
}

/// Markers replaced by CloudFormation's references to the stack's resources.
fn reference(value: &Value) -> Value {
    resolve_refs(value, &|r| match r {
        Ref::Distribution => json!({ "Fn::Sub":
            "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution}" }),
        Ref::Function => json!({ "Fn::GetAtt": ["Function", "FunctionARN"] }),
        Ref::Store => json!({ "Fn::GetAtt": ["KeyValueStore", "Arn"] }),
        Ref::OidcProvider => json!({ "Fn::If": [
            "CreateGitHubOidcProvider",
            { "Ref": "GitHubOidcProvider" },
            { "Ref": "GitHubOidcProviderArn" },
        ] }),
    })
}

fn bucket(stack: &Stack) -> Value {
    json!({
        "Type": "AWS::S3::Bucket",
        // The site's files outlive the stack: deleting the stack leaves the bucket.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketName": stack.bucket,
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": true,
                "BlockPublicPolicy": true,
                "IgnorePublicAcls": true,
                "RestrictPublicBuckets": true,
            },
            "OwnershipControls": { "Rules": [{ "ObjectOwnership": "BucketOwnerEnforced" }] },
            "BucketEncryption": { "ServerSideEncryptionConfiguration": [
                { "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" } },
            ] },
        },
    })
}

fn origin_access_control(stack: &Stack) -> Value {
    json!({
        "Type": "AWS::CloudFront::OriginAccessControl",
        "Properties": { "OriginAccessControlConfig": {
            "Name": stack.function_name,
            "Description": "spadeploy: CloudFront signs its requests to the private bucket",
            "OriginAccessControlOriginType": "s3",
            "SigningBehavior": "always",
            "SigningProtocol": "sigv4",
        } },
    })
}

fn key_value_store(stack: &Stack) -> Value {
    json!({
        "Type": "AWS::CloudFront::KeyValueStore",
        "Properties": {
            "Name": stack.function_name,
            "Comment": "spadeploy route table: URLs that name pages, and the page each answers",
        },
    })
}

fn function(stack: &Stack) -> Value {
    json!({
        "Type": "AWS::CloudFront::Function",
        "Properties": {
            "Name": stack.function_name,
            "AutoPublish": true,
            "FunctionCode": PLACEHOLDER_CODE,
            "FunctionConfig": {
                "Comment": stack.comment(),
                "Runtime": RUNTIME,
                "KeyValueStoreAssociations": [
                    { "KeyValueStoreARN": { "Fn::GetAtt": ["KeyValueStore", "Arn"] } },
                ],
            },
        },
    })
}

fn distribution(stack: &Stack) -> Value {
    let function_arn = json!({ "Fn::GetAtt": ["Function", "FunctionARN"] });
    let mut spa_origin = json!({
        "Id": "spa",
        "DomainName": { "Fn::GetAtt": ["Bucket", "RegionalDomainName"] },
        "S3OriginConfig": { "OriginAccessIdentity": "" },
        "OriginAccessControlId": { "Fn::GetAtt": ["OriginAccessControl", "Id"] },
    });
    if !stack.prefix.is_empty() {
        spa_origin["OriginPath"] = stack.origin_path().into();
    }
    let mut origins = vec![spa_origin];
    let mut config = json!({
        "Enabled": true,
        "Comment": stack.comment(),
        "HttpVersion": "http2and3",
        "IPV6Enabled": true,
        "DefaultCacheBehavior": {
            "TargetOriginId": "spa",
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_OPTIMIZED,
            "Compress": true,
            "AllowedMethods": ["GET", "HEAD"],
            "CachedMethods": ["GET", "HEAD"],
            "FunctionAssociations": [
                { "EventType": "viewer-request", "FunctionARN": function_arn },
                { "EventType": "viewer-response", "FunctionARN": function_arn },
            ],
        },
        "ViewerCertificate": { "CloudFrontDefaultCertificate": true },
    });
    if let Some(host) = &stack.api_origin {
        origins.push(json!({
            "Id": "api",
            "DomainName": host,
            "CustomOriginConfig": {
                "OriginProtocolPolicy": "https-only",
                "HTTPSPort": 443,
                "OriginSSLProtocols": ["TLSv1.2"],
            },
        }));
        config["CacheBehaviors"] = json!([api_behavior()]);
    }
    config["Origins"] = origins.into();
    if let Some(arn) = &stack.certificate_arn {
        config["Aliases"] = json!(stack.aliases);
        config["ViewerCertificate"] = json!({
            "AcmCertificateArn": arn,
            "SslSupportMethod": "sni-only",
            "MinimumProtocolVersion": "TLSv1.2_2021",
        });
    }
    json!({ "Type": "AWS::CloudFront::Distribution", "Properties": { "DistributionConfig": config } })
}

/// `/api/*` to the API, uncached, with every viewer header but Host, every method, and no edge
/// function (API answers pass as they are). HTTPS only: a redirect would turn a POST into a GET.
fn api_behavior() -> Value {
    json!({
        "PathPattern": API_PATH,
        "TargetOriginId": "api",
        "ViewerProtocolPolicy": "https-only",
        "CachePolicyId": CACHING_DISABLED,
        "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST_HEADER,
        "Compress": true,
        "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
        "CachedMethods": ["GET", "HEAD"],
    })
}

fn outputs() -> Map<String, Value> {
    let output =
        |description: &str, value: Value| json!({ "Description": description, "Value": value });
    let mut outputs = Map::new();
    outputs.insert(
        "BucketName".into(),
        output(
            "[target] to = s3://BucketName/PREFIX",
            json!({ "Ref": "Bucket" }),
        ),
    );
    outputs.insert(
        "DistributionId".into(),
        output("[cdn] distribution", json!({ "Ref": "Distribution" })),
    );
    outputs.insert(
        "DistributionDomainName".into(),
        output(
            "Where the site answers (point the aliases' DNS here)",
            json!({ "Fn::GetAtt": ["Distribution", "DomainName"] }),
        ),
    );
    outputs.insert(
        "FunctionName".into(),
        output("[routing] function_name", json!({ "Ref": "Function" })),
    );
    outputs.insert(
        "KeyValueStoreArn".into(),
        output(
            "The route table's store (spadeploy writes its entries)",
            json!({ "Fn::GetAtt": ["KeyValueStore", "Arn"] }),
        ),
    );
    outputs
}

/// The GitHub OIDC provider (unless the account has one: pass its ARN as the parameter) and the
/// deploy role with the content-only policy.
fn github(
    stack: &Stack,
    template: &mut Value,
    resources: &mut Map<String, Value>,
    outputs: &mut Map<String, Value>,
) {
    let Some(github) = &stack.github else {
        return;
    };
    template["Parameters"] = json!({ "GitHubOidcProviderArn": {
        "Type": "String",
        "Default": "",
        "Description": "ARN of the account's GitHub OIDC provider (token.actions.githubusercontent.com) \
            if it has one; empty: the stack creates it (an account holds one per URL)",
    } });
    template["Conditions"] = json!({
        "CreateGitHubOidcProvider": { "Fn::Equals": [{ "Ref": "GitHubOidcProviderArn" }, ""] },
    });
    resources.insert(
        "GitHubOidcProvider".into(),
        json!({
            "Type": "AWS::IAM::OIDCProvider",
            "Condition": "CreateGitHubOidcProvider",
            "Properties": { "Url": GITHUB_OIDC_URL, "ClientIdList": [STS_AUDIENCE] },
        }),
    );
    resources.insert(
        "DeployRole".into(),
        json!({
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": format!("spadeploy push from {} (content only)", github.repo),
                "AssumeRolePolicyDocument": reference(&trust_policy(github)),
                "Policies": [{
                    "PolicyName": "spadeploy-content",
                    "PolicyDocument": reference(&content_policy(stack)),
                }],
            },
        }),
    );
    outputs.insert(
        "DeployRoleArn".into(),
        json!({
            "Description": "role-to-assume in aws-actions/configure-aws-credentials",
            "Value": { "Fn::GetAtt": ["DeployRole", "Arn"] },
        }),
    );
}
