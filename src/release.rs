//! spadeploy's own record of what it wrote to a target, kept in the target under `.spadeploy/`.
//! It is what lets the planner know each object's sha256 and headers without a HEAD per object,
//! and without trusting an ETag to be an MD5.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::headers::ObjectHeaders;

/// Keys under this prefix (relative to the target) are spadeploy's state: never synced or deleted.
pub const STATE_PREFIX: &str = ".spadeploy/";
/// The record of the live deployment, relative to the target.
pub const LIVE_RECORD: &str = ".spadeploy/live.json";
const FORMAT: u32 = 1;

pub fn is_state_key(key: &str) -> bool {
    key.starts_with(STATE_PREFIX)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedObject {
    pub sha256: String,
    pub size: u64,
    /// The store's change token for the object as spadeploy wrote it (S3 ETag, or the local
    /// store's size+mtime). A listing that shows another token means someone else changed it.
    pub etag: String,
    #[serde(flatten)]
    pub headers: ObjectHeaders,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub format: u32,
    pub tool: String,
    pub pushed_at: String,
    /// Keys relative to the target.
    pub objects: BTreeMap<String, RecordedObject>,
}

#[derive(Debug, thiserror::Error)]
#[error("spadeploy's record {LIVE_RECORD} in the target is unreadable ({source}); delete it to make the next push re-upload everything")]
pub struct RecordError {
    source: serde_json::Error,
}

impl Record {
    pub fn new(objects: BTreeMap<String, RecordedObject>) -> Record {
        Record {
            format: FORMAT,
            tool: format!("spadeploy {}", env!("CARGO_PKG_VERSION")),
            pushed_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            objects,
        }
    }

    pub fn from_json(bytes: &[u8]) -> Result<Record, RecordError> {
        serde_json::from_slice(bytes).map_err(|source| RecordError { source })
    }

    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings, numbers and maps always serializes.
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let mut objects = BTreeMap::new();
        objects.insert(
            "index.html".to_string(),
            RecordedObject {
                sha256: "ab".into(),
                size: 2,
                etag: "\"e\"".into(),
                headers: ObjectHeaders {
                    content_type: "text/html; charset=utf-8".into(),
                    cache_control: "no-cache".into(),
                },
            },
        );
        let record = Record::new(objects);
        let back = Record::from_json(&record.to_json()).unwrap();
        assert_eq!(back, record);
        assert!(String::from_utf8(record.to_json())
            .unwrap()
            .contains("\"cache_control\": \"no-cache\""));
    }

    #[test]
    fn garbage_is_an_error_that_says_how_to_recover() {
        let err = Record::from_json(b"{not json").unwrap_err();
        assert!(err.to_string().contains("delete it"), "{err}");
    }

    #[test]
    fn state_keys_are_recognised() {
        assert!(is_state_key(".spadeploy/live.json"));
        assert!(!is_state_key("spadeploy/live.json"));
        assert!(!is_state_key("index.html"));
    }
}
