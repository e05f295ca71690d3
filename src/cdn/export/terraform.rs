//! The stack as Terraform (the hashicorp/aws provider), policies as `aws_iam_policy_document`.

use serde_json::Value;

use super::hcl::{attr, block, comment, render, Expr, Item};
use super::{
    bucket_statements, content_policy, trust_policy, ExportError, Ref, Stack,
    ALL_VIEWER_EXCEPT_HOST_HEADER, API_PATH, CACHING_DISABLED, CACHING_OPTIMIZED, GITHUB_OIDC_URL,
    PLACEHOLDER_CODE, RUNTIME, STS_AUDIENCE,
};

/// The configuration for `stack`, once every input in it is validated; the spadeploy.toml a
/// push uses closes it as a comment.
pub(crate) fn terraform(stack: &Stack) -> Result<String, ExportError> {
    stack.validate()?;
    let mut items = vec![
        comment(&format!(
            "{}: the wiring, declared once here; `spadeploy push` writes only content\n\
             (objects, the CloudFront Function's code, the KeyValueStore's entries, invalidations).",
            stack.comment()
        )),
        block(
            "terraform",
            &[],
            vec![block(
                "required_providers",
                &[],
                vec![attr(
                    "aws",
                    Expr::Object(vec![
                        ("source", Expr::str("hashicorp/aws")),
                        ("version", Expr::str(">= 5.50")),
                    ]),
                )],
            )],
        ),
    ];
    items.extend(bucket(stack));
    items.extend(edge(stack));
    items.push(distribution(stack));
    if stack.github.is_some() {
        items.extend(github(stack));
    }
    items.extend(outputs(stack));
    let mut spaced = Vec::with_capacity(items.len() * 2);
    for item in items {
        spaced.push(item);
        spaced.push(Item::Blank);
    }
    spaced.push(comment(&format!(
        "spadeploy.toml for this stack (distribution: the distribution_id output):\n\n{}",
        stack.manifest("DISTRIBUTION_ID")
    )));
    Ok(render(&spaced))
}

/// Terraform's reference for a value only known once the stack exists.
fn reference(r: Ref) -> Expr {
    Expr::raw(match r {
        Ref::Distribution => "aws_cloudfront_distribution.site.arn",
        Ref::Function => "aws_cloudfront_function.spa.arn",
        Ref::Store => "aws_cloudfront_key_value_store.spa.arn",
        Ref::OidcProvider => "local.github_oidc_provider_arn",
    })
}

fn resource(kind: &str, name: &str, items: Vec<Item>) -> Item {
    block("resource", &[kind, name], items)
}

fn bucket(stack: &Stack) -> Vec<Item> {
    let site = |attribute: &str| Expr::raw(format!("aws_s3_bucket.site.{attribute}"));
    vec![
        resource(
            "aws_s3_bucket",
            "site",
            vec![
                attr("bucket", Expr::str(&stack.bucket)),
                comment("The site's files outlive a mistaken destroy."),
                block(
                    "lifecycle",
                    &[],
                    vec![attr("prevent_destroy", Expr::Bool(true))],
                ),
            ],
        ),
        resource(
            "aws_s3_bucket_public_access_block",
            "site",
            vec![
                attr("bucket", site("id")),
                attr("block_public_acls", Expr::Bool(true)),
                attr("block_public_policy", Expr::Bool(true)),
                attr("ignore_public_acls", Expr::Bool(true)),
                attr("restrict_public_buckets", Expr::Bool(true)),
            ],
        ),
        resource(
            "aws_s3_bucket_ownership_controls",
            "site",
            vec![
                attr("bucket", site("id")),
                block(
                    "rule",
                    &[],
                    vec![attr("object_ownership", Expr::str("BucketOwnerEnforced"))],
                ),
            ],
        ),
        policy_document("bucket", &bucket_statements(stack)),
        resource(
            "aws_s3_bucket_policy",
            "site",
            vec![
                attr("bucket", site("id")),
                attr(
                    "policy",
                    Expr::raw("data.aws_iam_policy_document.bucket.json"),
                ),
                attr(
                    "depends_on",
                    Expr::List(vec![Expr::raw("aws_s3_bucket_public_access_block.site")]),
                ),
            ],
        ),
    ]
}

