//! Where a push goes: an S3 bucket (with an optional key prefix) or a local directory.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// `prefix` is empty or ends with `/`.
    S3 {
        bucket: String,
        prefix: String,
    },
    Local {
        path: PathBuf,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum TargetError {
    #[error("the target is empty: use s3://BUCKET[/PREFIX] or a local directory path")]
    Empty,
    #[error("unsupported target scheme `{scheme}://`: use s3://BUCKET[/PREFIX] or a local directory path (file://PATH)")]
    Scheme { scheme: String },
    #[error("`{given}` looks like a mistyped S3 URL: write s3://BUCKET[/PREFIX]")]
    MistypedS3 { given: String },
    #[error("invalid bucket name `{bucket}`: {why} (S3 bucket names are 3-63 characters of a-z, 0-9, `.` and `-`)")]
    Bucket { bucket: String, why: &'static str },
    #[error("invalid key prefix `{prefix}`: {why}")]
    Prefix { prefix: String, why: &'static str },
    #[error("invalid key prefix `{prefix}`: {character:?} is not allowed (a prefix is ASCII letters, digits and `!-_.'()`, segments separated by `/`; `*`, `?` and `$` would be wildcards or variables in the bucket and IAM policies)")]
    PrefixCharacter { prefix: String, character: char },
}

impl Target {
    /// Makes a relative local path relative to `base` (the manifest's folder) instead of the cwd.
    pub(crate) fn rebased(self, base: &Path) -> Target {
        match self {
            Target::Local { path } if path.is_relative() => Target::Local {
                path: base.join(path),
            },
            other => other,
        }
    }
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(given: &str) -> Result<Self, Self::Err> {
        let given = given.trim();
        if given.is_empty() {
            return Err(TargetError::Empty);
        }
        if let Some(rest) = given.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            return Ok(Target::S3 {
                bucket: check_bucket(bucket)?,
                prefix: normalize_prefix(prefix)?,
            });
        }
        if let Some(path) = given.strip_prefix("file://") {
            if path.is_empty() {
                return Err(TargetError::Empty);
            }
            return Ok(Target::Local { path: path.into() });
        }
        if let Some((scheme, _)) = given.split_once("://") {
            return Err(TargetError::Scheme {
                scheme: scheme.to_string(),
            });
        }
        if given.to_ascii_lowercase().starts_with("s3:") {
            return Err(TargetError::MistypedS3 {
                given: given.to_string(),
            });
        }
        Ok(Target::Local { path: given.into() })
    }
}

/// A bucket name by S3's naming rules. Also what keeps a bucket name that reaches an ARN (the
/// policies `iam-policy` prints and `push` writes) free of wildcards and policy variables.
pub(crate) fn check_bucket(bucket: &str) -> Result<String, TargetError> {
    let fail = |why| {
        Err(TargetError::Bucket {
            bucket: bucket.to_string(),
            why,
        })
    };
    if bucket.is_empty() {
        return fail("it is empty");
    }
    if !(3..=63).contains(&bucket.len()) {
        return fail("wrong length");
    }
    if !bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return fail("it contains characters S3 does not allow");
    }
    let edge_ok = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !edge_ok(bucket.bytes().next()) || !edge_ok(bucket.bytes().last()) {
        return fail("it must start and end with a letter or digit");
    }
    if bucket.contains("..") {
        return fail("it contains two adjacent periods");
    }
    if bucket.split('.').count() == 4 && bucket.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return fail("it is formatted as an IP address");
    }
    // Prefixes and suffixes S3 reserves for access points, Object Lambda and directory buckets.
    let reserved_prefix = ["xn--", "sthree-", "amzn-s3-demo-"]
        .into_iter()
        .find(|p| bucket.starts_with(p));
    let reserved_suffix = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
        .into_iter()
        .find(|s| bucket.ends_with(s));
    if reserved_prefix.is_some() || reserved_suffix.is_some() {
        return fail("it uses a prefix or suffix S3 reserves");
    }
    Ok(bucket.to_string())
}

/// Characters a key prefix may hold besides ASCII letters and digits: S3's "safe" characters
/// without `*`. The prefix reaches ARNs and conditions (the bucket policy a push writes, the
/// policy `iam-policy` prints), where `*` and `?` are wildcards and `${...}` a policy variable, and
/// the site's URL path, where `?`, `#`, `%` and spaces change what a URL means.
const PREFIX_PUNCTUATION: &str = "!-_.'()/";

