//! Rendering plans and results: one report value, shown as a human table or as JSON; progress
//! bars on a terminal and plain progress lines in CI logs. Decides nothing.

use std::fmt;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::cdn::access_block::AccessBlockStep;
use crate::cdn::decide::{RoutingPlan, Step};
use crate::model::is_state_key;

use crate::sync::plan::{Action, Change, Drift, Kept, Phase, Plan, Reason};

/// How a command prints its result: for people, or as one JSON document on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Human,
    Json,
}

/// What a push or dry-run did (or would do). Serialized as the `--json` document; field names
/// are a public interface: add, never rename.
#[derive(Debug, Serialize)]
pub struct PushReport {
    pub ok: bool,
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
    /// `--verify-remote`: list each of them in the human output.
    #[serde(skip)]
    pub show_drift: bool,
    /// The site's address, when a distribution is known.
    pub url: Option<String>,
    /// Present when the push has a distribution.
    pub routing: Option<RoutingPlan>,
    pub invalidation: Option<InvalidationReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InvalidationReport {
    pub paths: Vec<String>,
    /// Set once created (not in a dry run).
    pub id: Option<String>,
    /// `--no-invalidate` (or `[cdn] invalidate = false`).
    pub skipped: bool,
    /// With `--wait`: CloudFront reported it completed.
    pub completed: bool,
}

#[derive(Debug, Serialize)]
pub struct ObjectEntry {
    pub key: String,
    pub size: u64,
    pub content_type: String,
    pub cache_control: String,
    pub reason: Reason,
    pub phase: Phase,
    /// False for header-only updates, which rewrite metadata without sending the content.
    pub sends_content: bool,
}

impl PushReport {
    pub fn new(target: String, plan: &Plan, files: usize, dry_run: bool) -> PushReport {
        let entries = |wanted: &[Action]| -> Vec<ObjectEntry> {
            plan.writes()
                .filter(|c| wanted.contains(&c.action))
                .map(ObjectEntry::from)
                .collect()
        };
        PushReport {
            ok: true,
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
            show_drift: false,
            url: None,
            routing: None,
            invalidation: None,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The Markdown summary: for `$GITHUB_STEP_SUMMARY` and `--summary-md`.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let title = match (self.dry_run, &self.restored) {
            (true, _) => "Plan (dry run, nothing changed)".to_string(),
            (false, Some(id)) => format!("Rolled back to release `{id}`"),
            (false, None) => "Deployed".to_string(),
        };
        md.push_str(&format!("### spadeploy: {title} → `{}`\n\n", self.target));
        md.push_str("| | |\n|---|---|\n");
        if let Some(release) = &self.release {
            md.push_str(&format!("| release | `{release}` |\n"));
        }
        let bytes = if self.dry_run {
            self.bytes_planned
        } else {
            self.bytes_uploaded
        };
        md.push_str(&format!(
            "| uploaded | {} ({}) |\n",
            self.upload.len(),
            human_bytes(bytes)
        ));
        md.push_str(&format!("| updated | {} |\n", self.update.len()));
        md.push_str(&format!("| deleted | {} |\n", self.delete.len()));
        md.push_str(&format!(
            "| kept for open sessions or protected | {} |\n",
            self.kept.len()
        ));
        md.push_str(&format!("| unchanged | {} |\n", self.unchanged));
        if let Some(inv) = &self.invalidation {
            let id = inv
                .id
                .as_deref()
                .map(|i| format!("`{i}` "))
                .unwrap_or_default();
            md.push_str(&format!("| invalidation | {id}{} |\n", inv.paths.join(" ")));
        }
        if let Some(url) = &self.url {
            md.push_str(&format!("| URL | {url} |\n"));
        }
        for warning in &self.warnings {
            md.push_str(&format!("\n> **Warning:** {warning}\n"));
        }
        let rows: Vec<String> = self
            .upload
            .iter()
            .map(|e| ("upload", e))
            .chain(self.update.iter().map(|e| ("update", e)))
            .map(|(action, e)| {
                format!(
                    "| {action} | `{}` | {} | {} | {} | {} |",
                    e.key,
                    human_bytes(e.size),
                    e.content_type,
                    e.cache_control,
                    e.reason
                )
            })
            .chain(
                self.delete
                    .iter()
                    .map(|k| format!("| delete | `{k}` | | | | removed from build |")),
            )
            .collect();
        if !rows.is_empty() {
            md.push_str(&format!(
                "\n<details><summary>{} change(s)</summary>\n\n| action | key | size | content-type | cache-control | reason |\n|---|---|---|---|---|---|\n",
                rows.len()
            ));
            for row in rows.iter().take(500) {
                md.push_str(row);
                md.push('\n');
            }
            if rows.len() > 500 {
                md.push_str(&format!("\n…and {} more\n", rows.len() - 500));
            }
            md.push_str("\n</details>\n");
        }
        md
    }

    /// `name=value` lines for `$GITHUB_OUTPUT`.
    pub fn github_outputs(&self) -> String {
        let invalidation = self
            .invalidation
            .as_ref()
            .and_then(|i| i.id.clone())
            .unwrap_or_default();
        format!(
            "release-id={}\nuploaded={}\nupdated={}\ndeleted={}\ninvalidation-id={invalidation}\n",
            self.release.clone().unwrap_or_default(),
            self.upload.len(),
            self.update.len(),
            self.delete.len()
        )
    }
}

impl From<&Change> for ObjectEntry {
    fn from(change: &Change) -> ObjectEntry {
        let headers = change.headers();
        ObjectEntry {
            key: change.key.clone(),
            size: change.size,
            content_type: headers.map(|h| h.content_type.clone()).unwrap_or_default(),
            cache_control: headers.map(|h| h.cache_control.clone()).unwrap_or_default(),
            reason: change.reason.clone(),
            phase: change.phase,
            sends_content: change.sends_content(),
        }
    }
}

impl fmt::Display for PushReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = match (self.dry_run, &self.restored) {
            (true, _) => "Plan (dry run, nothing was changed)".to_string(),
            (false, Some(id)) => format!("Rolled back to release {id}"),
            (false, None) => "Pushed".to_string(),
        };
        writeln!(f, "{title}: {}", self.target)?;
        let mut rows: Vec<[String; 6]> = Vec::new();
        for (label, entries) in [("upload", &self.upload), ("update", &self.update)] {
            for e in entries {
                let action = match (e.sends_content, &e.reason) {
                    (true, _) => label,
                    (false, Reason::HeadersChanged(_)) => "headers",
                    (false, _) => "restore",
                };
                rows.push([
                    action.into(),
                    human_bytes(e.size),
                    e.key.clone(),
                    e.content_type.clone(),
                    e.cache_control.clone(),
                    e.reason.to_string(),
                ]);
            }
        }
        for key in &self.delete {
            rows.push([
                "delete".into(),
                String::new(),
                key.clone(),
                String::new(),
                String::new(),
                "removed from build".into(),
            ]);
        }
        for kept in &self.kept {
            let why = match kept.why {
                crate::sync::plan::KeepReason::Protected => "protected by the manifest",
                crate::sync::plan::KeepReason::NoDelete => "not in the build, kept (--no-delete)",
                crate::sync::plan::KeepReason::OpenSessions => {
                    "kept for open sessions: a release in the keep-window uses it"
                }
            };
            rows.push([
                "keep".into(),
                String::new(),
                kept.key.clone(),
                String::new(),
                String::new(),
                why.into(),
            ]);
        }
        write_table(f, &rows)?;
        let verb = if self.dry_run {
            "to upload"
        } else {
            "uploaded"
        };
        let updated = if self.dry_run { "to update" } else { "updated" };
        let deleted = if self.dry_run { "to delete" } else { "deleted" };
        write!(
            f,
            "{} {verb}, {} {updated}, {} {deleted}, {} unchanged",
            self.upload.len(),
            self.update.len(),
            self.delete.len(),
            self.unchanged
        )?;
        if !self.kept.is_empty() {
            write!(f, ", {} kept", self.kept.len())?;
        }
        let bytes = if self.dry_run {
            self.bytes_planned
        } else {
            self.bytes_uploaded
        };
        write!(
            f,
            "; {} {}",
            human_bytes(bytes),
            if self.dry_run { "to send" } else { "sent" }
        )?;
        write!(f, " ({} files scanned", self.files)?;
        if let Some(hashed) = self.files_hashed {
            write!(f, ", {hashed} hashed")?;
        }
        writeln!(f, ", {:.1} s)", self.duration_ms as f64 / 1000.0)?;
        if let Some(release) = &self.release {
            writeln!(f, "release {release} is live")?;
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        if self.show_drift {
            if self.drift.is_empty() {
                writeln!(f, "verify-remote: the target matches the live release")?;
            }
            for d in &self.drift {
                writeln!(f, "verify-remote: {} {} outside spadeploy", d.key, d.what)?;
            }
        }
        if let Some(routing) = &self.routing {
            write_routing(f, routing, self.dry_run)?;
        }
        if let Some(inv) = &self.invalidation {
            let paths = if inv.paths.is_empty() {
                "nothing to invalidate".to_string()
            } else {
                inv.paths.join(" ")
            };
            let state = match (&inv.id, inv.skipped, inv.completed) {
                (_, true, _) => " (skipped: --no-invalidate)".to_string(),
                (Some(id), _, true) => format!(" ({id}, completed)"),
                (Some(id), _, false) => format!(" ({id}, in progress)"),
                (None, _, _) if self.dry_run && !inv.paths.is_empty() => {
                    " (would invalidate)".to_string()
                }
                (None, _, _) => String::new(),
            };
            writeln!(f, "invalidation: {paths}{state}")?;
        }
        Ok(())
    }
}

/// A kebab-case enum as its serialized name.
fn name_of<T: Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// A routing plan on its own (`spadeploy routing`): what a push would change.
impl fmt::Display for RoutingPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_routing(f, self, true)
    }
}

