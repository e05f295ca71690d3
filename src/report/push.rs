//! What a push, rollback or prune did (or, in a dry run, would do): one value, rendered for people
//! here, as Markdown in `markdown`, and as the `--json` document.

use std::fmt;

use serde::Serialize;

use super::routing::write_routing;
use super::table::{human_bytes, write_table};
use crate::cdn::decide::RoutingPlan;
use crate::model::is_state_key;
use crate::sync::plan::{Action, Change, Drift, KeepReason, Kept, Phase, Plan, Reason};

/// Serialized as the `--json` document; field names are a public interface: add, never rename.
#[derive(Debug, Serialize)]
pub(crate) struct PushReport {
    pub dry_run: bool,
    pub target: String,
    pub upload: Vec<ObjectEntry>,
    pub update: Vec<ObjectEntry>,
    pub delete: Vec<String>,
    pub kept: Vec<Kept>,
    pub unchanged: usize,
    pub files: usize,
    /// Build files read and hashed by this run; the others were unchanged since an earlier run
    /// hashed them (the hash cache). Null when no build was scanned (rollback, prune).
    pub files_hashed: Option<usize>,
    /// Bytes this push sent (0 in a dry-run).
    pub bytes_uploaded: u64,
    /// Bytes the plan sends.
    pub bytes_planned: u64,
    pub duration_ms: u128,
    /// The release this push made live (not in a dry run, nor when nothing changed).
    pub release: Option<String>,
    /// For a rollback: the release whose content was restored.
    pub restored: Option<String>,
    pub warnings: Vec<String>,
    /// Objects changed or deleted outside spadeploy since the live release (repaired by a push).
    pub drift: Vec<Drift>,
    /// The site's address, when a distribution is known.
    pub url: Option<String>,
    /// Present when the push has a distribution.
    pub routing: Option<RoutingPlan>,
    pub invalidation: Option<InvalidationReport>,
    /// Transfers in flight: where the window started, its peak and end, and the throttling seen
    /// (not in a dry run, nor when nothing was sent).
    pub transfers: Option<crate::sync::window::WindowStats>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct InvalidationReport {
    pub paths: Vec<String>,
    /// Set once created (not in a dry run).
    pub id: Option<String>,
    /// `--no-invalidate` (or `[cdn] invalidate = false`).
    pub skipped: bool,
    /// With `--wait`: CloudFront reported it completed.
    pub completed: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct ObjectEntry {
    pub key: String,
    pub size: u64,
    pub content_type: String,
    pub cache_control: String,
    pub reason: Reason,
    pub phase: Phase,
    /// False for header-only updates, which rewrite metadata without sending the content.
    pub sends_content: bool,
}

impl From<&Change> for ObjectEntry {
    fn from(change: &Change) -> ObjectEntry {
        let headers = change.headers();
        ObjectEntry {
            key: change.key.clone(),
            size: change.size,
            content_type: headers
                .map(|h| h.content_type.to_string())
                .unwrap_or_default(),
            cache_control: headers
                .map(|h| h.cache_control.to_string())
                .unwrap_or_default(),
            reason: change.reason.clone(),
            phase: change.phase,
            sends_content: change.sends_content(),
        }
    }
}

/// One line of the change table, in the human output and the Markdown summary alike.
pub(super) struct Row {
    pub action: &'static str,
    pub size: String,
    pub key: String,
    pub content_type: String,
    pub cache_control: String,
    pub reason: String,
}

impl PushReport {
    pub(crate) fn new(target: String, plan: &Plan, files: usize, dry_run: bool) -> PushReport {
        let entries = |wanted: &[Action]| -> Vec<ObjectEntry> {
            plan.writes()
                .filter(|c| wanted.contains(&c.action))
                .map(ObjectEntry::from)
                .collect()
        };
        PushReport {
            dry_run,
            target,
            upload: entries(&[Action::Upload]),
            update: entries(&[Action::Update, Action::UpdateHeaders]),
            delete: plan
                .deletes()
                .filter(|c| !is_state_key(&c.key))
                .map(|c| c.key.clone())
                .collect(),
            kept: plan.kept.clone(),
            unchanged: plan.unchanged,
            files,
            files_hashed: None,
            bytes_uploaded: 0,
            bytes_planned: plan.transfer_bytes(),
            duration_ms: 0,
            release: None,
            restored: None,
            warnings: Vec::new(),
            drift: Vec::new(),
            url: None,
            routing: None,
            invalidation: None,
            transfers: None,
        }
    }

    /// The `--json` document: the report, and `ok` (an error prints `ok: false` instead).
    pub(crate) fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Document<'a> {
            ok: bool,
            #[serde(flatten)]
            report: &'a PushReport,
        }
        serde_json::to_string_pretty(&Document {
            ok: true,
            report: self,
        })
        .unwrap_or_default()
    }

    /// `planned` in a dry run, `done` otherwise.
    pub(super) fn tense<'a>(&self, planned: &'a str, done: &'a str) -> &'a str {
        if self.dry_run {
            planned
        } else {
            done
        }
    }

    /// Bytes sent, or to send in a dry run.
    pub(super) fn bytes(&self) -> u64 {
        if self.dry_run {
            self.bytes_planned
        } else {
            self.bytes_uploaded
        }
    }