/// Origin Access Control, the KeyValueStore and the CloudFront Function.
fn edge(stack: &Stack) -> Vec<Item> {
    vec![
        resource(
            "aws_cloudfront_origin_access_control",
            "site",
            vec![
                attr("name", Expr::str(&stack.function_name)),
                attr(
                    "description",
                    Expr::str("spadeploy: CloudFront signs its requests to the private bucket"),
                ),
                attr("origin_access_control_origin_type", Expr::str("s3")),
                attr("signing_behavior", Expr::str("always")),
                attr("signing_protocol", Expr::str("sigv4")),
            ],
        ),
        comment(
            "spadeploy writes this store's entries on every push. Never put it under\n\
             aws_cloudfrontkeyvaluestore_keys_exclusive (it deletes the keys it does not list)\n\
             nor declare its keys with aws_cloudfrontkeyvaluestore_key.",
        ),
        resource(
            "aws_cloudfront_key_value_store",
            "spa",
            vec![
                attr("name", Expr::str(&stack.function_name)),
                attr(
                    "comment",
                    Expr::str(
                        "spadeploy route table: URLs that name pages, and the page each answers",
                    ),
                ),
            ],
        ),
        resource(
            "aws_cloudfront_function",
            "spa",
            vec![
                attr("name", Expr::str(&stack.function_name)),
                attr("runtime", Expr::str(RUNTIME)),
                attr("comment", Expr::str(stack.comment())),
                attr("publish", Expr::Bool(true)),
                attr(
                    "key_value_store_associations",
                    Expr::List(vec![reference(Ref::Store)]),
                ),
                attr("code", Expr::str(PLACEHOLDER_CODE)),
                comment(
                    "`spadeploy push` publishes this function's code on every push (publishing\n\
                     updates every behavior associated with it; the distribution is not touched).\n\
                     Terraform keeps the placeholder above only for creation and must not write\n\
                     it back over the published routing code.",
                ),
                block(
                    "lifecycle",
                    &[],
                    vec![attr("ignore_changes", Expr::List(vec![Expr::raw("code")]))],
                ),
            ],
        ),
    ]
}

fn distribution(stack: &Stack) -> Item {
    let mut spa_origin = vec![
        attr("origin_id", Expr::str("spa")),
        attr(
            "domain_name",
            Expr::raw("aws_s3_bucket.site.bucket_regional_domain_name"),
        ),
        attr(
            "origin_access_control_id",
            Expr::raw("aws_cloudfront_origin_access_control.site.id"),
        ),
    ];
    if !stack.prefix.is_empty() {
        spa_origin.push(attr("origin_path", Expr::str(stack.origin_path())));
    }
    let mut items = vec![
        attr("enabled", Expr::Bool(true)),
        attr("comment", Expr::str(stack.comment())),
        attr("http_version", Expr::str("http2and3")),
        attr("is_ipv6_enabled", Expr::Bool(true)),
    ];
    if !stack.aliases.is_empty() {
        items.push(attr("aliases", Expr::strs(&stack.aliases)));
    }
    items.push(block("origin", &[], spa_origin));
    if let Some(host) = &stack.api_origin {
        items.push(api_origin(host));
    }
    items.push(spa_behavior());
    if stack.api_origin.is_some() {
        items.push(api_behavior());
    }
    items.push(comment(
        "No custom_error_response: it would rewrite the API's errors too; the function\n\
         answers client routes with the index document.",
    ));
    items.push(block(
        "restrictions",
        &[],
        vec![block(
            "geo_restriction",
            &[],
            vec![attr("restriction_type", Expr::str("none"))],
        )],
    ));
    items.push(viewer_certificate(stack));
    resource("aws_cloudfront_distribution", "site", items)
}

fn api_origin(host: &str) -> Item {
    block(
        "origin",
        &[],
        vec![
            attr("origin_id", Expr::str("api")),
            attr("domain_name", Expr::str(host)),
            block(
                "custom_origin_config",
                &[],
                vec![
                    attr("http_port", Expr::Num(80)),
                    attr("https_port", Expr::Num(443)),
                    attr("origin_protocol_policy", Expr::str("https-only")),
                    attr("origin_ssl_protocols", Expr::strs(&["TLSv1.2"])),
                ],
            ),
        ],
    )
}

