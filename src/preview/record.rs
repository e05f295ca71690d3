//! What a preview keeps in the site's KeyValueStore, pure: its route table under
//! `preview:<id>:<table>:` (the rules in chunks, one key per URL that names a page, as
//! production's table) and its pointer `preview:<id>`, written last and removed first. The
//! writes as UpdateKeys batches, the store's headroom, and which previews a gc removes.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cdn::kvs::{self, Batch, Table, MAX_STORE_BYTES, MAX_VALUE_BYTES};
use crate::cdn::routing::Routes;

use super::id::PreviewId;

/// Every preview key starts so; production's keys start with `/`.
pub(crate) const NAMESPACE: &str = "preview:";
/// Keys per UpdateKeys call.
const BATCH: usize = 50;
/// Hex characters of the table hash in key names: enough to keep a preview's tables apart.
const TABLE_HASH_LEN: usize = 12;

pub(crate) fn pointer_key(id: &PreviewId) -> String {
    format!("{NAMESPACE}{id}")
}

/// The preview a key belongs to, and the table it is part of (`None` for the pointer).
pub(crate) fn owner(key: &str) -> Option<(&str, Option<&str>)> {
    let rest = key.strip_prefix(NAMESPACE)?;
    Some(match rest.split_once(':') {
        Some((id, rest)) => (id, rest.split(':').next()),
        None => (rest, None),
    })
}

/// What the pointer says: where the preview's files are, which release and table are live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pointer {
    /// URL path of the preview's folder, e.g. `/_previews/pr-42/`: the edge puts it in front
    /// of what the preview's routing answers.
    pub prefix: String,
    pub release: String,
    /// The table's hash, naming its keys.
    pub table: String,
    /// Keys holding the rules, read in order.
    pub chunks: usize,
    /// Keys and bytes the table takes in the store (`preview list`).
    pub keys: usize,
    pub bytes: usize,
    /// Seconds since the epoch: first deployed, last deployed.
    pub created: u64,
    pub updated: u64,
    /// Basic-auth gate: the sha256 (hex) of the `Authorization` header viewers must send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
}

/// What a pointer's `auth` holds for `user:password`: the hash of the header a browser sends,
/// so the store never holds the password.
pub(crate) fn auth_hash(credentials: &str) -> String {
    let header = format!("Basic {}", aws_smithy_types::base64::encode(credentials));
    hex::encode(Sha256::digest(header.as_bytes()))
}

/// A preview's route table as store entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PreviewTable {
    pub hash: String,
    pub chunks: usize,
    pub entries: Table,
}

impl PreviewTable {
    /// The entries for `routes` (the preview's release, in the production site's URL space).
    pub(crate) fn of(id: &PreviewId, routes: &Routes) -> Result<PreviewTable, kvs::LimitError> {
        // Plain structs of strings and numbers always serialize.
        let rules = serde_json::to_string(routes).unwrap_or_default();
        let pages = routes.lookup_table();
        let mut digest = Sha256::new();
        digest.update(rules.as_bytes());
        digest.update(kvs::table_hash(&pages).as_bytes());
        let hash = hex::encode(digest.finalize())[..TABLE_HASH_LEN].to_string();
        let space = format!("{NAMESPACE}{id}:{hash}:");
        let chunks = chunk(&rules, MAX_VALUE_BYTES);
        let mut entries: Table = chunks
            .iter()
            .enumerate()
            .map(|(i, part)| (format!("{space}r{i}"), part.clone()))
            .collect();
        entries.extend(
            pages
                .into_iter()
                .map(|(url, page)| (format!("{space}{url}"), page)),
        );
        kvs::check_limits(&entries)?;
        Ok(PreviewTable {
            hash,
            chunks: chunks.len(),
            entries,
        })
    }

    pub(crate) fn bytes(&self) -> usize {
        entry_bytes(&self.entries)
    }
}

