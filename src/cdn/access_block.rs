//! The bucket's Block Public Access settings in `website` mode. The website endpoint needs a
//! policy S3 counts as public (its Referer condition is not a fixed value), which
//! `BlockPublicPolicy` refuses and `RestrictPublicBuckets` ignores. With the user's consent
//! (`allow_public_read`) spadeploy turns off those of the two that are on, records which in a
//! bucket tag, and turns them back on once no public read grant is left (e.g. after a switch to
//! `private` mode). ACL settings are never changed.

use aws_sdk_s3::types::{PublicAccessBlockConfiguration, Tag, Tagging};
use serde::Serialize;

use crate::aws::{api_error, ApiError};

/// The bucket tag recording what spadeploy relaxed (bucket-wide, like the setting itself).
pub(crate) const RELAXED_TAG: &str = "spadeploy:relaxed-public-access";

/// The two settings that stand in the way of a Referer-limited read policy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PolicyBlocks {
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PolicyBlocks {
    fn of(config: Option<&PublicAccessBlockConfiguration>) -> PolicyBlocks {
        PolicyBlocks {
            block_public_policy: config
                .and_then(aws_sdk_s3::types::PublicAccessBlockConfiguration::block_public_policy)
                == Some(true),
            restrict_public_buckets: config.and_then(
                aws_sdk_s3::types::PublicAccessBlockConfiguration::restrict_public_buckets,
            ) == Some(true),
        }
    }

    fn any(self) -> bool {
        self.block_public_policy || self.restrict_public_buckets
    }

    /// The tag value: the names of the settings that were on.
    fn to_tag(self) -> String {
        let mut names = Vec::new();
        if self.block_public_policy {
            names.push("BlockPublicPolicy");
        }
        if self.restrict_public_buckets {
            names.push("RestrictPublicBuckets");
        }
        names.join(" ")
    }

    fn from_tag(value: &str) -> PolicyBlocks {
        PolicyBlocks {
            block_public_policy: value.split(' ').any(|n| n == "BlockPublicPolicy"),
            restrict_public_buckets: value.split(' ').any(|n| n == "RestrictPublicBuckets"),
        }
    }
}

/// What a push does to Block Public Access.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum AccessBlockStep {
    #[default]
    Unchanged,
    /// Turn off the settings that refuse the website read policy (recorded first).
    Relax,
    /// Turn back on what spadeploy turned off: no public read grant is left.
    Restore,
}

/// The bucket's current settings and spadeploy's record of what it relaxed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observed {
    pub config: Option<PublicAccessBlockConfiguration>,
    /// From the bucket tag; `None` when spadeploy relaxed nothing.
    pub relaxed: Option<PolicyBlocks>,
    /// The bucket's other tags, kept as they are.
    pub other_tags: Vec<Tag>,
}

/// Pure: `public_grant_needed` is whether the bucket policy, once this push wrote it, still
/// holds a public read grant (spadeploy's for some prefix, or the user's own).
pub(crate) fn decide(
    observed: &Observed,
    website: bool,
    public_grant_needed: bool,
) -> AccessBlockStep {
    let blocks = PolicyBlocks::of(observed.config.as_ref());
    if website && blocks.any() {
        AccessBlockStep::Relax
    } else if !website && !public_grant_needed && observed.relaxed.is_some() {
        AccessBlockStep::Restore
    } else {
        AccessBlockStep::Unchanged
    }
}

/// What a push needs to know of Block Public Access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needed {
    /// Nothing: a website-mode push whose read policy is already in place.
    Nothing,
    /// The settings and the record (a website-mode push that writes its read policy may have to
    /// relax), read at the same time.
    Both,
    /// The record, and the settings only if it says spadeploy relaxed them (a private-mode push
    /// may have to restore).
    RecordThenSettings,
}

/// Reads what `needed` asks: the settings, spadeploy's record (the tag), or both at once.
pub(crate) async fn observe(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    endpoint: &str,
    needed: Needed,
) -> Result<Observed, ApiError> {
    let mut observed = match needed {
        Needed::Nothing => return Ok(Observed::default()),
        Needed::Both => {
            let (config, record) = tokio::join!(
                read_config(s3, bucket, endpoint),
                read_record(s3, bucket, endpoint)
            );
            Observed {
                config: config?,
                ..record?
            }
        }
        Needed::RecordThenSettings => read_record(s3, bucket, endpoint).await?,
    };
    if needed == Needed::RecordThenSettings && observed.relaxed.is_some() {
        observed.config = read_config(s3, bucket, endpoint).await?;
    }
    Ok(observed)
}

async fn read_config(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    endpoint: &str,
) -> Result<Option<PublicAccessBlockConfiguration>, ApiError> {
    match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(out) => Ok(out.public_access_block_configuration().cloned()),
        Err(err) => api_error(
            err,
            "s3:GetBucketPublicAccessBlock",
            format!("arn:aws:s3:::{bucket}"),
            endpoint,
        )
        .absent_if("NoSuchPublicAccessBlockConfiguration")
        .map(Option::flatten),
    }
}

/// spadeploy's record (the tag) and the bucket's other tags.
async fn read_record(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    endpoint: &str,
) -> Result<Observed, ApiError> {
    let tags = match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(out) => out.tag_set().to_vec(),
        Err(err) => api_error(
            err,
            "s3:GetBucketTagging",
            format!("arn:aws:s3:::{bucket}"),
            endpoint,
        )
        .absent_if::<Vec<Tag>>("NoSuchTagSet")?
        .unwrap_or_default(),
    };
    let (ours, other_tags): (Vec<Tag>, Vec<Tag>) =
        tags.into_iter().partition(|t| t.key() == RELAXED_TAG);
    Ok(Observed {
        config: None,
        relaxed: ours.first().map(|t| PolicyBlocks::from_tag(t.value())),
        other_tags,
    })
}

