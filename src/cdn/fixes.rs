//! The fix for a wiring problem, written in the language of the infrastructure as code that owns
//! the distribution (Terraform, CloudFormation or CDK), as the snippet to add or the line to
//! change. Resource names are those `spadeploy export` writes (`aws_cloudfront_function.spa`,
//! `Function`, the CDK app's `fn`), so a stack that started from an export takes the snippet as
//! is.

use crate::config::manifest::Iac;

/// A wiring element the distribution lacks (or has and must not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wire {
    /// The function on these events of the SPA behavior at `path` (`*` for the default).
    Associate {
        path: String,
        events: Vec<String>,
    },
    /// The function off the API behavior at `path`.
    Dissociate {
        path: String,
    },
    /// The CloudFront Function itself, with the runtime spadeploy's code needs.
    DeclareFunction {
        name: String,
    },
    Runtime,
    /// The function's KeyValueStore association (large route tables live there).
    AssociateStore,
    /// Origin Access Control on the SPA origin.
    OriginAccessControl {
        origin: String,
    },
    /// The bucket policy statements that let this distribution read (and list).
    BucketPolicy {
        statements: String,
    },
    /// `/api/*` evaluated before a catch-all.
    ApiOrder {
        api: String,
        catch_all: String,
    },
    /// A distribution-wide custom error response for this status.
    ErrorResponse {
        code: i32,
    },
    /// The SPA behavior at `path` forwards Host to S3.
    HostHeader {
        path: String,
    },
}

/// Where a behavior is declared, in each language.
fn behavior(path: &str, iac: Iac) -> String {
    match (path, iac) {
        ("*", Iac::Terraform) => "default_cache_behavior".into(),
        (p, Iac::Terraform) => format!("the ordered_cache_behavior with path_pattern = \"{p}\""),
        ("*", Iac::Cloudformation) => "DistributionConfig > DefaultCacheBehavior".into(),
        (p, Iac::Cloudformation) => {
            format!("the DistributionConfig > CacheBehaviors entry with PathPattern: \"{p}\"")
        }
        ("*", Iac::Cdk) => "the Distribution's defaultBehavior".into(),
        (p, Iac::Cdk) => format!("the Distribution's additionalBehaviors[\"{p}\"]"),
    }
}

fn cdk_event(event: &str) -> String {
    format!(
        "cloudfront.FunctionEventType.{}",
        event.to_ascii_uppercase().replace('-', "_")
    )
}

