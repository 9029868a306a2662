//! Resource requests and limits of one generator pod, from the shard's planned peak and the
//! per-viewer costs measured in `docs/performance.md`. The figures are constants here so the
//! rendered manifests can quote them and a re-measurement changes one place.

use crate::plan::Plan;
use crate::scenario::Scenario;

/// Peak RSS per held viewer with requests queueing (100,000 viewers as six processes,
/// docs/performance.md "100,000 concurrent viewers"): the conservative figure, used for limits.
pub const KIB_PER_VIEWER_LOADED: f64 = 18.7;
/// Peak RSS per held viewer at 18,000 viewers against nginx (docs/performance.md "18,000
/// concurrent HLS viewers"): the request.
pub const KIB_PER_VIEWER_HELD: f64 = 8.0;
/// Runtime, histograms and report rendering at the end of a run.
pub const BASE_MIB: f64 = 64.0;
/// Generator CPU per join (connect + token request), docs/performance.md "Joins per second".
pub const CPU_US_PER_JOIN: f64 = 140.0;
/// Generator CPU per held HLS viewer: 18.7 CPU-s over 48.9 s for 18,000 viewers
/// (docs/performance.md), i.e. ~21 µs of CPU per viewer per second.
pub const CPU_US_PER_VIEWER_SECOND: f64 = 18.7 / 48.9 / 18_000.0 * 1e6;
/// CPU is requested at twice the estimate: a generator near 100 % starts viewers late and the
/// run is then flagged as generator-limited, which wastes the event rehearsal.
pub const CPU_HEADROOM: f64 = 2.0;

/// What one shard is expected to hold and what its pod should ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct Sizing {
    /// Planned peak concurrent viewers of one shard (+10 % for the draw, capped).
    pub viewers: u64,
    /// Planned peak joins per second of one shard.
    pub joins_per_sec: f64,
    /// Descriptors one shard needs (viewers, chat sockets, publishers, 256 spare).
    pub open_files: u64,
    pub memory_request_mib: u64,
    pub memory_limit_mib: u64,
    pub cpu_request_millis: u64,
    pub cpu_limit_millis: u64,
}

impl Sizing {
    /// `plan` is already sliced to one shard (and region, with `--per-region`).
    pub fn of(scenario: &Scenario, plan: &Plan) -> Sizing {
        let load = crate::plan::planned_load(scenario, plan);
        let joins_per_sec = plan
            .segments
            .iter()
            .map(|s| s.from_rate.max(s.to_rate))
            .fold(0.0f64, f64::max)
            * plan.fraction();
        let viewers = load.viewers as f64;
        let memory_request = BASE_MIB + viewers * KIB_PER_VIEWER_HELD / 1024.0;
        let memory_limit = BASE_MIB + viewers * KIB_PER_VIEWER_LOADED / 1024.0 * 1.5;
        let cpu = (joins_per_sec * CPU_US_PER_JOIN + viewers * CPU_US_PER_VIEWER_SECOND) / 1e3;
        let cpu_request = (cpu * CPU_HEADROOM).max(250.0);
        Sizing {
            viewers: load.viewers,
            joins_per_sec,
            open_files: load.open_files,
            memory_request_mib: round_up(memory_request, 16.0),
            memory_limit_mib: round_up(memory_limit.max(memory_request * 1.5), 16.0),
            cpu_request_millis: round_up(cpu_request, 50.0),
            cpu_limit_millis: round_up(cpu_request * 2.0, 50.0),
        }
    }

    /// The YAML comment that says where the numbers come from.
    pub fn comment(&self) -> String {
        format!(
            "# Sizing of one generator pod (peakready k8s render), from the shard's planned peak:\n\
             #   {} concurrent viewers (+10 % for the draw), {:.0} joins/s, ~{} open files.\n\
             #   memory request = {BASE_MIB} MiB + viewers x {KIB_PER_VIEWER_HELD} KiB (18,000 HLS viewers, docs/performance.md)\n\
             #   memory limit   = {BASE_MIB} MiB + viewers x {KIB_PER_VIEWER_LOADED} KiB x 1.5 (100,000 viewers, requests queued)\n\
             #   cpu request    = {CPU_HEADROOM} x (joins/s x {CPU_US_PER_JOIN} us + viewers x {:.1} us/s), at least 250m;\n\
             #                    limit = 2 x request (a throttled generator starts viewers late: reports flag it)\n\
             #   Kubernetes has no per-pod open-files setting: peakready raises its soft limit to the\n\
             #   hard limit of the container runtime and refuses to start, naming the need, when that is\n\
             #   below ~{} (containerd's default hard limit is far above it).\n",
            self.viewers,
            self.joins_per_sec,
            self.open_files,
            CPU_US_PER_VIEWER_SECOND,
            self.open_files,
        )
    }
}

fn round_up(v: f64, step: f64) -> u64 {
    ((v / step).ceil() * step) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Shard;

    fn scenario(rate: u32, max: u64) -> Scenario {
        let text = format!(
            "name: s\ntarget: {{ base_url: http://127.0.0.1:9, allow_hosts: [127.0.0.1] }}\n\
             load:\n  max_viewers: {max}\n  max_joins_per_sec: 100000\n  phases:\n    - {{ name: p, duration: 60s, joins_per_sec: {rate} }}\n\
             viewer:\n  watch: {{ protocol: hls, url: /x.m3u8, duration: 30s }}\n"
        );
        crate::scenario::parse_str(&text, "s.yaml", &|_| None).expect("scenario")
    }

    #[test]
    fn pods_grow_with_their_shard_of_the_peak() {
        let s = scenario(1000, 1_000_000);
        let one = Sizing::of(
            &s,
            &Plan::build(&s, 1).with_shard(Shard { index: 1, count: 1 }),
        );
        let ten = Sizing::of(
            &s,
            &Plan::build(&s, 1).with_shard(Shard {
                index: 1,
                count: 10,
            }),
        );
        // ~30,000 held viewers in one pod, a tenth of that in each of ten.
        assert!(one.viewers > 25_000 && one.viewers < 36_000, "{one:?}");
        assert!(
            ten.viewers * 9 < one.viewers && ten.viewers * 11 > one.viewers,
            "{ten:?}"
        );
        assert!(one.memory_request_mib as f64 >= BASE_MIB + one.viewers as f64 * 8.0 / 1024.0);
        assert!(one.memory_limit_mib > one.memory_request_mib);
        assert!(one.cpu_request_millis > ten.cpu_request_millis);
        assert!(one.cpu_limit_millis >= one.cpu_request_millis);
        assert_eq!(ten.cpu_request_millis % 50, 0);
        assert!(one.comment().contains("docs/performance.md"));
    }
}
