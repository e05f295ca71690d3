//! The route table in a CloudFront KeyValueStore, for private-mode sites whose table outgrows the
//! function's 10 KB: one key per URL that names a page, valued with the page it answers. Written
//! with UpdateKeys in batches under If-Match; a marker key holds the hash of the whole table, so a
//! push knows what the store holds without listing it (and lists it when a write was cut short).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_cloudfrontkeyvaluestore::types::{DeleteKeyRequestListItem, PutKeyRequestListItem};
use sha2::{Digest, Sha256};

use crate::aws::{api_error, ApiError};

/// KeyValueStore limits: key and value sizes, the store's size, keys per UpdateKeys.
pub(crate) const MAX_KEY_BYTES: usize = 512;
pub(crate) const MAX_VALUE_BYTES: usize = 1024;
pub(crate) const MAX_STORE_BYTES: usize = 5 * 1024 * 1024;
const BATCH: usize = 50;

/// Holds the table's hash once a write completed, `updating` while one is under way. URL keys
/// start with `/`, so it never collides with one.
const MARKER: &str = "spadeploy:table";
const UPDATING: &str = "updating";

/// The production route table's keys are URLs (`/…`); the store also holds other namespaces
/// (previews' `preview:…` keys), which a production write neither lists nor deletes.
pub(crate) fn is_route_key(key: &str) -> bool {
    key.starts_with('/')
}

pub(crate) type Table = BTreeMap<String, String>;

/// One UpdateKeys call: keys and values to put, keys to delete.
pub(crate) type Batch = (Vec<(String, String)>, Vec<String>);

/// The table's identity: what the marker holds and the function's code names.
pub(crate) fn table_hash(table: &Table) -> String {
    let mut digest = Sha256::new();
    for (key, value) in table {
        digest.update(key.as_bytes());
        digest.update(b"\t");
        digest.update(value.as_bytes());
        digest.update(b"\n");
    }
    hex::encode(digest.finalize())
}

/// Fails, naming the limit and the count, when the table cannot be stored.
pub(crate) fn check_limits(table: &Table) -> Result<(), LimitError> {
    if let Some(key) = table.keys().find(|k| k.len() > MAX_KEY_BYTES) {
        return Err(LimitError::Key(key.clone()));
    }
    if let Some((key, value)) = table.iter().find(|(_, v)| v.len() > MAX_VALUE_BYTES) {
        return Err(LimitError::Value {
            key: key.clone(),
            bytes: value.len(),
        });
    }
    let bytes: usize = table.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_STORE_BYTES {
        return Err(LimitError::Store {
            urls: table.len(),
            bytes,
        });
    }
    Ok(())
}

/// A route table a KeyValueStore cannot hold, named by the limit it breaks.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LimitError {
    #[error("the URL {0:?} is {len} bytes, over the KeyValueStore's {MAX_KEY_BYTES}-byte key limit: shorten that path", len = .0.len())]
    Key(String),
    #[error("{key:?} answers {bytes} bytes of path, over the KeyValueStore's {MAX_VALUE_BYTES}-byte value limit")]
    Value { key: String, bytes: usize },
    #[error("the route table has {urls} URLs ({bytes} bytes), over a KeyValueStore's {MAX_STORE_BYTES} bytes: use website mode, whose Lambda@Edge function holds large tables")]
    Store { urls: usize, bytes: usize },
}