fn spa_behavior() -> Item {
    let association = |event: &str| {
        block(
            "function_association",
            &[],
            vec![
                attr("event_type", Expr::str(event)),
                attr("function_arn", reference(Ref::Function)),
            ],
        )
    };
    block(
        "default_cache_behavior",
        &[],
        vec![
            attr("target_origin_id", Expr::str("spa")),
            attr("viewer_protocol_policy", Expr::str("redirect-to-https")),
            comment("CachingOptimized"),
            attr("cache_policy_id", Expr::str(CACHING_OPTIMIZED)),
            attr("compress", Expr::Bool(true)),
            attr("allowed_methods", Expr::strs(&["GET", "HEAD"])),
            attr("cached_methods", Expr::strs(&["GET", "HEAD"])),
            association("viewer-request"),
            association("viewer-response"),
        ],
    )
}

/// `/api/*`: uncached, every viewer header but Host, every method, no edge function; HTTPS only,
/// as a redirect would turn a POST into a GET.
fn api_behavior() -> Item {
    block(
        "ordered_cache_behavior",
        &[],
        vec![
            attr("path_pattern", Expr::str(API_PATH)),
            attr("target_origin_id", Expr::str("api")),
            attr("viewer_protocol_policy", Expr::str("https-only")),
            comment("CachingDisabled and AllViewerExceptHostHeader"),
            attr("cache_policy_id", Expr::str(CACHING_DISABLED)),
            attr(
                "origin_request_policy_id",
                Expr::str(ALL_VIEWER_EXCEPT_HOST_HEADER),
            ),
            attr("compress", Expr::Bool(true)),
            attr(
                "allowed_methods",
                Expr::strs(&["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"]),
            ),
            attr("cached_methods", Expr::strs(&["GET", "HEAD"])),
        ],
    )
}

fn viewer_certificate(stack: &Stack) -> Item {
    let items = match &stack.certificate_arn {
        Some(arn) => vec![
            attr("acm_certificate_arn", Expr::str(arn)),
            attr("ssl_support_method", Expr::str("sni-only")),
            attr("minimum_protocol_version", Expr::str("TLSv1.2_2021")),
        ],
        None => vec![attr("cloudfront_default_certificate", Expr::Bool(true))],
    };
    block("viewer_certificate", &[], items)
}

/// The GitHub OIDC provider (unless the account has one) and the content-only deploy role.
fn github(stack: &Stack) -> Vec<Item> {
    let Some(github) = &stack.github else {
        return Vec::new();
    };
    let trust = trust_policy(github);
    let content = content_policy(stack);
    vec![
        block(
            "variable",
            &["github_oidc_provider_arn"],
            vec![
                attr(
                    "description",
                    Expr::str(
                        "ARN of the account's GitHub OIDC provider if it has one (an account holds \
                         one per URL); empty: this configuration creates it",
                    ),
                ),
                attr("type", Expr::raw("string")),
                attr("default", Expr::str("")),
            ],
        ),
        resource(
            "aws_iam_openid_connect_provider",
            "github",
            vec![
                attr(
                    "count",
                    Expr::raw("var.github_oidc_provider_arn == \"\" ? 1 : 0"),
                ),
                attr("url", Expr::str(GITHUB_OIDC_URL)),
                attr("client_id_list", Expr::strs(&[STS_AUDIENCE])),
            ],
        ),
        block(
            "locals",
            &[],
            vec![attr(
                "github_oidc_provider_arn",
                Expr::raw(
                    "var.github_oidc_provider_arn != \"\" ? var.github_oidc_provider_arn : \
                     one(aws_iam_openid_connect_provider.github[*].arn)",
                ),
            )],
        ),
        policy_document("deploy_trust", statements(&trust)),
        policy_document("deploy_content", statements(&content)),
        resource(
            "aws_iam_role",
            "deploy",
            vec![
                attr(
                    "description",
                    Expr::str(format!(
                        "spadeploy push from {} (content only)",
                        github.repo
                    )),
                ),
                attr(
                    "assume_role_policy",
                    Expr::raw("data.aws_iam_policy_document.deploy_trust.json"),
                ),
            ],
        ),
        resource(
            "aws_iam_role_policy",
            "deploy",
            vec![
                attr("name", Expr::str("spadeploy-content")),
                attr("role", Expr::raw("aws_iam_role.deploy.id")),
                attr(
                    "policy",
                    Expr::raw("data.aws_iam_policy_document.deploy_content.json"),
                ),
            ],
        ),
    ]
}

