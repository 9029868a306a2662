//! Expected concurrent viewers of a plan, at any instant, in closed form:
//! C(t) = Σ over rate segments of ∫ λ(s) · S(t − s) ds, with λ linear in each segment and S the
//! watch-time survival function (the share of viewers still watching at an age).
//!
//! Why closed form: a per-second convolution costs the plan's seconds × the watch time's span,
//! and 16 bytes per second of plan (a one-year phase took 23 s and 499 MB in `validate`). With
//! ∫S and ∫u·S known exactly (a fixed watch time is a step; a log-normal one has partial
//! moments), one instant costs O(segments), and a phase's peak comes from a bounded number of
//! instants: what `validate`, the preflight checks, `capacity` and the report's planned peak
//! cost no longer depends on how long the plan is. Not Little's law (rate × mean watch), which
//! overstates short spikes, the thing this tool rehearses.

use std::f64::consts::SQRT_2;

use super::{lognormal_params, RateSegment};
use crate::scenario::WatchTime;

/// Instants sampled per phase for its peak (every whole second of a phase no longer than this),
/// then refined around the best one.
const SAMPLES_PER_PHASE: usize = 48;
/// Golden-section steps around the best sample: shrink the bracket by 0.618 each.
const REFINE_STEPS: usize = 24;

/// What a plan's concurrency comes to, all regions together.
#[derive(Debug, Clone, PartialEq)]
pub struct Concurrency {
    /// The highest expected concurrency (arrivals stop with the last phase, so it lies within
    /// one).
    pub peak: f64,
    /// The highest expected concurrency during each phase, in plan order.
    pub phase_peaks: Vec<f64>,
    /// Expected concurrency when the last phase ends.
    pub at_end: f64,
}

/// The watch-time distribution, ready for its integrals.
#[derive(Debug, Clone, Copy)]
enum Survival {
    /// Everyone stays exactly this many seconds.
    Fixed(f64),
    LogNormal {
        mu: f64,
        sigma: f64,
    },
}

impl Survival {
    fn of(watch: WatchTime) -> Survival {
        match watch {
            WatchTime::Fixed { duration } => Survival::Fixed(duration.as_secs_f64()),
            WatchTime::LogNormal { median, p90 } => {
                let (mu, sigma) = lognormal_params(median, p90);
                Survival::LogNormal { mu, sigma }
            }
        }
    }

    /// (∫₀ᵃ S(u) du, ∫₀ᵃ u·S(u) du). For the log-normal, by parts with the partial moments
    /// ∫₀ᵃ uⁿ f(u) du = e^(nμ + n²σ²/2) · Φ((ln a − μ)/σ − nσ).
    fn integrals(self, a: f64) -> (f64, f64) {
        if a <= 0.0 {
            return (0.0, 0.0);
        }
        match self {
            Survival::Fixed(d) => {
                let m = a.min(d);
                (m, m * m / 2.0)
            }
            Survival::LogNormal { mu, sigma } => {
                let z = (a.ln() - mu) / sigma;
                let phi = |x: f64| 0.5 * libm::erfc(-x / SQRT_2);
                let survival = 1.0 - phi(z);
                let m1 = (mu + sigma * sigma / 2.0).exp() * phi(z - sigma);
                let m2 = (2.0 * mu + 2.0 * sigma * sigma).exp() * phi(z - 2.0 * sigma);
                (a * survival + m1, a * a / 2.0 * survival + m2 / 2.0)
            }
        }
    }
}

/// Expected concurrency at `t` seconds from the start.
fn at(segments: &[RateSegment], s: Survival, t: f64) -> f64 {
    let mut c = 0.0;
    for seg in segments {
        let d = seg.end - seg.start;
        if t <= seg.start || d <= 0.0 {
            continue;
        }
        // With age u = t − s, the rate is λ(t − u) = a − k·u over ages [u0, u1].
        let k = (seg.to_rate - seg.from_rate) / d;
        let a = seg.from_rate + k * (t - seg.start);
        let (u0, u1) = ((t - seg.end).max(0.0), t - seg.start);
        let (i0_lo, i1_lo) = s.integrals(u0);
        let (i0_hi, i1_hi) = s.integrals(u1);
        c += a * (i0_hi - i0_lo) - k * (i1_hi - i1_lo);
    }
    c.max(0.0)
}