/// The fix for `wire`, in `iac`: a comment saying where, then the lines.
pub(crate) fn snippet(wire: &Wire, iac: Iac) -> String {
    match wire {
        Wire::Associate { path, events } => associate(path, events, iac),
        Wire::Dissociate { path } => format!(
            "in {}: remove the association of the spadeploy function (API responses must pass \
             through untouched; only SPA behaviors run it)",
            behavior(path, iac)
        ),
        Wire::DeclareFunction { name } => declare_function(name, iac),
        Wire::Runtime => match iac {
            Iac::Terraform => "resource \"aws_cloudfront_function\" \"spa\" {\n  runtime = \"cloudfront-js-2.0\"\n}".into(),
            Iac::Cloudformation => "Function:\n  Properties:\n    FunctionConfig:\n      Runtime: cloudfront-js-2.0".into(),
            Iac::Cdk => "const fn = new cloudfront.Function(this, \"Function\", {\n  runtime: cloudfront.FunctionRuntime.JS_2_0,\n});".into(),
        },
        Wire::AssociateStore => match iac {
            Iac::Terraform => "resource \"aws_cloudfront_function\" \"spa\" {\n  key_value_store_associations = [aws_cloudfront_key_value_store.spa.arn]\n}".into(),
            Iac::Cloudformation => "Function:\n  Properties:\n    FunctionConfig:\n      KeyValueStoreAssociations:\n        - KeyValueStoreARN: !GetAtt KeyValueStore.Arn".into(),
            Iac::Cdk => "const store = new cloudfront.KeyValueStore(this, \"KeyValueStore\");\nconst fn = new cloudfront.Function(this, \"Function\", {\n  keyValueStore: store,\n});".into(),
        },
        Wire::OriginAccessControl { origin } => origin_access_control(origin, iac),
        Wire::BucketPolicy { statements } => match iac {
            Iac::Terraform => format!("resource \"aws_s3_bucket_policy\" \"site\" {{\n  policy = jsonencode({{ Version = \"2012-10-17\", Statement = {statements} }})\n}}"),
            Iac::Cloudformation => format!("BucketPolicy:\n  Type: AWS::S3::BucketPolicy\n  Properties:\n    PolicyDocument: {{ \"Version\": \"2012-10-17\", \"Statement\": {statements} }}"),
            Iac::Cdk => format!("{statements}\n  .forEach((s) => bucket.addToResourcePolicy(iam.PolicyStatement.fromJson(s)));"),
        },
        Wire::ApiOrder { api, catch_all } => match iac {
            Iac::Terraform => format!("ordered_cache_behavior blocks are evaluated in the order written: move the one with path_pattern = \"{api}\" above the one with \"{catch_all}\""),
            Iac::Cloudformation => format!("DistributionConfig > CacheBehaviors is evaluated in order: move the PathPattern \"{api}\" entry before \"{catch_all}\""),
            Iac::Cdk => format!("additionalBehaviors are evaluated in the order their keys are written: put \"{api}\" before \"{catch_all}\""),
        },
        Wire::ErrorResponse { code } => match iac {
            Iac::Terraform => format!("resource \"aws_cloudfront_distribution\": remove the custom_error_response block with error_code = {code} (spadeploy's function serves client routes; this block rewrites API errors too)"),
            Iac::Cloudformation => format!("DistributionConfig > CustomErrorResponses: remove the entry with ErrorCode: {code} (spadeploy's function serves client routes; the entry rewrites API errors too)"),
            Iac::Cdk => format!("new cloudfront.Distribution: remove the errorResponses entry with httpStatus: {code} (spadeploy's function serves client routes; the entry rewrites API errors too)"),
        },
        Wire::HostHeader { path } => format!(
            "in {}: use an origin request policy that does not forward Host (S3 needs none: \
             remove it, or use Managed-CORS-S3Origin 88a5eaf4-2fd4-4709-b370-b4c650ea3fcf){}",
            behavior(path, iac),
            match iac {
                Iac::Terraform => "; with forwarded_values, drop \"Host\" and \"*\" from headers",
                Iac::Cloudformation => "; with ForwardedValues, drop Host and * from Headers",
                Iac::Cdk => "",
            }
        ),
    }
}

fn associate(path: &str, events: &[String], iac: Iac) -> String {
    let place = behavior(path, iac);
    let lines: Vec<String> = match iac {
        Iac::Terraform => events
            .iter()
            .map(|e| {
                format!(
                    "function_association {{\n  event_type   = \"{e}\"\n  function_arn = aws_cloudfront_function.spa.arn\n}}"
                )
            })
            .collect(),
        Iac::Cloudformation => std::iter::once("FunctionAssociations:".to_string())
            .chain(events.iter().map(|e| {
                format!(
                    "  - EventType: {e}\n    FunctionARN: !GetAtt Function.FunctionMetadata.FunctionARN"
                )
            }))
            .collect(),
        Iac::Cdk => std::iter::once("functionAssociations: [".to_string())
            .chain(events.iter().map(|e| {
                format!("  {{ function: fn, eventType: {} }},", cdk_event(e))
            }))
            .chain(std::iter::once("],".to_string()))
            .collect(),
    };
    format!("in {place}:\n{}", lines.join("\n"))
}