/// Relax: record, then turn off. Restore: turn back on, then drop the record. (Either way an
/// interruption leaves the record in place, so the next push can finish.)
pub(crate) async fn apply(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    endpoint: &str,
    step: AccessBlockStep,
    observed: &Observed,
) -> Result<(), ApiError> {
    let current = observed
        .config
        .clone()
        .unwrap_or_else(|| PublicAccessBlockConfiguration::builder().build());
    match step {
        AccessBlockStep::Unchanged => Ok(()),
        AccessBlockStep::Relax => {
            let now = PolicyBlocks::of(Some(&current));
            let recorded = PolicyBlocks {
                block_public_policy: now.block_public_policy
                    || observed.relaxed.is_some_and(|r| r.block_public_policy),
                restrict_public_buckets: now.restrict_public_buckets
                    || observed.relaxed.is_some_and(|r| r.restrict_public_buckets),
            };
            let mut tags = observed.other_tags.clone();
            tags.push(tag(&recorded.to_tag())?);
            put_tags(s3, bucket, endpoint, tags).await?;
            let relaxed = with_policy_blocks(&current, PolicyBlocks::default());
            put_config(s3, bucket, endpoint, relaxed).await
        }
        AccessBlockStep::Restore => {
            let recorded = observed.relaxed.unwrap_or_default();
            let now = PolicyBlocks::of(Some(&current));
            let restored = with_policy_blocks(
                &current,
                PolicyBlocks {
                    block_public_policy: recorded.block_public_policy || now.block_public_policy,
                    restrict_public_buckets: recorded.restrict_public_buckets
                        || now.restrict_public_buckets,
                },
            );
            put_config(s3, bucket, endpoint, restored).await?;
            put_tags(s3, bucket, endpoint, observed.other_tags.clone()).await
        }
    }
}

/// `config` with the two policy settings set to `blocks`, the ACL settings as they were.
fn with_policy_blocks(
    config: &PublicAccessBlockConfiguration,
    blocks: PolicyBlocks,
) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .set_block_public_acls(config.block_public_acls())
        .set_ignore_public_acls(config.ignore_public_acls())
        .block_public_policy(blocks.block_public_policy)
        .restrict_public_buckets(blocks.restrict_public_buckets)
        .build()
}

fn tag(value: &str) -> Result<Tag, ApiError> {
    Tag::builder()
        .key(RELAXED_TAG)
        .value(value)
        .build()
        .map_err(|e| ApiError::Service {
            action: "s3:PutBucketTagging",
            resource: RELAXED_TAG.into(),
            code: String::new(),
            detail: e.to_string(),
        })
}

async fn put_tags(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    endpoint: &str,
    tags: Vec<Tag>,
) -> Result<(), ApiError> {
    let resource = format!("arn:aws:s3:::{bucket}");
    let result = if tags.is_empty() {
        s3.delete_bucket_tagging()
            .bucket(bucket)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error(e, "s3:PutBucketTagging", resource, endpoint))
    } else {
        let tagging = Tagging::builder()
            .set_tag_set(Some(tags))
            .build()
            .map_err(|e| ApiError::Service {
                action: "s3:PutBucketTagging",
                resource: resource.clone(),
                code: String::new(),
                detail: e.to_string(),
            })?;
        s3.put_bucket_tagging()
            .bucket(bucket)
            .tagging(tagging)
            .send()
            .await
            .map(drop)
            .map_err(|e| api_error(e, "s3:PutBucketTagging", resource, endpoint))
    };
    result
}

async fn put_config(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    endpoint: &str,
    config: PublicAccessBlockConfiguration,
) -> Result<(), ApiError> {
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(config)
        .send()
        .await
        .map(drop)
        .map_err(|e| {
            api_error(
                e,
                "s3:PutBucketPublicAccessBlock",
                format!("arn:aws:s3:::{bucket}"),
                endpoint,
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(bpp: bool, rpb: bool, relaxed: Option<&str>) -> Observed {
        Observed {
            config: Some(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .block_public_policy(bpp)
                    .restrict_public_buckets(rpb)
                    .build(),
            ),
            relaxed: relaxed.map(PolicyBlocks::from_tag),
            other_tags: Vec::new(),
        }
    }

    #[test]
    fn relaxed_only_for_website_mode_and_restored_once_nothing_public_is_left() {
        use AccessBlockStep::*;
        let blocking = observed(true, false, None);
        assert_eq!(decide(&blocking, true, true), Relax);
        assert_eq!(decide(&observed(false, false, None), true, true), Unchanged);
        let relaxed = observed(false, false, Some("BlockPublicPolicy"));
        assert_eq!(decide(&relaxed, true, true), Unchanged);
        assert_eq!(decide(&relaxed, false, false), Restore);
        // Another prefix (or the user) still has a public grant: not yet.
        assert_eq!(decide(&relaxed, false, true), Unchanged);
        // Never relaxed by spadeploy: never touched.
        assert_eq!(
            decide(&observed(false, false, None), false, false),
            Unchanged
        );
    }

    #[test]
    fn the_record_names_what_was_on() {
        let both = PolicyBlocks {
            block_public_policy: true,
            restrict_public_buckets: true,
        };
        assert_eq!(both.to_tag(), "BlockPublicPolicy RestrictPublicBuckets");
        assert_eq!(PolicyBlocks::from_tag(&both.to_tag()), both);
        assert_eq!(PolicyBlocks::from_tag(""), PolicyBlocks::default());
    }
}
