//! `preview deploy --wait`: KeyValueStore changes take seconds to reach the edge (AWS gives no
//! figure), so the preview's URL is asked until it answers with the new release, which the
//! function names in `x-spadeploy-release` on every preview answer.

use std::time::{Duration, Instant};

/// The header the function sets on a preview's answers.
pub(crate) const RELEASE_HEADER: &str = "x-spadeploy-release";

/// Asks `probe` (the release the URL answers with, if any) every `every` until it says
/// `release`; the time that took, or `None` once `timeout` passed.
pub(crate) fn wait_for(
    release: &str,
    timeout: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Option<String>,
) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if probe().as_deref() == Some(release) {
            return Some(started.elapsed());
        }
        if started.elapsed() + every > timeout {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// The release `url` answers with (its `x-spadeploy-release`), whatever the status.
pub(crate) fn served_release(agent: &ureq::Agent, url: &str) -> Option<String> {
    let response = match agent.get(url).call() {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(_) => return None,
    };
    response.header(RELEASE_HEADER).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_ends_when_the_new_release_answers_or_at_the_timeout() {
        let mut answers = vec![None, Some("old".to_string()), Some("new".to_string())].into_iter();
        let took = wait_for(
            "new",
            Duration::from_secs(1),
            Duration::from_millis(1),
            || answers.next().flatten(),
        );
        assert!(took.is_some());
        let never = wait_for(
            "new",
            Duration::from_millis(5),
            Duration::from_millis(1),
            || Some("old".to_string()),
        );
        assert_eq!(never, None);
    }
}