fn write_routing(f: &mut fmt::Formatter<'_>, r: &RoutingPlan, dry_run: bool) -> fmt::Result {
    let step = |s: Step, verb: &str, done: &str| match (s, dry_run) {
        (Step::Unchanged, _) => "unchanged".to_string(),
        (Step::Update, true) => format!("would {verb}"),
        (Step::Update, false) => done.to_string(),
    };
    writeln!(
        f,
        "routing: distribution {} in {} mode (SPA origin: {})",
        r.distribution,
        r.mode,
        name_of(r.origin)
    )?;
    writeln!(
        f,
        "  function  {} ({}): {}{}",
        r.function.name,
        r.function.kind,
        name_of(r.function.action),
        r.function
            .arn
            .as_deref()
            .map(|a| format!(" -> {a}"))
            .unwrap_or_default()
    )?;
    for b in &r.behaviors {
        let what = if b.spa {
            "SPA"
        } else {
            "other origin, never modified"
        };
        writeln!(
            f,
            "  behavior  {:<12} {:<10} ({what})",
            b.path,
            name_of(b.action)
        )?;
    }
    writeln!(
        f,
        "  origin    {}",
        step(r.origin_switch, "switch", "switched")
    )?;
    writeln!(
        f,
        "  referer   {}",
        step(
            r.referer_header,
            "set the secret header",
            "secret header set"
        )
    )?;
    writeln!(f, "  website   {}", step(r.website, "update", "updated"))?;
    writeln!(
        f,
        "  public access block {}",
        match r.public_access_block {
            AccessBlockStep::Unchanged => "unchanged",
            AccessBlockStep::Relax if dry_run =>
                "would turn off BlockPublicPolicy/RestrictPublicBuckets for the Referer-limited policy (recorded in a bucket tag)",
            AccessBlockStep::Relax =>
                "turned off BlockPublicPolicy/RestrictPublicBuckets for the Referer-limited policy (recorded in a bucket tag)",
            AccessBlockStep::Restore if dry_run => "would turn back on what spadeploy turned off",
            AccessBlockStep::Restore => "turned back on what spadeploy turned off",
        }
    )?;
    writeln!(
        f,
        "  policy    {}",
        step(r.bucket_policy, "update", "updated")
    )?;
    for warning in &r.warnings {
        writeln!(f, "  warning: {warning}")?;
    }
    Ok(())
}