fn declare_function(name: &str, iac: Iac) -> String {
    match iac {
        Iac::Terraform => format!(
            "resource \"aws_cloudfront_function\" \"spa\" {{\n  name    = \"{name}\"\n  runtime = \"cloudfront-js-2.0\"\n  publish = true\n  code    = \"function handler(event) {{ return event.response || event.request; }}\"\n  # spadeploy publishes the real code on every push\n  lifecycle {{\n    ignore_changes = [code]\n  }}\n}}"
        ),
        Iac::Cloudformation => format!(
            "Function:\n  Type: AWS::CloudFront::Function\n  Properties:\n    Name: {name}\n    AutoPublish: true\n    FunctionConfig:\n      Comment: spadeploy publishes this function's code\n      Runtime: cloudfront-js-2.0\n    FunctionCode: \"function handler(event) {{ return event.response || event.request; }}\""
        ),
        Iac::Cdk => format!(
            "const fn = new cloudfront.Function(this, \"Function\", {{\n  functionName: \"{name}\",\n  runtime: cloudfront.FunctionRuntime.JS_2_0,\n  code: cloudfront.FunctionCode.fromInline(\"function handler(event) {{ return event.response || event.request; }}\"),\n}});"
        ),
    }
}

fn origin_access_control(origin: &str, iac: Iac) -> String {
    match iac {
        Iac::Terraform => format!(
            "resource \"aws_cloudfront_origin_access_control\" \"site\" {{\n  name                              = \"site\"\n  origin_access_control_origin_type = \"s3\"\n  signing_behavior                  = \"always\"\n  signing_protocol                  = \"sigv4\"\n}}\n# in the origin with origin_id = \"{origin}\":\norigin_access_control_id = aws_cloudfront_origin_access_control.site.id"
        ),
        Iac::Cloudformation => format!(
            "OriginAccessControl:\n  Type: AWS::CloudFront::OriginAccessControl\n  Properties:\n    OriginAccessControlConfig:\n      Name: site\n      OriginAccessControlOriginType: s3\n      SigningBehavior: always\n      SigningProtocol: sigv4\n# in the DistributionConfig > Origins entry with Id: {origin}:\nOriginAccessControlId: !GetAtt OriginAccessControl.Id\nS3OriginConfig:\n  OriginAccessIdentity: \"\""
        ),
        // withBucketDefaults and the control's id: withOriginAccessControl would also grant
        // every object of the bucket, wider than the statements spadeploy's check looks for.
        Iac::Cdk => format!(
            "const oac = new cloudfront.S3OriginAccessControl(this, \"OriginAccessControl\", {{\n  signing: cloudfront.Signing.SIGV4_ALWAYS,\n}});\n// the origin \"{origin}\":\norigin: origins.S3BucketOrigin.withBucketDefaults(bucket, {{\n  originAccessControlId: oac.originAccessControlId,\n}}),"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn associations_name_each_event_in_each_language() {
        let wire = Wire::Associate {
            path: "*".into(),
            events: vec!["viewer-request".into(), "viewer-response".into()],
        };
        let tf = snippet(&wire, Iac::Terraform);
        assert!(tf.starts_with("in default_cache_behavior:"), "{tf}");
        assert_eq!(tf.matches("function_association {").count(), 2, "{tf}");
        let cfn = snippet(&wire, Iac::Cloudformation);
        assert!(cfn.contains("EventType: viewer-response"), "{cfn}");
        let cdk = snippet(
            &Wire::Associate {
                path: "/app/*".into(),
                events: vec!["viewer-request".into()],
            },
            Iac::Cdk,
        );
        assert!(cdk.contains("additionalBehaviors[\"/app/*\"]"), "{cdk}");
        assert!(cdk.contains("FunctionEventType.VIEWER_REQUEST"), "{cdk}");
    }

    #[test]
    fn a_declared_function_keeps_its_code_out_of_terraform() {
        let tf = snippet(&Wire::DeclareFunction { name: "f".into() }, Iac::Terraform);
        assert!(tf.contains("ignore_changes = [code]"), "{tf}");
        assert!(tf.contains("cloudfront-js-2.0"), "{tf}");
    }
}