pub(crate) fn entry_bytes(entries: &Table) -> usize {
    entries.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// `text` in pieces of at most `max` bytes, cut on character boundaries.
fn chunk(text: &str, max: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    for c in text.chars() {
        if out
            .last()
            .is_some_and(|last| last.len() + c.len_utf8() > max)
        {
            out.push(String::new());
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

/// One write, in the order it must reach the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Write {
    Put(String, String),
    Delete(String),
}

/// Writes in order, packed into UpdateKeys calls (each all-or-nothing, so order only matters
/// across calls).
pub(crate) fn pack(writes: Vec<Write>) -> Vec<Batch> {
    writes
        .chunks(BATCH)
        .map(|chunk| {
            let mut batch: Batch = (Vec::new(), Vec::new());
            for write in chunk {
                match write {
                    Write::Put(k, v) => batch.0.push((k.clone(), v.clone())),
                    Write::Delete(k) => batch.1.push(k.clone()),
                }
            }
            batch
        })
        .collect()
}

/// A deploy's writes: the table's keys the store lacks, the pointer, then the keys of the
/// preview's earlier tables (`held`: what the store holds under the preview's id).
pub(crate) fn deploy_writes(
    id: &PreviewId,
    table: &PreviewTable,
    pointer: &Pointer,
    held: &Table,
) -> Vec<Write> {
    let pointer_key = pointer_key(id);
    let mut writes: Vec<Write> = table
        .entries
        .iter()
        .filter(|(k, v)| held.get(*k) != Some(*v))
        .map(|(k, v)| Write::Put(k.clone(), v.clone()))
        .collect();
    // Plain strings and numbers always serialize.
    let value = serde_json::to_string(pointer).unwrap_or_default();
    writes.push(Write::Put(pointer_key.clone(), value));
    writes.extend(
        held.keys()
            .filter(|k| **k != pointer_key && !table.entries.contains_key(*k))
            .map(|k| Write::Delete(k.clone())),
    );
    writes
}

/// A removal's writes: the pointer first (the preview answers 404 from then on), then the rest.
pub(crate) fn remove_writes(id: &PreviewId, held: &Table) -> Vec<Write> {
    let pointer_key = pointer_key(id);
    std::iter::once(pointer_key.clone())
        .filter(|k| held.contains_key(k))
        .chain(held.keys().filter(|k| **k != pointer_key).cloned())
        .map(Write::Delete)
        .collect()
}

/// Room left in a store of `used` bytes once `writes` are made: the puts count fully (an
/// overwritten key's old value is still counted until written over, so this errs safe); the
/// deletes come after the pointer, so they free nothing in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct Headroom {
    pub used: u64,
    pub adds: u64,
    pub limit: u64,
}

impl Headroom {
    pub(crate) fn of(used: u64, writes: &[Write]) -> Headroom {
        let adds = writes
            .iter()
            .map(|w| match w {
                Write::Put(k, v) => (k.len() + v.len()) as u64,
                Write::Delete(_) => 0,
            })
            .sum();
        Headroom {
            used,
            adds,
            limit: MAX_STORE_BYTES as u64,
        }
    }

    pub(crate) fn fits(&self) -> bool {
        self.used + self.adds <= self.limit
    }

    /// Bytes left after the writes (0 when they do not fit).
    pub(crate) fn left(&self) -> u64 {
        self.limit.saturating_sub(self.used + self.adds)
    }
}

/// The previews a gc removes: those last deployed more than `older_than` seconds before `now`,
/// except the ones kept (a workflow passes its open pull requests).
pub(crate) fn gc_select<'a>(
    previews: &'a [(PreviewId, u64)],
    now: u64,
    older_than: u64,
    keep: &BTreeSet<PreviewId>,
) -> Vec<&'a PreviewId> {
    previews
        .iter()
        .filter(|(id, updated)| !keep.contains(id) && now.saturating_sub(*updated) > older_than)
        .map(|(id, _)| id)
        .collect()
}

