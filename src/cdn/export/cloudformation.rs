//! The stack as a CloudFormation template (JSON, which CloudFormation also reads as YAML).

use serde_json::{json, Map, Value};

use super::{
    bucket_statements, content_policy, resolve_refs, trust_policy, ExportError, Output, Ref, Stack,
    ALL_VIEWER_EXCEPT_HOST_HEADER, API_ORIGIN, API_PATH, CACHING_DISABLED, CACHING_OPTIMIZED,
    DEPLOY_POLICY_NAME, FUNCTION_CODE_NOTE, FUNCTION_EVENTS, GITHUB_OIDC_URL, OAC_DESCRIPTION,
    OIDC_PARAMETER, OIDC_PARAMETER_DESCRIPTION, PLACEHOLDER_CODE, RUNTIME, SPA_ORIGIN,
    STORE_COMMENT, STORE_NOTE, STS_AUDIENCE,
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
        "Description": stack.description(),
        "Metadata": { "spadeploy": {
            "FunctionCode": FUNCTION_CODE_NOTE,
            "KeyValueStore": STORE_NOTE,
        } },
    });
    if stack.github.is_some() {
        github(stack, &mut template, &mut resources);
    }
    template["Resources"] = resources.into();
    template["Outputs"] = outputs(stack).into();
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
            { "Ref": OIDC_PARAMETER },
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
            "Description": OAC_DESCRIPTION,
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
            "Comment": STORE_COMMENT,
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
        "Id": SPA_ORIGIN,
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
            "TargetOriginId": SPA_ORIGIN,
            "ViewerProtocolPolicy": "redirect-to-https",
            "CachePolicyId": CACHING_OPTIMIZED,
            "Compress": true,
            "AllowedMethods": ["GET", "HEAD"],
            "CachedMethods": ["GET", "HEAD"],
            "FunctionAssociations": FUNCTION_EVENTS
                .iter()
                .map(|event| json!({ "EventType": event.name(), "FunctionARN": function_arn }))
                .collect::<Vec<_>>(),
        },
        "ViewerCertificate": { "CloudFrontDefaultCertificate": true },
    });
    if let Some(host) = &stack.api_origin {
        origins.push(json!({
            "Id": API_ORIGIN,
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
        "TargetOriginId": API_ORIGIN,
        "ViewerProtocolPolicy": "https-only",
        "CachePolicyId": CACHING_DISABLED,
        "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST_HEADER,
        "Compress": true,
        "AllowedMethods": ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
        "CachedMethods": ["GET", "HEAD"],
    })
}

/// Each output's value. The function's name is written as it is: `Ref` of a CloudFront
/// Function gives its ARN, not the name `[routing] function_name` takes.
fn outputs(stack: &Stack) -> Map<String, Value> {
    stack
        .outputs()
        .into_iter()
        .map(|output| {
            let value = match output {
                Output::BucketName => json!({ "Ref": "Bucket" }),
                Output::DistributionId => json!({ "Ref": "Distribution" }),
                Output::DistributionDomainName => {
                    json!({ "Fn::GetAtt": ["Distribution", "DomainName"] })
                }
                Output::FunctionName => json!(stack.function_name),
                Output::KeyValueStoreArn => json!({ "Fn::GetAtt": ["KeyValueStore", "Arn"] }),
                Output::DeployRoleArn => json!({ "Fn::GetAtt": ["DeployRole", "Arn"] }),
            };
            let body = json!({ "Description": output.description(), "Value": value });
            (output.name().to_string(), body)
        })
        .collect()
}

/// The GitHub OIDC provider (unless the account has one: pass its ARN as the parameter) and the
/// deploy role with the content-only policy.
fn github(stack: &Stack, template: &mut Value, resources: &mut Map<String, Value>) {
    let Some(github) = &stack.github else {
        return;
    };
    template["Parameters"] = json!({ OIDC_PARAMETER: {
        "Type": "String",
        "Default": "",
        "Description": OIDC_PARAMETER_DESCRIPTION,
    } });
    template["Conditions"] = json!({
        "CreateGitHubOidcProvider": { "Fn::Equals": [{ "Ref": OIDC_PARAMETER }, ""] },
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
                "Description": github.role_description(),
                "AssumeRolePolicyDocument": reference(&trust_policy(github)),
                "Policies": [{
                    "PolicyName": DEPLOY_POLICY_NAME,
                    "PolicyDocument": reference(&content_policy(stack)),
                }],
            },
        }),
    );
}