/// The prefix as stored: empty, or its segments joined by `/` and ending with `/`.
pub(crate) fn normalize_prefix(prefix: &str) -> Result<String, TargetError> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let fail = |why| {
        Err(TargetError::Prefix {
            prefix: prefix.to_string(),
            why,
        })
    };
    if let Some(c) = trimmed
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !PREFIX_PUNCTUATION.contains(*c))
    {
        return Err(TargetError::PrefixCharacter {
            prefix: prefix.to_string(),
            character: c,
        });
    }
    for segment in trimmed.split('/') {
        if segment.is_empty() {
            return fail("it contains an empty segment (`//`)");
        }
        if segment == "." || segment == ".." {
            return fail("`.` and `..` segments are not allowed");
        }
    }
    Ok(format!("{trimmed}/"))
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            Target::Local { path } => write!(f, "{}", path.display()),
        }
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str, prefix: &str) -> Target {
        Target::S3 {
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    #[test]
    fn parses_s3_urls_and_normalizes_prefixes() {
        assert_eq!("s3://my-site".parse(), Ok(s3("my-site", "")));
        assert_eq!("s3://my-site/".parse(), Ok(s3("my-site", "")));
        assert_eq!("s3://my-site/app".parse(), Ok(s3("my-site", "app/")));
        assert_eq!(
            "s3://my-site//app/v2/".parse(),
            Ok(s3("my-site", "app/v2/"))
        );
    }

    #[test]
    fn parses_local_paths() {
        let local = |p: &str| Target::Local { path: p.into() };
        assert_eq!("./site".parse(), Ok(local("./site")));
        assert_eq!("file:///tmp/site".parse(), Ok(local("/tmp/site")));
        assert_eq!("site".parse(), Ok(local("site")));
    }

    #[test]
    fn rejects_what_is_neither_s3_nor_a_path() {
        let err = |s: &str| s.parse::<Target>().unwrap_err();
        assert_eq!(err(""), TargetError::Empty);
        assert!(matches!(err("gs://bucket"), TargetError::Scheme { scheme } if scheme == "gs"));
        assert!(matches!(
            err("https://x.example"),
            TargetError::Scheme { .. }
        ));
        assert!(matches!(err("s3:/bucket"), TargetError::MistypedS3 { .. }));
        assert!(matches!(err("S3:bucket"), TargetError::MistypedS3 { .. }));
        assert!(matches!(err("s3://My_Bucket"), TargetError::Bucket { .. }));
        assert!(matches!(err("s3://ab"), TargetError::Bucket { .. }));
        assert!(matches!(err("s3://-abc"), TargetError::Bucket { .. }));
        assert!(matches!(
            err("s3://bucket/a/../b"),
            TargetError::Prefix { .. }
        ));
        assert!(matches!(
            err("s3://bucket/a//b"),
            TargetError::Prefix { .. }
        ));
    }

    #[test]
    fn rejects_prefixes_that_would_be_wildcards_or_variables_in_a_policy() {
        for prefix in [
            "*",
            "a?",
            "app*",
            "${aws:username}",
            "a b",
            "a#b",
            "a%2Fb",
            "a\\b",
        ] {
            assert!(
                matches!(
                    format!("s3://bucket/{prefix}").parse::<Target>(),
                    Err(TargetError::PrefixCharacter { .. })
                ),
                "{prefix}"
            );
        }
        assert_eq!(
            "s3://bucket/v1.2/app_(old)/".parse(),
            Ok(s3("bucket", "v1.2/app_(old)/"))
        );
    }

    #[test]
    fn rejects_bucket_names_s3_does_not_allow() {
        for bucket in [
            "my..site",
            "192.168.1.1",
            "xn--site",
            "site-s3alias",
            "site--ol-s3",
        ] {
            assert!(
                matches!(check_bucket(bucket), Err(TargetError::Bucket { .. })),
                "{bucket}"
            );
        }
        assert!(check_bucket("my.site-1").is_ok());
    }

    #[test]
    fn displays_as_it_would_be_typed() {
        assert_eq!(s3("b", "x/").to_string(), "s3://b/x/");
        assert_eq!(s3("b", "").to_string(), "s3://b/");
    }

    #[test]
    fn rebases_relative_local_paths_only() {
        let base = Path::new("/proj");
        let rel = Target::Local {
            path: "site".into(),
        };
        assert_eq!(
            rel.rebased(base),
            Target::Local {
                path: "/proj/site".into()
            }
        );
        assert_eq!(s3("b", "").rebased(base), s3("b", ""));
    }
}
