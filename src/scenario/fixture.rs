//! A tiny scenario for unit tests: each test overrides only what it is about.

use std::time::Duration;

use super::*;

impl Scenario {
    /// One region, one 10 s phase at 10 joins/s, 5 s fixed watch, embedded target.
    pub fn fixture() -> Scenario {
        Scenario {
            name: "fixture".into(),
            description: None,
            source: "fixture.yaml".into(),
            event: None,
            target: Target {
                base_url: BaseUrl::Embedded,
                allow_hosts: vec!["127.0.0.1".into(), "localhost".into()],
                headers: Vec::new(),
                header_names: Vec::new(),
                insecure_tls: false,
                tls_resume: false,
                timeout: Duration::from_secs(5),
                source_addrs: Vec::new(),
            },
            regions: vec![Region {
                name: "eu".into(),
                share: 1.0,
                weight: 1.0,
                network: None,
                base_url: None,
                placement: None,
            }],
            load: Load {
                scale: 1.0,
                max_viewers: 10_000,
                max_joins_per_sec: 10_000.0,
                phases: vec![Phase {
                    name: "steady".into(),
                    duration: Duration::from_secs(10),
                    joins_per_sec: 10.0,
                    ramp_to: None,
                }],
                abort_when: None,
                end: End::Cut,
            },
            viewer: Viewer {
                data: None,
                join: Vec::new(),
                watch: Watch {
                    protocol: WatchProtocol::None,
                    url: "/hls/stream.m3u8".into(),
                    duration: WatchTime::Fixed {
                        duration: Duration::from_secs(5),
                    },
                    rendition: Rendition::Lowest,
                },
                chat: None,
            },
            publishers: None,
            slo: Slo::default(),
            alerts: None,
            overrides: Vec::new(),
            search: None,
        }
    }

    pub fn with_regions(mut self, regions: &[(&str, f64)]) -> Scenario {
        let total: f64 = regions.iter().map(|r| r.1).sum();
        self.regions = regions
            .iter()
            .map(|(name, weight)| Region {
                name: (*name).into(),
                share: weight / total,
                weight: *weight,
                network: None,
                base_url: None,
                placement: None,
            })
            .collect();
        self
    }

    pub fn with_phases(mut self, phases: &[(&str, u64, f64, Option<f64>)]) -> Scenario {
        self.load.phases = phases
            .iter()
            .map(|(name, secs, rate, ramp_to)| Phase {
                name: (*name).into(),
                duration: Duration::from_secs(*secs),
                joins_per_sec: *rate,
                ramp_to: *ramp_to,
            })
            .collect();
        self
    }
}