    /// What happened, for a heading.
    pub(super) fn title(&self) -> String {
        match (self.dry_run, &self.restored) {
            (true, _) => "Plan (dry run, nothing was changed)".to_string(),
            (false, Some(id)) => format!("Rolled back to release {id}"),
            (false, None) => "Pushed".to_string(),
        }
    }

    /// Every write and delete, then what is kept and why.
    pub(super) fn rows(&self) -> Vec<Row> {
        let writes = [("upload", &self.upload), ("update", &self.update)]
            .into_iter()
            .flat_map(|(label, entries)| entries.iter().map(move |e| (label, e)))
            .map(|(label, e)| Row {
                action: match (e.sends_content, &e.reason) {
                    (true, _) => label,
                    (false, Reason::HeadersChanged(_)) => "headers",
                    (false, _) => "restore",
                },
                size: human_bytes(e.size),
                key: e.key.clone(),
                content_type: e.content_type.clone(),
                cache_control: e.cache_control.clone(),
                reason: e.reason.to_string(),
            });
        let other = |action, key: &String, reason: &str| Row {
            action,
            size: String::new(),
            key: key.clone(),
            content_type: String::new(),
            cache_control: String::new(),
            reason: reason.to_string(),
        };
        let deletes = self
            .delete
            .iter()
            .map(|key| other("delete", key, "removed from build"));
        let kept = self.kept.iter().map(|kept| {
            let why = match kept.why {
                KeepReason::Protected => "protected by the manifest",
                KeepReason::NoDelete => "not in the build, kept (--no-delete)",
                KeepReason::OpenSessions => {
                    "kept for open sessions: a release in the keep-window uses it"
                }
            };
            other("keep", &kept.key, why)
        });
        writes.chain(deletes).chain(kept).collect()
    }

    /// The human output; `list_drift` lists every object changed outside spadeploy.
    pub(crate) fn human(&self, list_drift: bool) -> Human<'_> {
        Human {
            report: self,
            list_drift,
        }
    }
}

/// The report as people read it in a terminal or a CI log.
pub(crate) struct Human<'a> {
    report: &'a PushReport,
    list_drift: bool,
}

impl fmt::Display for Human<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.report;
        writeln!(f, "{}: {}", r.title(), r.target)?;
        let rows: Vec<[String; 6]> = r
            .rows()
            .into_iter()
            .map(|row| {
                [
                    row.action.to_string(),
                    row.size,
                    row.key,
                    row.content_type,
                    row.cache_control,
                    row.reason,
                ]
            })
            .collect();
        write_table(f, &rows)?;
        write_summary(f, r)?;
        for warning in &r.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        if self.list_drift {
            if r.drift.is_empty() {
                writeln!(f, "verify-remote: the target matches the live release")?;
            }
            for d in &r.drift {
                writeln!(f, "verify-remote: {} {} outside spadeploy", d.key, d.what)?;
            }
        }
        if let Some(routing) = &r.routing {
            write_routing(f, routing, r.dry_run)?;
        }
        if let Some(invalidation) = &r.invalidation {
            write_invalidation(f, invalidation, r.dry_run)?;
        }
        Ok(())
    }
}

/// "3 uploaded, 1 updated, 0 deleted, 12 unchanged; 1.2 MiB sent (16 files scanned, …)".
fn write_summary(f: &mut fmt::Formatter<'_>, r: &PushReport) -> fmt::Result {
    write!(
        f,
        "{} {}, {} {}, {} {}, {} unchanged",
        r.upload.len(),
        r.tense("to upload", "uploaded"),
        r.update.len(),
        r.tense("to update", "updated"),
        r.delete.len(),
        r.tense("to delete", "deleted"),
        r.unchanged
    )?;
    if !r.kept.is_empty() {
        write!(f, ", {} kept", r.kept.len())?;
    }
    write!(
        f,
        "; {} {} ({} files scanned",
        human_bytes(r.bytes()),
        r.tense("to send", "sent"),
        r.files
    )?;
    if let Some(hashed) = r.files_hashed {
        write!(f, ", {hashed} hashed")?;
    }
    writeln!(f, ", {:.1} s)", r.duration_ms as f64 / 1000.0)?;
    if let Some(release) = &r.release {
        writeln!(f, "release {release} is live")?;
    }
    Ok(())
}

fn write_invalidation(
    f: &mut fmt::Formatter<'_>,
    inv: &InvalidationReport,
    dry_run: bool,
) -> fmt::Result {
    let paths = if inv.paths.is_empty() {
        "nothing to invalidate".to_string()
    } else {
        inv.paths.join(" ")
    };
    let state = match (&inv.id, inv.skipped, inv.completed) {
        (_, true, _) => " (skipped: --no-invalidate)".to_string(),
        (Some(id), _, true) => format!(" ({id}, completed)"),
        (Some(id), _, false) => format!(" ({id}, in progress)"),
        (None, _, _) if dry_run && !inv.paths.is_empty() => " (would invalidate)".to_string(),
        (None, _, _) => String::new(),
    };
    writeln!(f, "invalidation: {paths}{state}")
}