/// The writes that turn `current` into `wanted`: puts of new and changed keys, deletes of gone
/// ones, in UpdateKeys batches; the first marks the store as being updated, the last records the
/// table's hash (a single batch does both at once).
pub(crate) fn batches(current: &Table, wanted: &Table) -> Vec<Batch> {
    let puts: Vec<(String, String)> = wanted
        .iter()
        .filter(|(k, v)| current.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let deletes: Vec<String> = current
        .keys()
        .filter(|k| !wanted.contains_key(*k))
        .cloned()
        .collect();
    let mut batches: Vec<Batch> = Vec::new();
    // One slot in each batch is kept for the marker.
    for chunk in puts.chunks(BATCH - 1) {
        batches.push((chunk.to_vec(), Vec::new()));
    }
    for chunk in deletes.chunks(BATCH - 1) {
        batches.push((Vec::new(), chunk.to_vec()));
    }
    if batches.is_empty() {
        batches.push((Vec::new(), Vec::new()));
    }
    let last = batches.len() - 1;
    if last > 0 {
        batches[0].0.push((MARKER.into(), UPDATING.into()));
    }
    batches[last].0.push((MARKER.into(), table_hash(wanted)));
    batches
}

fn resource(name: &str) -> String {
    format!("arn:aws:cloudfront::*:key-value-store/{name}")
}

/// The store named `name`, or `None` when there is none.
async fn describe(
    cloudfront: &aws_sdk_cloudfront::Client,
    name: &str,
    endpoint: &str,
) -> Result<Option<aws_sdk_cloudfront::types::KeyValueStore>, ApiError> {
    match cloudfront
        .describe_key_value_store()
        .name(name)
        .send()
        .await
    {
        Ok(out) => Ok(out.key_value_store),
        Err(err) => {
            let err = api_error(
                err,
                "cloudfront:DescribeKeyValueStore",
                resource(name),
                endpoint,
            );
            match err.code() {
                Some("EntityNotFound") => Ok(None),
                _ => Err(err),
            }
        }
    }
}

/// The store named `name`, created when missing; returns its ARN once it is ready.
pub(crate) async fn ensure(
    cloudfront: &aws_sdk_cloudfront::Client,
    name: &str,
    endpoint: &str,
) -> Result<String, ApiError> {
    for attempt in 0..60u64 {
        let store =
            match describe(cloudfront, name, endpoint).await? {
                Some(store) => Some(store),
                None => cloudfront
                    .create_key_value_store()
                    .name(name)
                    .comment(
                        "spadeploy route table: URLs that name pages, and the page each answers",
                    )
                    .send()
                    .await
                    .map_err(|e| {
                        api_error(
                            e,
                            "cloudfront:CreateKeyValueStore",
                            resource(name),
                            endpoint,
                        )
                    })?
                    .key_value_store,
            };
        let Some(store) = store else {
            break;
        };
        if store
            .status()
            .is_none_or(|s| s.eq_ignore_ascii_case("READY"))
        {
            return Ok(store.arn().to_string());
        }
        tokio::time::sleep(Duration::from_millis(500 * attempt.min(4) + 250)).await;
    }
    Err(ApiError::Service {
        action: "cloudfront:DescribeKeyValueStore",
        resource: resource(name),
        code: String::new(),
        detail: "the KeyValueStore did not become READY within a minute; the function was not changed, so the site keeps its previous route table: re-run the push once CloudFront reports the store READY".into(),
    })
}

/// Makes the store at `arn` hold `wanted`. `previous` is the table of the release being
/// replaced: when the marker says the store holds it, only the difference is written; otherwise
/// the store is listed first. Returns the number of keys written or deleted.
pub(crate) async fn write(
    kvs: &aws_sdk_cloudfrontkeyvaluestore::Client,
    arn: &str,
    wanted: &Table,
    previous: Option<&Table>,
    listed: Option<&Table>,
    endpoint: &str,
) -> Result<usize, ApiError> {
    let (described, marker) = tokio::join!(
        kvs.describe_key_value_store().kvs_arn(arn).send(),
        marker(kvs, arn, endpoint)
    );
    let mut etag = described
        .map_err(|e| {
            api_error(
                e,
                "cloudfront-keyvaluestore:DescribeKeyValueStore",
                arn.to_string(),
                endpoint,
            )
        })?
        .e_tag()
        .to_string();
    let marker = marker?;
    let hash = table_hash(wanted);
    let current = match (listed, previous) {
        // Keys listed just before (`--verify-remote`) are the truth: the marker may be stale.
        (Some(listed), _) => listed.clone(),
        _ if marker.as_deref() == Some(hash.as_str()) => return Ok(0),
        (None, Some(previous)) if marker.as_deref() == Some(table_hash(previous).as_str()) => {
            previous.clone()
        }
        _ => list(kvs, arn, endpoint, is_route_key).await?,
    };
    let mut changed = 0;
    for (puts, deletes) in batches(&current, wanted) {
        changed += puts.len() + deletes.len();
        etag = update(kvs, arn, etag, puts, deletes, endpoint).await?;
    }
    // The marker itself is not a route.
    Ok(changed.saturating_sub(1))
}

/// How often one UpdateKeys call is tried when another writer changed the store meanwhile.
const UPDATE_ATTEMPTS: usize = 3;

/// One UpdateKeys call under If-Match `etag`; returns the store's next ETag. Other writers share
/// the store (previews beside production, each in its own keys), so a stale ETag is read again
/// and the same batch retried: no batch depends on another writer's keys.
pub(crate) async fn update(
    kvs: &aws_sdk_cloudfrontkeyvaluestore::Client,
    arn: &str,
    mut etag: String,
    puts: Vec<(String, String)>,
    deletes: Vec<String>,
    endpoint: &str,
) -> Result<String, ApiError> {
    let (puts, deletes) = request_items(puts, deletes, arn)?;
    for attempt in 1..=UPDATE_ATTEMPTS {
        let sent = kvs
            .update_keys()
            .kvs_arn(arn)
            .if_match(&etag)
            .set_puts((!puts.is_empty()).then(|| puts.clone()))
            .set_deletes((!deletes.is_empty()).then(|| deletes.clone()))
            .send()
            .await;
        let err = match sent {
            Ok(out) => return Ok(out.e_tag().to_string()),
            Err(e) => api_error(
                e,
                "cloudfront-keyvaluestore:UpdateKeys",
                arn.to_string(),
                endpoint,
            ),
        };
        if !err.to_string().contains("Pre-Condition failed") || attempt == UPDATE_ATTEMPTS {
            return Err(err);
        }
        etag = state(kvs, arn, endpoint).await?.etag;
    }
    unreachable!("the last attempt returns")
}

/// What the data plane says of a store: its ETag (what UpdateKeys needs) and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoreState {
    pub etag: String,
    pub bytes: u64,
}

