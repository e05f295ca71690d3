//! The GitHub Actions renderings of a push: the Markdown step summary and `$GITHUB_OUTPUT` lines.

use super::push::PushReport;
use super::table::human_bytes;

/// Rows listed in the summary before "…and N more".
const MAX_ROWS: usize = 500;

impl PushReport {
    /// The Markdown summary: for `$GITHUB_STEP_SUMMARY` and `--summary-md`.
    pub(crate) fn markdown(&self) -> String {
        // The summary's own wording: "Deployed" reads better than "Pushed" on a run's page.
        let title = match (self.dry_run, &self.restored) {
            (true, _) => "Plan (dry run, nothing changed)".to_string(),
            (false, Some(id)) => format!("Rolled back to release `{id}`"),
            (false, None) => "Deployed".to_string(),
        };
        let mut md = format!("### spadeploy: {title} → `{}`\n\n", self.target);
        md.push_str("| | |\n|---|---|\n");
        if let Some(release) = &self.release {
            md.push_str(&format!("| release | `{release}` |\n"));
        }
        md.push_str(&format!(
            "| uploaded | {} ({}) |\n",
            self.upload.len(),
            human_bytes(self.bytes())
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
        md.push_str(&self.markdown_changes());
        md
    }

    /// The change table, folded.
    fn markdown_changes(&self) -> String {
        let rows: Vec<String> = self
            .rows()
            .into_iter()
            .filter(|row| row.action != "keep")
            .map(|row| {
                format!(
                    "| {} | `{}` | {} | {} | {} | {} |",
                    row.action, row.key, row.size, row.content_type, row.cache_control, row.reason
                )
            })
            .collect();
        if rows.is_empty() {
            return String::new();
        }
        let mut md = format!(
            "\n<details><summary>{} change(s)</summary>\n\n| action | key | size | content-type | cache-control | reason |\n|---|---|---|---|---|---|\n",
            rows.len()
        );
        for row in rows.iter().take(MAX_ROWS) {
            md.push_str(row);
            md.push('\n');
        }
        if rows.len() > MAX_ROWS {
            md.push_str(&format!("\n…and {} more\n", rows.len() - MAX_ROWS));
        }
        md.push_str("\n</details>\n");
        md
    }

    /// `name=value` lines for `$GITHUB_OUTPUT`.
    pub(crate) fn github_outputs(&self) -> String {
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