/// The highest expected concurrency in `[from, to]`: evenly spaced samples (whole seconds in a
/// short phase), then golden-section refinement inside the best sample's neighbours.
fn peak_in(c: &dyn Fn(f64) -> f64, from: f64, to: f64) -> f64 {
    let span = to - from;
    if span.is_nan() || span <= 0.0 {
        return c(from);
    }
    let n = SAMPLES_PER_PHASE.min(span.ceil() as usize).max(1);
    let step = span / n as f64;
    let (mut best_i, mut best) = (0, c(from));
    for i in 1..=n {
        let v = c(from + step * i as f64);
        if v > best {
            (best_i, best) = (i, v);
        }
    }
    let mut lo = from + step * best_i.saturating_sub(1) as f64;
    let mut hi = (from + step * (best_i + 1) as f64).min(to);
    const G: f64 = 0.618_033_988_749_895;
    for _ in 0..REFINE_STEPS {
        let (x1, x2) = (hi - G * (hi - lo), lo + G * (hi - lo));
        let (v1, v2) = (c(x1), c(x2));
        best = best.max(v1).max(v2);
        if v1 >= v2 {
            hi = x2;
        } else {
            lo = x1;
        }
    }
    best
}

/// Concurrency of a plan given as rate segments, the phases' `(start, duration)` in seconds
/// and the watch time.
pub fn concurrency(
    segments: &[RateSegment],
    phases: &[(f64, f64)],
    watch: WatchTime,
) -> Concurrency {
    let s = Survival::of(watch);
    let c = |t: f64| at(segments, s, t);
    let phase_peaks: Vec<f64> = phases
        .iter()
        .map(|&(start, duration)| peak_in(&c, start, start + duration))
        .collect();
    let end = phases.iter().map(|(s, d)| s + d).fold(0.0, f64::max);
    Concurrency {
        peak: phase_peaks.iter().copied().fold(0.0, f64::max),
        phase_peaks,
        at_end: c(end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn constant(rate: f64, secs: f64) -> Vec<RateSegment> {
        vec![RateSegment {
            phase: 0,
            start: 0.0,
            end: secs,
            from_rate: rate,
            to_rate: rate,
        }]
    }

    /// The closed form against a fine numeric integration of the same definition.
    fn numeric(segments: &[RateSegment], watch: WatchTime, t: f64) -> f64 {
        let survival = |age: f64| match watch {
            WatchTime::Fixed { duration } => f64::from(u8::from(age < duration.as_secs_f64())),
            WatchTime::LogNormal { median, p90 } => {
                super::super::lognormal_survival(median.as_secs_f64(), p90.as_secs_f64(), age)
            }
        };
        let steps = 200_000;
        let dt = t / steps as f64;
        (0..steps)
            .map(|i| {
                let s = (i as f64 + 0.5) * dt;
                let rate = segments
                    .iter()
                    .find(|g| s >= g.start && s < g.end)
                    .map_or(0.0, |g| {
                        g.from_rate + (g.to_rate - g.from_rate) * (s - g.start) / (g.end - g.start)
                    });
                rate * survival(t - s) * dt
            })
            .sum()
    }

    #[test]
    fn matches_numeric_integration_for_ramps_and_both_watch_times() {
        let ramp = vec![
            RateSegment {
                phase: 0,
                start: 0.0,
                end: 30.0,
                from_rate: 2.0,
                to_rate: 40.0,
            },
            RateSegment {
                phase: 1,
                start: 30.0,
                end: 35.0,
                from_rate: 200.0,
                to_rate: 200.0,
            },
        ];
        let watches = [
            WatchTime::Fixed {
                duration: Duration::from_secs(12),
            },
            WatchTime::LogNormal {
                median: Duration::from_secs(20),
                p90: Duration::from_secs(45),
            },
        ];
        for watch in watches {
            for t in [1.0, 10.0, 29.0, 33.0, 60.0, 300.0] {
                let exact = at(&ramp, Survival::of(watch), t);
                let num = numeric(&ramp, watch, t);
                assert!(
                    (exact - num).abs() <= 1e-3 * num.max(1.0),
                    "{watch:?} t={t}: {exact} vs {num}"
                );
            }
        }
    }

    #[test]
    fn a_steady_rate_settles_at_rate_times_watch_and_the_peak_is_found() {
        let watch = WatchTime::Fixed {
            duration: Duration::from_secs(5),
        };
        let c = concurrency(&constant(10.0, 100.0), &[(0.0, 100.0)], watch);
        assert!((c.peak - 50.0).abs() < 1e-9, "{c:?}");
        assert!((c.at_end - 50.0).abs() < 1e-9);
        // A 5 s spike of 400/s watched 20 s, inside a 24-hour plan: its peak is 2,000 at the
        // spike's end, found exactly, however long the rest of the plan is.
        let watch = WatchTime::Fixed {
            duration: Duration::from_secs(20),
        };
        let spike = RateSegment {
            phase: 1,
            start: 43_200.0,
            end: 43_205.0,
            from_rate: 400.0,
            to_rate: 400.0,
        };
        let quiet = RateSegment {
            phase: 0,
            start: 0.0,
            end: 43_200.0,
            from_rate: 0.0,
            to_rate: 0.0,
        };
        let c = concurrency(&[quiet, spike], &[(0.0, 43_200.0), (43_200.0, 5.0)], watch);
        assert!((c.phase_peaks[1] - 2000.0).abs() < 1e-6, "{c:?}");
    }
}