pub(crate) async fn state(
    kvs: &aws_sdk_cloudfrontkeyvaluestore::Client,
    arn: &str,
    endpoint: &str,
) -> Result<StoreState, ApiError> {
    let out = kvs
        .describe_key_value_store()
        .kvs_arn(arn)
        .send()
        .await
        .map_err(|e| {
            api_error(
                e,
                "cloudfront-keyvaluestore:DescribeKeyValueStore",
                arn.to_string(),
                endpoint,
            )
        })?;
    Ok(StoreState {
        etag: out.e_tag().to_string(),
        bytes: out.total_size_in_bytes().max(0) as u64,
    })
}

/// One batch as UpdateKeys items.
fn request_items(
    puts: Vec<(String, String)>,
    deletes: Vec<String>,
    arn: &str,
) -> Result<(Vec<PutKeyRequestListItem>, Vec<DeleteKeyRequestListItem>), ApiError> {
    let puts = puts
        .into_iter()
        .map(|(key, value)| {
            PutKeyRequestListItem::builder()
                .key(key)
                .value(value)
                .build()
        })
        .collect::<Result<Vec<_>, _>>();
    let deletes = deletes
        .into_iter()
        .map(|key| DeleteKeyRequestListItem::builder().key(key).build())
        .collect::<Result<Vec<_>, _>>();
    match (puts, deletes) {
        (Ok(puts), Ok(deletes)) => Ok((puts, deletes)),
        (Err(e), _) | (_, Err(e)) => Err(ApiError::Service {
            action: "cloudfront-keyvaluestore:UpdateKeys",
            resource: arn.to_string(),
            code: String::new(),
            detail: e.to_string(),
        }),
    }
}

/// What the store's marker says it holds: a table's hash, `updating`, or nothing.
async fn marker(
    kvs: &aws_sdk_cloudfrontkeyvaluestore::Client,
    arn: &str,
    endpoint: &str,
) -> Result<Option<String>, ApiError> {
    get(kvs, arn, MARKER, endpoint).await
}

/// The value of `key`, or `None` when the store has no such key.
pub(crate) async fn get(
    kvs: &aws_sdk_cloudfrontkeyvaluestore::Client,
    arn: &str,
    key: &str,
    endpoint: &str,
) -> Result<Option<String>, ApiError> {
    match kvs.get_key().kvs_arn(arn).key(key).send().await {
        Ok(out) => Ok(Some(out.value().to_string())),
        Err(err) => {
            let err = api_error(
                err,
                "cloudfront-keyvaluestore:GetKey",
                arn.to_string(),
                endpoint,
            );
            match err.code() {
                Some("ResourceNotFoundException") => Ok(None),
                _ => Err(err),
            }
        }
    }
}

/// What a store was observed to hold: its marker, and (when asked) every key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Observed {
    pub marker: Option<String>,
    pub keys: Option<Table>,
}