fn write_table(f: &mut fmt::Formatter<'_>, rows: &[[String; 6]]) -> fmt::Result {
    // Size right-aligned; the key column capped so one long key does not push every row.
    let columns = [
        Column::left(),
        Column::right(),
        Column::left().at_most(60),
        Column::left(),
        Column::left(),
        Column::left(),
    ];
    for line in aligned(rows, &columns) {
        writeln!(f, "  {line}")?;
    }
    Ok(())
}

/// How a column of a text table is laid out.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    right: bool,
    max: usize,
}

impl Column {
    pub fn left() -> Column {
        Column {
            right: false,
            max: usize::MAX,
        }
    }

    pub fn right() -> Column {
        Column {
            right: true,
            max: usize::MAX,
        }
    }

    fn at_most(self, max: usize) -> Column {
        Column { max, ..self }
    }
}

/// Rows laid out in columns two spaces apart, by the width each cell takes on a terminal (CJK
/// characters take two cells, combining marks none), trailing spaces trimmed.
pub fn aligned<const N: usize>(rows: &[[String; N]], columns: &[Column; N]) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let mut widths = [0usize; N];
    for row in rows {
        for ((width, cell), column) in widths.iter_mut().zip(row).zip(columns) {
            *width = (*width).max(cell.width()).min(column.max);
        }
    }
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for ((cell, width), column) in row.iter().zip(widths).zip(columns) {
                let padding = " ".repeat(width.saturating_sub(cell.width()));
                if column.right {
                    line.push_str(&padding);
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&padding);
                }
                line.push_str("  ");
            }
            line.trim_end().to_string()
        })
        .collect()
}

