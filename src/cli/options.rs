//! What the user typed (`args.rs`) turned into each verb's options (`cmd::*`): the scenario
//! read, values parsed and checked against each other, in the order the user is told about
//! them. Nothing is measured or started here; errors name the flag.

use anyhow::Context;

use super::args::{
    CapacityArgs, CollectArgs, CompareArgs, DemoArgs, MergeArgs, QuickArgs, RenderArgs, RunArgs,
    ServeArgs, ValidateArgs,
};
use crate::cmd::capacity::CapacityOptions;
use crate::cmd::collect::CollectOptions;
use crate::cmd::compare::CompareOptions;
use crate::cmd::demo::DemoOptions;
use crate::cmd::k8s::RenderOptions;
use crate::cmd::live::LiveOptions;
use crate::cmd::merge::MergeOptions;
use crate::cmd::quick::QuickOptions;
use crate::cmd::run::{RegionRun, RunOptions};
use crate::cmd::serve::ServeOptions;
use crate::collector::StartGate;
use crate::engine::progress::ProgressMode;
use crate::plan::Shard;
use crate::report::compare::Tolerance;
use crate::scenario::{self, Scenario};
use crate::staging::StagingConfig;

impl DemoArgs {
    pub(super) fn options(self, progress: ProgressMode) -> DemoOptions {
        DemoOptions {
            out: self.out,
            seed: self.seed,
            capacity: self.capacity,
            progress,
        }
    }
}

impl RunArgs {
    /// The scenario (with `--set`/`--env-file`), then the shard and region slices it is run as.
    pub(super) fn options(self, progress: ProgressMode) -> anyhow::Result<(Scenario, RunOptions)> {
        let scenario = scenario::load_with(&self.scenario, &self.config.overrides())?;
        let shard = self
            .shard
            .map(|s| Shard::parse(&s, self.shard_base))
            .transpose()
            .map_err(|e| anyhow::anyhow!("--shard: {e}"))?;
        let region = match (self.region, self.region_shards, shard) {
            (Some(name), Some(layout), Some(local)) => Some(RegionRun {
                name,
                local,
                layout: parse_layout(&layout)?,
            }),
            _ => None,
        };
        let shard = match &region {
            Some(rr) => Some(rr.global(&scenario)?),
            None => shard,
        };
        if shard.is_some() && self.seed.is_none() {
            anyhow::bail!("--shard needs --seed: every shard must draw the same plan");
        }
        let opts = RunOptions {
            out: self.out,
            seed: self.seed,
            progress,
            drain: self.drain,
            embedded: StagingConfig {
                capacity: self.capacity,
                ll_hls: self.ll_hls,
                ..StagingConfig::default()
            },
            shard,
            start: StartGate::of(self.collector, self.start_at),
            region,
            live: LiveOptions {
                metrics_listen: self.live.metrics_listen,
                json_lines: self.live.json_lines,
            },
            render: true,
        };
        Ok((scenario, opts))
    }
}

impl CapacityArgs {
    pub(super) fn options(
        self,
        progress: ProgressMode,
    ) -> anyhow::Result<(Scenario, CapacityOptions)> {
        let scenario = scenario::load(&self.scenario)?;
        let opts = CapacityOptions {
            out: self.out,
            seed: self.seed,
            quiet: progress == ProgressMode::Quiet,
            drain: self.drain,
            embedded: StagingConfig {
                capacity: self.capacity,
                ..StagingConfig::default()
            },
        };
        Ok((scenario, opts))
    }
}

impl ValidateArgs {
    /// The scenario (with `--set`/`--env-file`) and the seed its plan is drawn with.
    pub(super) fn options(self) -> anyhow::Result<(Scenario, u64)> {
        let scenario = scenario::load_with(&self.scenario, &self.config.overrides())?;
        Ok((scenario, self.seed))
    }
}

impl ServeArgs {
    pub(super) fn options(self) -> ServeOptions {
        ServeOptions {
            listen: self.listen,
            capacity: self.capacity,
            segment_duration: self.segment_duration,
            bitrate_kbps: self.bitrate_kbps,
            stall_every: self.stall_every,
            stall_for: self.stall_for,
            segment_delay: self.segment_delay,
            ll_hls: self.ll_hls,
        }
    }
}

impl QuickArgs {
    /// The target checked first (credentials in the URL, a host that is not allowed: nothing
    /// is sent), then the rate and the headers.
    pub(super) fn options(self) -> anyhow::Result<QuickOptions> {
        crate::cmd::quick::check_target(&self.url, self.allow_hosts)?;
        if self.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
            anyhow::bail!("--rate must be a positive number of requests per second");
        }
        let headers = self
            .headers
            .iter()
            .map(|h| match h.split_once(':') {
                Some((name, value)) => Ok((name.trim().to_string(), value.trim().to_string())),
                None => Err(anyhow::anyhow!(
                    "--header expects `Name: value`, got a header without `:`"
                )),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(QuickOptions {
            url: self.url,
            connections: self.connections,
            keep_alive: !self.no_keepalive,
            duration: self.duration,
            rate: self.rate,
            timeout: self.timeout,
            insecure_tls: self.insecure,
            tls_resume: self.tls_resume,
            headers,
            out: self.out,
            json: self.json,
            fail_under: self.fail_under,
        })
    }
}

impl MergeArgs {
    pub(super) fn options(self) -> MergeOptions {
        MergeOptions {
            dirs: self.dirs,
            out: self.out,
            allow_partial: self.allow_partial,
        }
    }
}

impl RenderArgs {
    pub(super) fn options(self) -> RenderOptions {
        RenderOptions {
            scenario: self.scenario,
            shards: self.shards,
            image: self.image,
            namespace: self.namespace,
            out: self.out,
            seed: self.seed,
            collector_url: self.collector_url,
            per_region: self.per_region,
        }
    }
}

impl CollectArgs {
    pub(super) fn options(self, progress: ProgressMode) -> CollectOptions {
        CollectOptions {
            listen: self.listen,
            shards: self.shards,
            out: self.out,
            barrier_timeout: self.barrier_timeout,
            start_lead: self.start_lead,
            shard_timeout: self.shard_timeout,
            keep_serving: self.keep_serving,
            progress,
        }
    }
}

impl CompareArgs {
    pub(super) fn options(self) -> CompareOptions {
        CompareOptions {
            base: self.base,
            candidate: self.candidate,
            tolerance: Tolerance {
                pct: self.tolerance_pct,
                ms: self.tolerance_ms,
                error_pp: self.tolerance_error_pp,
            },
            out: self.out,
            chart: self.chart,
        }
    }
}

/// `--region-shards eu=4,sea=2`.
fn parse_layout(text: &str) -> anyhow::Result<Vec<(String, u64)>> {
    text.split(',')
        .map(|part| {
            let (name, n) = part.split_once('=').with_context(|| {
                format!("--region-shards: `{part}` is not REGION=N (e.g. eu=4,sea=2)")
            })?;
            let n: u64 = n.trim().parse().with_context(|| {
                format!("--region-shards: `{n}` in `{part}` is not a count (e.g. eu=4,sea=2)")
            })?;
            Ok((name.trim().to_string(), n))
        })
        .collect()
}
