//! How many transfers are in flight: a window that grows while the store keeps up and halves
//! when it throttles (S3's 503 SlowDown), as TCP's congestion control does. Every request costs
//! a round trip, so on a distant store more requests in flight is what makes a push fast; a
//! throttling store gets fewer. Pure: `apply` reports each completed transfer, and whether the
//! store throttled since the last one.

use serde::Serialize;

/// The fewest transfers in flight a throttled push goes down to.
const FLOOR: usize = 4;
/// Where a window starts, and how far it grows when the user set no concurrency.
pub(crate) const START: usize = 64;
pub(crate) const MAX: usize = 128;
/// A plan with at most this many transfers starts them all at once: growing from START would
/// spend two or three round trips on a plan that fits in one (a rebuild's 200-odd assets).
/// S3 takes 3,500 PUTs/s per prefix, so 256 in flight at 30 ms stays below its throttling pace,
/// and a store that throttles all the same halves the window as usual.
pub(crate) const ALL_AT_ONCE: usize = 256;

#[derive(Debug, Clone)]
pub(crate) struct Window {
    limit: usize,
    max: usize,
    /// Below it the window grows by one per transfer (doubling per round trip); above it by one
    /// per window of transfers.
    threshold: usize,
    /// Transfers completed since the window last grew, in the slow phase.
    credit: usize,
    /// The store's throttling count at the last completion.
    seen_throttles: u64,
    stats: WindowStats,
}

/// What the window did during a push (in the JSON report).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct WindowStats {
    pub start: usize,
    pub peak: usize,
    pub end: usize,
    /// Throttling answers the store gave (each retried by the SDK).
    pub throttled: u64,
}

impl Window {
    /// Starts at `start` transfers in flight and grows up to `max` (at least `start`).
    pub(crate) fn new(start: usize, max: usize) -> Window {
        let start = start.max(1);
        let max = max.max(start);
        Window {
            limit: start,
            max,
            threshold: max,
            credit: 0,
            seen_throttles: 0,
            stats: WindowStats {
                start,
                peak: start,
                end: start,
                throttled: 0,
            },
        }
    }

    /// The adaptive window for a plan of `transfers`: all of them at once when they fit under
    /// ALL_AT_ONCE, else from START up to MAX.
    pub(crate) fn for_plan(transfers: usize) -> Window {
        if transfers > START && transfers <= ALL_AT_ONCE {
            return Window::new(transfers, transfers);
        }
        Window::new(START, MAX)
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// A transfer completed; `throttled` is the store's count of throttling answers so far.
    pub(crate) fn completed(&mut self, throttled: u64) {
        let throttles = throttled.saturating_sub(self.seen_throttles);
        self.seen_throttles = self.seen_throttles.max(throttled);
        if throttles > 0 {
            self.stats.throttled += throttles;
            self.limit = (self.limit / 2).max(FLOOR.min(self.max));
            self.threshold = self.limit;
            self.credit = 0;
        } else if self.limit < self.threshold {
            self.limit += 1;
        } else {
            self.credit += 1;
            if self.credit >= self.limit {
                self.credit = 0;
                self.limit = (self.limit + 1).min(self.max);
            }
        }
        self.stats.peak = self.stats.peak.max(self.limit);
        self.stats.end = self.limit;
    }

    pub(crate) fn stats(&self) -> WindowStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_doubles_per_round_until_its_maximum() {
        let mut w = Window::new(32, 128);
        for _ in 0..32 {
            w.completed(0);
        }
        assert_eq!(w.limit(), 64, "one round of 32 transfers doubles it");
        for _ in 0..200 {
            w.completed(0);
        }
        assert_eq!(w.limit(), 128);
        assert_eq!(w.stats().peak, 128);
    }

    #[test]
    fn a_throttle_halves_it_then_it_grows_slowly() {
        let mut w = Window::new(32, 128);
        for _ in 0..64 {
            w.completed(0);
        }
        assert_eq!(w.limit(), 96);
        w.completed(2);
        assert_eq!(w.limit(), 48);
        for _ in 0..47 {
            w.completed(2);
        }
        assert_eq!(
            w.limit(),
            48,
            "past a throttle, one more per window of transfers"
        );
        w.completed(2);
        assert_eq!(w.limit(), 49);
        for n in 1..=10 {
            w.completed(2 + n);
        }
        assert_eq!(w.limit(), FLOOR, "never below the floor");
        assert_eq!(
            w.stats(),
            WindowStats {
                start: 32,
                peak: 96,
                end: FLOOR,
                throttled: 12
            }
        );
    }

    #[test]
    fn a_plan_that_fits_goes_at_once_and_a_larger_one_grows_from_the_start() {
        for (transfers, start, max) in [
            (0, START, MAX),
            (10, START, MAX),
            (START, START, MAX),
            (223, 223, 223),
            (ALL_AT_ONCE, ALL_AT_ONCE, ALL_AT_ONCE),
            (ALL_AT_ONCE + 1, START, MAX),
            (5_000, START, MAX),
        ] {
            let mut w = Window::for_plan(transfers);
            assert_eq!(w.limit(), start, "{transfers} transfers start");
            for _ in 0..1_000 {
                w.completed(0);
            }
            assert_eq!(w.limit(), max, "{transfers} transfers at most");
        }
        let mut w = Window::for_plan(223);
        w.completed(1);
        assert_eq!(w.limit(), 111, "a throttle halves it as any other");
    }

    #[test]
    fn a_fixed_window_stays_put_until_throttled() {
        let mut w = Window::new(8, 8);
        for _ in 0..100 {
            w.completed(0);
        }
        assert_eq!(w.limit(), 8);
        w.completed(1);
        assert_eq!(w.limit(), 4);
        w.completed(1);
        assert_eq!(w.limit(), 4, "the same count is not a new throttle");
    }
}
