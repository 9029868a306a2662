//! Each region's emulated network (from the resolved scenario in results.json), and the
//! findings that profile explains, so a report blames the emulated link, not the platform:
//!
//! - **SYN-retransmit tails.** With emulated loss, a lost SYN or SYN-ACK waits the 1 s initial
//!   retransmission timeout (RFC 6298; see `docs/network-emulation.md`). A connect tail at
//!   RTT + ≥ 1 s in a region with loss is that timeout, not the target's edges.
//! - **Link-limited stalls.** On an emulated bandwidth cap, segments that download slower than
//!   real time (download ratio p50 < 1) empty the buffer whatever the origin does.
//!
//! Anything else (a tail without emulated loss, stalls with fast downloads) is not explained
//! and keeps the platform wording.

use crate::format;
use crate::metrics::{Metric, RunResult, Stat};
use crate::scenario::NetworkProfile;

/// A region's emulated network as run.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub preset: Option<String>,
    pub rtt_ms: f64,
    pub jitter_ms: f64,
    pub loss_pct: f64,
    /// 0 = not limited.
    pub down_kbps: u64,
    pub up_kbps: u64,
}

impl Profile {
    fn from_scenario(n: &NetworkProfile) -> Profile {
        Profile {
            preset: n.preset.clone(),
            rtt_ms: n.rtt_ms,
            jitter_ms: n.jitter_ms,
            loss_pct: n.loss_pct,
            down_kbps: n.down_kbps,
            up_kbps: n.up_kbps,
        }
    }

    /// `rtt 180 ms ± 20 ms, 2% loss, 1,500 kbit/s down` (preset named when it came from one).
    pub fn words(&self) -> String {
        let kbps = |k: u64| {
            if k == 0 {
                "unlimited".to_string()
            } else {
                format!("{} kbit/s", format::count(k as f64))
            }
        };
        let mut s = format!(
            "rtt {} ± {}, {} loss, {} down, {} up",
            format::ms(self.rtt_ms),
            format::ms(self.jitter_ms),
            format::pct(self.loss_pct / 100.0),
            kbps(self.down_kbps),
            kbps(self.up_kbps)
        );
        if let Some(p) = &self.preset {
            s = format!("{p}: {s}");
        }
        s
    }
}

/// Every region in scenario order with its profile (`None`: this machine's own network).
pub fn profiles(r: &RunResult) -> Vec<(String, Option<Profile>)> {
    r.regions
        .iter()
        .map(|b| {
            let region = r
                .scenario
                .resolved
                .as_ref()
                .and_then(|s| s.regions.iter().find(|x| x.name == b.name));
            let profile = region.and_then(|x| x.network.as_ref().map(Profile::from_scenario));
            (b.name.clone(), profile)
        })
        .collect()
}

/// The local addresses viewers connected from (`target.source_addrs`), in words.
pub fn source_addrs(r: &RunResult) -> String {
    let addrs: Vec<String> = r
        .scenario
        .resolved
        .iter()
        .flat_map(|s| &s.target.source_addrs)
        .map(|a| a.to_string())
        .collect();
    if addrs.is_empty() {
        "the OS's choice".into()
    } else {
        addrs.join(", ")
    }
}

const CONNECTS: [Metric; 3] = [
    Metric::ConnectMs,
    Metric::ChatConnectMs,
    Metric::PublishConnectMs,
];
const STALLS: [Metric; 2] = [Metric::StallRatio, Metric::StallCount];

/// [`explains`] for a knee: judged on the scope's whole-run value of that gate when the run has
/// one (one second of a few samples may not have caught a retransmit), else the knee's own.
pub fn explains_knee(
    r: &RunResult,
    scope: &str,
    metric: Metric,
    stat: Stat,
    at_knee: f64,
) -> Option<String> {
    let whole = r
        .slo
        .iter()
        .find(|s| s.scope == scope && s.metric == metric && s.stat == stat)
        .and_then(|s| s.measured);
    explains(r, scope, metric, stat, Some(whole.unwrap_or(at_knee)))
}

/// Why `scope`'s finding on `metric`/`stat` (measured `measured`) is the emulated network's
/// doing, in words; `None` when the profile does not explain it. For `overall`, it is explained
/// when every region that failed the same gate is.
pub fn explains(
    r: &RunResult,
    scope: &str,
    metric: Metric,
    stat: Stat,
    measured: Option<f64>,
) -> Option<String> {
    if scope == "overall" {
        let failed: Vec<_> = r
            .slo
            .iter()
            .filter(|s| s.scope != "overall" && s.metric == metric && s.stat == stat && !s.passed)
            .collect();
        let why: Option<Vec<String>> = failed
            .iter()
            .map(|s| explains(r, &s.scope, metric, stat, s.measured))
            .collect();
        return why.filter(|w| !w.is_empty()).map(|w| w.join("; "));
    }
    let profile = profiles(r)
        .into_iter()
        .find(|(name, _)| name == scope)
        .and_then(|(_, p)| p)?;
    let tail = !matches!(stat, Stat::P50 | Stat::Min | Stat::Mean | Stat::Value);
    if CONNECTS.contains(&metric) && tail && profile.loss_pct > 0.0 {
        let m = measured?;
        // The initial RTO is 1 s; jitter and timer slack sit on either side of it.
        if m >= profile.rtt_ms + 900.0 {
            return Some(format!(
                "explained by {scope}'s emulated network ({}% loss): a lost SYN or SYN-ACK waits the 1 s initial retransmission timeout, so this tail is rtt {} + 1 s, not the target",
                profile.loss_pct,
                format::ms(profile.rtt_ms)
            ));
        }
    }
    if STALLS.contains(&metric) && profile.down_kbps > 0 {
        let b = r.regions.iter().find(|b| b.name == scope)?;
        let ratio = b.value(Metric::DownloadRatio, Stat::P50)?;
        let link = format::count(profile.down_kbps as f64);
        match b.value(Metric::LinkRatio, Stat::P50) {
            // What the link alone allowed: under real time, the link cannot carry the stream.
            Some(allowed) if allowed < 1.0 => {
                return Some(format!(
                    "explained by {scope}'s emulated {link} kbit/s link: it carries these segments at {allowed:.2}× real time at best (link ratio p50), so the buffer ran dry whatever the origin did (download ratio p50 {ratio:.2})"
                ));
            }
            // The link had room for the stream: slow downloads are the target's, not the link's.
            Some(_) => {}
            // Results from before `link_ratio` was recorded: the download ratio is all there is.
            None if ratio < 1.0 => {
                return Some(format!(
                    "explained by {scope}'s emulated {link} kbit/s link: segments downloaded slower than real time (download ratio p50 {ratio:.2}), so the buffer ran dry whatever the origin did"
                ));
            }
            None => {}
        }
    }
    None
}
