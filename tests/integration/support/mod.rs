//! Shared helpers for the integration tests: running the built binary as a user would, and
//! observing the emulator (moto's server, started by ./test.sh) through the real S3 API.

pub(crate) mod cdn;
pub(crate) mod http;
pub(crate) mod proxy;
pub(crate) mod serve;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};

pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub(crate) fn assert_ok(&self) -> &Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn assert_fails_with(&self, code: i32, needle: &str) -> &Run {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(needle),
            "stderr should contain {needle:?}:\n{}",
            self.stderr
        );
        self
    }
}

/// Runs the spadeploy binary with a clean AWS environment (test credentials, no user config).
pub(crate) fn spadeploy(args: &[&str], cwd: Option<&Path>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spadeploy"));
    for (key, _) in std::env::vars() {
        // No user AWS configuration, and no CI runner's summary or outputs, leaks into a test.
        if key.starts_with("AWS_") || key.starts_with("GITHUB_") {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1")
        // The hash cache stays out of the user's home (one build directory, one cache file).
        .env(
            "XDG_CACHE_HOME",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("xdg-cache"),
        );
    if let Some(dir) = cwd {
        command.current_dir(dir);
    }
    let out = command.output().expect("run the spadeploy binary");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub(crate) fn demo_spa() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/demo-spa")
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let dest = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

pub(crate) fn write(dir: &Path, rel: &str, body: impl AsRef<[u8]>) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// The emulator's endpoint. The suite refuses to run without it rather than skip silently.
pub(crate) fn moto() -> String {
    std::env::var("SPADEPLOY_TEST_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "SPADEPLOY_TEST_ENDPOINT is not set: run the suite with ./test.sh, which starts moto"
        )
    })
}

/// A bucket name no other test (or earlier run against the same server) uses.
pub(crate) fn unique_bucket(stem: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{stem}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// Clients straight to the emulator (not through any proxy), for setting up and observing.
pub(crate) fn s3() -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&sdk_config())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub(crate) fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(moto())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            Credentials::new("test", "test", None, None, "tests"),
        ))
        .build()
}

pub(crate) fn cloudfront() -> aws_sdk_cloudfront::Client {
    aws_sdk_cloudfront::Client::new(&sdk_config())
}

pub(crate) fn iam() -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&sdk_config())
}

pub(crate) fn lambda() -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&sdk_config())
}

/// The binary under test, copied into `dir` and stripped as release builds are (the debug build
/// carries half a gigabyte of symbols, which packing tests would compress again and again).
pub(crate) fn stripped_binary(dir: &Path) -> PathBuf {
    let binary = dir.join("spadeploy");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_spadeploy"), &binary).unwrap();
    // Without strip the tests still pass, only slower.
    let _ = Command::new("strip").arg(&binary).status();
    binary
}

/// Block Public Access fully on, as AWS sets it on new buckets.
pub(crate) async fn block_public_access(bucket: &str) {
    use aws_sdk_s3::types::PublicAccessBlockConfiguration;
    s3().put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

pub(crate) async fn create_bucket(client: &aws_sdk_s3::Client, bucket: &str) {
    client.create_bucket().bucket(bucket).send().await.unwrap();
}

/// Every object in the bucket: key → (etag, body).
pub(crate) async fn snapshot(
    client: &aws_sdk_s3::Client,
    bucket: &str,
) -> BTreeMap<String, (String, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for object in page.unwrap().contents() {
            let key = object.key().unwrap().to_string();
            let body = get(client, bucket, &key).await.body;
            out.insert(key, (object.e_tag().unwrap_or_default().to_string(), body));
        }
    }
    out
}

pub(crate) struct Object {
    pub body: Vec<u8>,
    pub content_type: String,
    pub cache_control: String,
    pub sha256_metadata: String,
}

pub(crate) async fn get(client: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Object {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {bucket}/{key}: {e:?}"));
    let content_type = out.content_type().unwrap_or_default().to_string();
    let cache_control = out.cache_control().unwrap_or_default().to_string();
    let sha256_metadata = out
        .metadata()
        .and_then(|m| m.get("sha256"))
        .cloned()
        .unwrap_or_default();
    let body = out.body.collect().await.unwrap().into_bytes().to_vec();
    Object {
        body,
        content_type,
        cache_control,
        sha256_metadata,
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