/// Every key of `listed` that belongs to preview `id`.
pub(crate) fn held_by(listed: &Table, id: &PreviewId) -> Table {
    listed
        .iter()
        .filter(|(k, _)| owner(k).is_some_and(|(owner, _)| owner == id.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::routing::RouteRules;

    fn id(s: &str) -> PreviewId {
        PreviewId::new(s).unwrap()
    }

    fn table(pages: &[&str]) -> PreviewTable {
        let routes = Routes::derive(&RouteRules::default(), "/", pages.iter().copied()).unwrap();
        PreviewTable::of(&id("pr-1"), &routes).unwrap()
    }

    fn pointer(table: &PreviewTable) -> Pointer {
        Pointer {
            prefix: "/_previews/pr-1/".into(),
            release: "r1".into(),
            table: table.hash.clone(),
            chunks: table.chunks,
            keys: table.entries.len(),
            bytes: table.bytes(),
            created: 1,
            updated: 2,
            auth: None,
        }
    }

    #[test]
    fn the_table_lives_in_the_preview_namespace_and_rules_are_chunked() {
        let t = table(&["index.html", "about.html"]);
        assert!(t.entries.keys().all(|k| k.starts_with("preview:pr-1:")));
        assert_eq!(
            t.entries[&format!("preview:pr-1:{}:/about", t.hash)],
            "/about.html"
        );
        let rules: String = (0..t.chunks)
            .map(|i| t.entries[&format!("preview:pr-1:{}:r{i}", t.hash)].clone())
            .collect();
        assert!(serde_json::from_str::<serde_json::Value>(&rules).is_ok());
        let long = chunk(&"é".repeat(700), 1024);
        assert!(long.iter().all(|c| c.len() <= 1024) && long.len() == 2);
        assert_eq!(owner("preview:pr-1"), Some(("pr-1", None)));
        assert_eq!(
            owner(&format!("preview:pr-1:{}:/a", t.hash)),
            Some(("pr-1", Some(t.hash.as_str())))
        );
        assert_eq!(owner("/about"), None);
    }

    #[test]
    fn the_pointer_is_written_after_the_table_and_old_keys_after_it() {
        let old = table(&["index.html", "old.html"]);
        let new = table(&["index.html", "new.html"]);
        let mut held = old.entries.clone();
        held.insert("preview:pr-1".into(), "{}".into());
        let writes = deploy_writes(&id("pr-1"), &new, &pointer(&new), &held);
        let at = |pred: &dyn Fn(&Write) -> bool| writes.iter().position(pred).unwrap();
        let pointer_at = at(&|w| matches!(w, Write::Put(k, _) if k == "preview:pr-1"));
        assert!(writes[..pointer_at]
            .iter()
            .all(|w| matches!(w, Write::Put(k, _) if k.contains(&new.hash))));
        assert!(writes[pointer_at + 1..]
            .iter()
            .all(|w| matches!(w, Write::Delete(k) if k.contains(&old.hash))));
        assert_eq!(writes.len(), new.entries.len() + 1 + old.entries.len());
        // The same table again: only the pointer.
        let mut same = new.entries.clone();
        same.insert("preview:pr-1".into(), "{}".into());
        assert_eq!(
            deploy_writes(&id("pr-1"), &new, &pointer(&new), &same).len(),
            1
        );
        let batches = pack(writes);
        assert!(batches.iter().all(|(p, d)| p.len() + d.len() <= 50));
    }

    #[test]
    fn removal_deletes_the_pointer_first() {
        let t = table(&["index.html"]);
        let mut held = t.entries.clone();
        held.insert("preview:pr-1".into(), "{}".into());
        let writes = remove_writes(&id("pr-1"), &held);
        assert_eq!(writes[0], Write::Delete("preview:pr-1".into()));
        assert_eq!(writes.len(), held.len());
        assert!(held_by(&held, &id("pr-2")).is_empty());
        assert_eq!(held_by(&held, &id("pr-1")).len(), held.len());
    }

    #[test]
    fn headroom_counts_every_put_and_refuses_past_five_megabytes() {
        let writes = vec![
            Write::Put("k".into(), "v".repeat(99)),
            Write::Delete("x".into()),
        ];
        let room = Headroom::of(1000, &writes);
        assert_eq!((room.adds, room.fits()), (100, true));
        assert_eq!(room.left(), MAX_STORE_BYTES as u64 - 1100);
        assert!(!Headroom::of(MAX_STORE_BYTES as u64 - 50, &writes).fits());
    }

    #[test]
    fn gc_removes_old_previews_except_the_kept() {
        let day = 86_400;
        let previews = vec![(id("pr-1"), 0), (id("pr-2"), 20 * day), (id("pr-3"), 0)];
        let keep = BTreeSet::from([id("pr-3")]);
        let gone = gc_select(&previews, 21 * day, 14 * day, &keep);
        assert_eq!(gone, [&id("pr-1")]);
    }
}