fn statements(document: &Value) -> &[Value] {
    document["Statement"].as_array().map_or(&[], Vec::as_slice)
}

fn outputs(stack: &Stack) -> Vec<Item> {
    let output = |name: &str, description: &str, value: &str| {
        block(
            "output",
            &[name],
            vec![
                attr("description", Expr::str(description)),
                attr("value", Expr::raw(value)),
            ],
        )
    };
    let mut items = vec![
        output(
            "bucket_name",
            "[target] to = s3://BUCKET/PREFIX",
            "aws_s3_bucket.site.bucket",
        ),
        output(
            "distribution_id",
            "[cdn] distribution",
            "aws_cloudfront_distribution.site.id",
        ),
        output(
            "distribution_domain_name",
            "Where the site answers (point the aliases' DNS here)",
            "aws_cloudfront_distribution.site.domain_name",
        ),
        output(
            "function_name",
            "[routing] function_name",
            "aws_cloudfront_function.spa.name",
        ),
        output(
            "key_value_store_arn",
            "The route table's store (spadeploy writes its entries)",
            "aws_cloudfront_key_value_store.spa.arn",
        ),
    ];
    if stack.github.is_some() {
        items.push(output(
            "deploy_role_arn",
            "role-to-assume in aws-actions/configure-aws-credentials",
            "aws_iam_role.deploy.arn",
        ));
    }
    items
}

/// `data "aws_iam_policy_document" "name"` holding IAM JSON statements.
fn policy_document(name: &str, statements: &[Value]) -> Item {
    block(
        "data",
        &["aws_iam_policy_document", name],
        statements.iter().map(statement).collect(),
    )
}

fn statement(s: &Value) -> Item {
    let mut items = Vec::new();
    if let Some(sid) = s["Sid"].as_str() {
        items.push(attr("sid", Expr::str(sid)));
    }
    items.push(attr(
        "effect",
        Expr::str(s["Effect"].as_str().unwrap_or("Allow")),
    ));
    items.push(attr("actions", list(&s["Action"])));
    if !s["Resource"].is_null() {
        items.push(attr("resources", list(&s["Resource"])));
    }
    match &s["Principal"] {
        Value::Object(map) => {
            for (kind, identifiers) in map {
                items.push(principals(kind, list(identifiers)));
            }
        }
        Value::String(any) => items.push(principals(any, Expr::strs(&[any]))),
        _ => {}
    }
    if let Value::Object(tests) = &s["Condition"] {
        for (test, variables) in tests {
            for (variable, values) in variables.as_object().into_iter().flatten() {
                items.push(block(
                    "condition",
                    &[],
                    vec![
                        attr("test", Expr::str(test)),
                        attr("variable", Expr::str(variable)),
                        attr("values", list(values)),
                    ],
                ));
            }
        }
    }
    block("statement", &[], items)
}

fn principals(kind: &str, identifiers: Expr) -> Item {
    block(
        "principals",
        &[],
        vec![
            attr("type", Expr::str(kind)),
            attr("identifiers", identifiers),
        ],
    )
}

/// A JSON string or list of strings as an HCL list, markers as references.
fn list(value: &Value) -> Expr {
    let one = |v: &Value| match v {
        Value::String(text) => Ref::of(text).map_or_else(|| Expr::str(text), reference),
        other => Expr::str(other.to_string()),
    };
    match value {
        Value::Array(items) => Expr::List(items.iter().map(one).collect()),
        single => Expr::List(vec![one(single)]),
    }
}
