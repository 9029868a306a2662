//! Checks made before any packet is sent: every host is allowed, and the machine has the
//! descriptors and ports the plan needs.

use anyhow::bail;
use url::Url;

use crate::engine;
use crate::plan::{planned_load, Plan, PlannedLoad};
use crate::scenario::{BaseUrl, Scenario};
use crate::sysinfo;

/// Every host a run will contact, checked before any packet is sent.
pub fn check_hosts(scenario: &Scenario) -> anyhow::Result<()> {
    let mut urls: Vec<(String, Url)> = Vec::new();
    if let BaseUrl::Url(u) = &scenario.target.base_url {
        urls.push(("target.base_url".into(), u.clone()));
    }
    for (i, r) in scenario.regions.iter().enumerate() {
        if let Some(BaseUrl::Url(u)) = &r.base_url {
            urls.push((format!("regions[{i}].base_url"), u.clone()));
        }
    }
    for (i, step) in scenario.viewer.join.iter().enumerate() {
        if let Ok(u) = Url::parse(&step.path) {
            urls.push((format!("viewer.join[{i}].path"), u));
        }
    }
    if let Ok(u) = Url::parse(&scenario.viewer.watch.url) {
        urls.push(("viewer.watch.url".into(), u));
    }
    if let Some(u) = scenario
        .viewer
        .chat
        .as_ref()
        .and_then(|c| Url::parse(&c.url).ok())
    {
        urls.push(("viewer.chat.url".into(), u));
    }
    if let Some(u) = scenario
        .publishers
        .as_ref()
        .and_then(|p| Url::parse(&p.url).ok())
    {
        urls.push(("publishers.url".into(), u));
    }
    for (key, url) in urls {
        let host = url.host_str().unwrap_or_default();
        if !engine::host_allowed(host, &scenario.target.allow_hosts) {
            bail!(
                "{}: {key}: host `{host}` is not in target.allow_hosts {:?}; nothing was sent. \
                 If this target is yours to load, add `{host}` to target.allow_hosts",
                scenario.source,
                scenario.target.allow_hosts
            );
        }
    }
    Ok(())
}

/// Descriptors and ephemeral ports a plan needs, checked before any packet: a run that would
/// hit `ulimit -n` or run out of ports half-way measures the generator's limits, not the
/// target's, so it is refused with what to change.
pub(crate) fn preflight(
    scenario: &Scenario,
    plan: &Plan,
    open_files_limit: u64,
) -> anyhow::Result<()> {
    let PlannedLoad {
        viewers,
        per_viewer,
        open_files: needed,
    } = planned_load(scenario, plan);
    if open_files_limit > 0 && needed > open_files_limit {
        bail!(
            "{}: this plan expects about {viewers} concurrent viewers, needing ~{needed} open files, \
             but this process may open {open_files_limit} (ulimit -n). Raise the hard limit \
             (ulimit -Hn, or LimitNOFILE= for a service), split the run with --shard I/N across \
             processes, or lower load.max_viewers",
            scenario.source
        );
    }
    if let Some(ports) = sysinfo::ephemeral_ports() {
        let sources = scenario.target.source_addrs.len().max(1) as u64;
        let to_one_target = viewers * per_viewer;
        if to_one_target > ports * sources {
            bail!(
                "{}: about {to_one_target} connections to one target need more than the {ports} ephemeral \
                 ports of {sources} source address(es). Add local addresses with target.source_addrs \
                 (e.g. 127.0.0.2-127.0.0.40 on loopback), widen net.ipv4.ip_local_port_range, or shard",
                scenario.source
            );
        }
    }
    Ok(())
}
