//! The end of a run: the report on stdout, and in GitHub Actions the step summary and outputs.

use super::*;

pub(super) fn finish(job: &PushJob, mut report: PushReport, started: Instant) -> Result<()> {
    report.duration_ms = started.elapsed().as_millis();
    match (job.output.print, job.output.format) {
        (false, _) => {}
        (true, OutputFormat::Json) => crate::report::stdout::println(report.to_json()),
        (true, OutputFormat::Human) => {
            crate::report::stdout::print(report.human(job.output.list_drift));
        }
    }
    // In GitHub Actions: a step summary and step outputs; anywhere: --summary-md FILE.
    let summary = std::env::var_os("GITHUB_STEP_SUMMARY").map(PathBuf::from);
    for path in summary.iter().chain(job.output.summary_md.iter()) {
        append(path, &report.markdown())?;
    }
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT").map(PathBuf::from) {
        append(&path, &report.github_outputs())?;
    }
    Ok(())
}

/// Appends to a file GitHub Actions reads after the step (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY).
pub(crate) fn append(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .with_context(|| format!("cannot write {}", path.display()))
}