/// `spadeploy releases`: one line per release, the live one marked.
pub fn releases_table(list: &[crate::state::release::ReleaseSummary]) -> String {
    let header = ["release", "pushed at", "files", "source", "live"].map(String::from);
    let rows: Vec<[String; 5]> = std::iter::once(header)
        .chain(list.iter().map(|r| {
            [
                r.id.clone(),
                r.pushed_at.clone(),
                r.files.to_string(),
                r.source
                    .as_deref()
                    .map_or("-".to_string(), |s| s.chars().take(12).collect()),
                if r.live { "*" } else { "" }.to_string(),
            ]
        }))
        .collect();
    let columns = [
        Column::left(),
        Column::left(),
        Column::right(),
        Column::left(),
        Column::left(),
    ];
    aligned(&rows, &columns)
        .into_iter()
        .map(|line| line + "\n")
        .collect()
}

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Progress on stderr: a bar on a terminal, a line per 10% in logs, nothing when quiet.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    mode: ProgressMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProgressMode {
    Bars,
    Lines,
    Silent,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        let mode = if quiet {
            ProgressMode::Silent
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Bars
        } else {
            ProgressMode::Lines
        };
        Progress { mode }
    }

    /// Prints a one-off line (not in quiet mode).
    pub fn note(&self, message: &str) {
        if self.mode != ProgressMode::Silent {
            eprintln!("{message}");
        }
    }

    pub fn stage(&self, label: &'static str, items: u64, bytes: u64) -> Stage {
        let bar = (self.mode == ProgressMode::Bars && items > 0).then(|| {
            let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>10} [{bar:30}] {pos}/{len} files, {msg} {binary_bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(label);
            bar.set_length(items);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Stage {
            label,
            mode: self.mode,
            bar,
            items,
            done: AtomicU64::new(0),
            bytes_done: AtomicU64::new(0),
        }
    }
}

pub struct Stage {
    label: &'static str,
    mode: ProgressMode,
    bar: Option<ProgressBar>,
    items: u64,
    done: AtomicU64,
    bytes_done: AtomicU64,
}

impl Stage {
    pub fn inc(&self, bytes: u64) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let bytes_done = self.bytes_done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            bar.set_message(human_bytes(bytes_done));
        } else if self.mode == ProgressMode::Lines && self.items > 0 {
            // Small stages get one line at the end; large ones a line per 10%.
            let decile = done * 10 / self.items;
            let new_decile = decile != (done - 1) * 10 / self.items;
            if done == self.items || (self.items >= 100 && new_decile) {
                eprintln!(
                    "{}: {done}/{} files ({}%), {}",
                    self.label,
                    self.items,
                    decile * 10,
                    human_bytes(bytes_done)
                );
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_stay_aligned_with_wide_and_combining_characters() {
        let cell = |s: &str| s.to_string();
        let rows = [
            [cell("upload"), cell("1 B"), cell("café.txt")],
            // NFD: "e" + a combining acute accent, one column on screen.
            [cell("update"), cell("10 B"), cell("cafe\u{301}.txt")],
            [cell("upload"), cell("100 B"), cell("日本語.html")],
            [cell("delete"), cell(""), cell("a.js")],
        ];
        let columns = [Column::left(), Column::right(), Column::left()];
        let lines = aligned(&rows, &columns);
        use unicode_width::UnicodeWidthStr;
        let key_at: Vec<usize> = lines
            .iter()
            .zip(&rows)
            .map(|(line, row)| {
                line.find(row[2].as_str())
                    .map(|i| line[..i].width())
                    .unwrap()
            })
            .collect();
        assert!(key_at.iter().all(|&at| at == key_at[0]), "{lines:#?}");
        assert!(
            lines[0].starts_with("upload    1 B  café.txt"),
            "{lines:#?}"
        );
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(150 * 1024 * 1024), "150.0 MiB");
    }
}