impl Observed {
    /// Whether the store holds `table`: its marker names it, and every key is as the table says
    /// when the keys were read.
    pub(crate) fn holds(&self, table: &Table) -> bool {
        self.marker.as_deref() == Some(table_hash(table).as_str())
            && self.keys.as_ref().is_none_or(|keys| keys == table)
    }
}

/// The marker of the store named `name` (none when the store does not exist), and with
/// `with_keys` every key: read on every push whose function reads a store, so a store a
/// cut-short push left half-written (or, with `--verify-remote`, edited by hand) is repaired.
pub(crate) async fn observe(
    cloudfront: &aws_sdk_cloudfront::Client,
    kvs: &aws_sdk_cloudfrontkeyvaluestore::Client,
    name: &str,
    with_keys: bool,
    endpoint: &str,
) -> Result<Observed, ApiError> {
    let Some(store) = describe(cloudfront, name, endpoint).await? else {
        return Ok(Observed::default());
    };
    observe_at(kvs, store.arn(), with_keys, endpoint).await
}

/// The marker (and with `with_keys` every key) of the store at `arn`.
pub(crate) async fn observe_at(
    kvs: &aws_sdk_cloudfrontkeyvaluestore::Client,
    arn: &str,
    with_keys: bool,
    endpoint: &str,
) -> Result<Observed, ApiError> {
    let keys = async {
        match with_keys {
            true => list(kvs, arn, endpoint, is_route_key).await.map(Some),
            false => Ok(None),
        }
    };
    let (marker, keys) = tokio::join!(marker(kvs, arn, endpoint), keys);
    Ok(Observed {
        marker: marker?,
        keys: keys?,
    })
}

/// Every key and value the store holds whose key `wanted` accepts (`is_route_key`: production's
/// table, the marker aside).
pub(crate) async fn list(
    kvs: &aws_sdk_cloudfrontkeyvaluestore::Client,
    arn: &str,
    endpoint: &str,
    wanted: impl Fn(&str) -> bool,
) -> Result<Table, ApiError> {
    let mut table = Table::new();
    let mut pages = kvs
        .list_keys()
        .kvs_arn(arn)
        .max_results(BATCH as i32)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            api_error(
                e,
                "cloudfront-keyvaluestore:ListKeys",
                arn.to_string(),
                endpoint,
            )
        })?;
        // Production passes `is_route_key`: keys others wrote into the store (another tool,
        // previews' namespaces) are never listed, so never deleted.
        for item in page.items() {
            if wanted(item.key()) {
                table.insert(item.key().to_string(), item.value().to_string());
            }
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(n: usize) -> Table {
        (0..n)
            .map(|i| (format!("/p{i}"), format!("/p{i}.html")))
            .collect()
    }

    #[test]
    fn batches_carry_the_difference_and_the_marker_last() {
        let (old, new) = (table(3), table(4));
        let one = batches(&old, &new);
        assert_eq!(one.len(), 1, "one batch: the marker goes with it");
        assert_eq!(
            one[0].0,
            [
                ("/p3".to_string(), "/p3.html".to_string()),
                (MARKER.to_string(), table_hash(&new))
            ]
        );
        let many = batches(&Table::new(), &table(120));
        assert_eq!(many.len(), 3);
        assert!(many.iter().all(|(p, d)| p.len() + d.len() <= BATCH));
        assert_eq!(
            many[0].0.last().unwrap().1,
            UPDATING,
            "marked as being updated first"
        );
        assert_eq!(many[2].0.last().unwrap().1, table_hash(&table(120)));
        let shrink = batches(&table(120), &table(2));
        let deleted: usize = shrink.iter().map(|(_, d)| d.len()).sum();
        assert_eq!(deleted, 118);
        assert_eq!(batches(&table(5), &table(5)).len(), 1, "only the marker");
    }

    #[test]
    fn limits_name_what_is_too_big() {
        assert!(check_limits(&table(1000)).is_ok());
        let long: Table = [("/".to_string() + &"a".repeat(600), "/x.html".to_string())].into();
        assert!(check_limits(&long)
            .unwrap_err()
            .to_string()
            .contains("512-byte key limit"));
        let huge: Table = (0..20_000)
            .map(|i| {
                (
                    format!("/{}/{i}", "d".repeat(200)),
                    format!("/{}/{i}.html", "d".repeat(200)),
                )
            })
            .collect();
        let err = check_limits(&huge).unwrap_err().to_string();
        assert!(
            err.contains("20000 URLs") && err.contains("5242880"),
            "{err}"
        );
    }
}
