//! Named network presets (`network: 3g`) and the values they expand to.
//!
//! Most values are published profiles, so a report can say what "3g" meant:
//! WebPageTest's connectivity profiles (`www/settings/connectivity.ini.sample` in
//! WPO-Foundation/webpagetest), Lighthouse's mobile throttling constants, and Firefox DevTools'
//! throttling table. Where no published profile exists the doc comment says the value is ours.
//! Jitter and loss are 0 unless the source gives them.

use super::model::NetworkProfile;

struct Preset {
    name: &'static str,
    rtt_ms: f64,
    jitter_ms: f64,
    loss_pct: f64,
    down_kbps: u64,
    up_kbps: u64,
}

/// Firefox DevTools "Wi-Fi" bandwidth (30 Mbps / 15 Mbps); RTT from WebPageTest "Cable"
/// (28 ms), because DevTools' 2 ms is a LAN, not a home line to a CDN edge.
const WIFI_GOOD: Preset = Preset {
    name: "wifi-good",
    rtt_ms: 28.0,
    jitter_ms: 0.0,
    loss_pct: 0.0,
    down_kbps: 30_000,
    up_kbps: 15_000,
};

/// WebPageTest "LTE": 12 Mbps / 12 Mbps / 70 ms RTT.
const LTE_GOOD: Preset = Preset {
    name: "lte-good",
    rtt_ms: 70.0,
    jitter_ms: 0.0,
    loss_pct: 0.0,
    down_kbps: 12_000,
    up_kbps: 12_000,
};

/// WebPageTest "4G": 9 Mbps / 9 Mbps / 170 ms RTT.
const G4_TYPICAL: Preset = Preset {
    name: "4g-typical",
    rtt_ms: 170.0,
    jitter_ms: 0.0,
    loss_pct: 0.0,
    down_kbps: 9_000,
    up_kbps: 9_000,
};

/// Lighthouse "slow 4G" (mobile throttling): 1.6 Mbps / 750 kbps / 150 ms RTT.
const G4_SLOW: Preset = Preset {
    name: "4g-slow",
    rtt_ms: 150.0,
    jitter_ms: 0.0,
    loss_pct: 0.0,
    down_kbps: 1_600,
    up_kbps: 750,
};

/// WebPageTest "4G" values (9 Mbps / 9 Mbps / 170 ms). No published regional profile exists;
/// this is a named alias so scenarios read well. Replace it with an explicit map when you have
/// measurements from the region.
const G4_MIDDLE_EAST: Preset = Preset {
    name: "4g-middle-east",
    rtt_ms: 170.0,
    jitter_ms: 0.0,
    loss_pct: 0.0,
    down_kbps: 9_000,
    up_kbps: 9_000,
};

/// WebPageTest "3G": 1.6 Mbps / 768 kbps / 300 ms RTT.
const G3: Preset = Preset {
    name: "3g",
    rtt_ms: 300.0,
    jitter_ms: 0.0,
    loss_pct: 0.0,
    down_kbps: 1_600,
    up_kbps: 768,
};

/// WebPageTest "3GFast": 1.6 Mbps / 768 kbps / 150 ms RTT.
const G3_FAST: Preset = Preset {
    name: "3g-fast",
    rtt_ms: 150.0,
    jitter_ms: 0.0,
    loss_pct: 0.0,
    down_kbps: 1_600,
    up_kbps: 768,
};

/// WebPageTest "3GSlow": 400 kbps / 400 kbps / 400 ms RTT, the published profile closest to
/// 3G in emerging markets.
const G3_EMERGING: Preset = Preset {
    name: "3g-emerging",
    rtt_ms: 400.0,
    jitter_ms: 0.0,
    loss_pct: 0.0,
    down_kbps: 400,
    up_kbps: 400,
};

/// WebPageTest "2G": 280 kbps / 256 kbps / 800 ms RTT.
const G2: Preset = Preset {
    name: "2g",
    rtt_ms: 800.0,
    jitter_ms: 0.0,
    loss_pct: 0.0,
    down_kbps: 280,
    up_kbps: 256,
};

/// Ours, not published: a crowded cell at a venue. WebPageTest "3GFast" bandwidth and RTT
/// (1.6 Mbps / 768 kbps / 150 ms) plus 50 ms jitter and 2 % loss.
const CONGESTED_EVENT: Preset = Preset {
    name: "congested-event",
    rtt_ms: 150.0,
    jitter_ms: 50.0,
    loss_pct: 2.0,
    down_kbps: 1_600,
    up_kbps: 768,
};

const PRESETS: &[Preset] = &[
    WIFI_GOOD,
    LTE_GOOD,
    G4_TYPICAL,
    G4_SLOW,
    G4_MIDDLE_EAST,
    G3,
    G3_FAST,
    G3_EMERGING,
    G2,
    CONGESTED_EVENT,
];

/// The preset called `name`, expanded; `None` if there is no such preset.
pub fn preset(name: &str) -> Option<NetworkProfile> {
    PRESETS
        .iter()
        .find(|p| p.name == name)
        .map(|p| NetworkProfile {
            preset: Some(p.name.to_string()),
            rtt_ms: p.rtt_ms,
            jitter_ms: p.jitter_ms,
            loss_pct: p.loss_pct,
            down_kbps: p.down_kbps,
            up_kbps: p.up_kbps,
            origin_rtt_ms: 0.0,
        })
}

/// Every preset name, in the order the docs list them.
pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_presets_exist() {
        for name in [
            "wifi-good",
            "lte-good",
            "4g-typical",
            "4g-slow",
            "3g",
            "3g-emerging",
            "2g",
            "congested-event",
            "4g-middle-east",
        ] {
            let p = preset(name).unwrap_or_else(|| panic!("missing preset {name}"));
            assert_eq!(p.preset.as_deref(), Some(name));
            assert!(p.rtt_ms > 0.0 && p.down_kbps > 0 && p.up_kbps > 0, "{name}");
        }
        let three_g = preset("3g").unwrap_or_else(|| panic!("3g"));
        assert_eq!(
            (three_g.down_kbps, three_g.up_kbps, three_g.rtt_ms),
            (1600, 768, 300.0)
        );
        assert!(preset("5g").is_none());
    }
}
