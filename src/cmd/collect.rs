//! `collect` as a list of stages: refuse an `--out` that holds anything → serve the collector
//! → hold the start barrier (everyone registered, or the deadline) → while the shards run:
//! one merged progress line with the SLO gates so far (a gate that starts failing is said, with
//! its value), `abort_when` on the merged seconds, lost shards noticed → merge
//! the shards' streamed directories with `peakready merge`'s own code → say what is missing.
//!
//! The shards' files arrive byte for byte in `OUT/shards/I/`, so the merged directory is what
//! `peakready merge OUT/shards/* --out OUT` would write; `OUT/shards/` stays for re-merging.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::sync::watch;

use super::Exit;
use crate::collector::live;
use crate::collector::server::{self, Fate, Shared};
use crate::engine::progress::{self, ProgressMode};
use crate::format;
use crate::metrics::{LiveStats, RunStatus};
use crate::scenario::AbortWhen;

pub struct CollectOptions {
    pub listen: std::net::SocketAddr,
    pub shards: u64,
    pub out: PathBuf,
    pub barrier_timeout: Duration,
    pub start_lead: Duration,
    pub shard_timeout: Duration,
    pub keep_serving: bool,
    pub progress: ProgressMode,
}

pub async fn run(
    opts: CollectOptions,
    mut interrupts: watch::Receiver<u32>,
) -> anyhow::Result<Exit> {
    check_out_is_free(&opts.out)?;
    let shards_dir = opts.out.join("shards");
    std::fs::create_dir_all(&shards_dir)
        .with_context(|| format!("creating {}", shards_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("binding {}", opts.listen))?;
    let addr = listener.local_addr()?;
    let shared = Shared::new(opts.shards, shards_dir.clone());
    let app = server::router(shared.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    // One line on stdout with the address, so a script or test can read it.
    println!(
        "peakready collector on http://{addr}  (waiting for {} shard(s): run … --collector http://{addr})",
        opts.shards
    );

    // Stage: the start barrier.
    let (start_at, missing) = loop {
        if let Some(r) =
            server::maybe_release(&mut shared.lock(), opts.start_lead, opts.barrier_timeout)
        {
            break r;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            Ok(_) = interrupts.wait_for(|n| *n >= 1) => {
                server.abort();
                bail!("interrupted before the start barrier released; no shard started");
            }
        }
    };
    let identity = shared
        .lock()
        .identity
        .clone()
        .context("released without an identity")?;
    eprintln!(
        "collector: start barrier released: {} of {} shard(s) start at {}{}",
        opts.shards - missing.len() as u64,
        opts.shards,
        start_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        if missing.is_empty() {
            String::new()
        } else {
            format!("; missing: {} (the run is partial)", join(&missing))
        }
    );

    // Stage: the run, watched.
    let (live_tx, live_rx) = watch::channel(LiveStats::default());
    let planned = Duration::from_secs_f64(identity.planned_s.max(0.0));
    let display = progress::spawn(opts.progress, live_rx, identity.phases.clone(), planned);
    let abort = identity.abort_when.map(|(error_rate, after)| AbortWhen {
        error_rate,
        after: Duration::from_secs_f64(after),
    });
    let mut last_closed = None;
    let mut failing: Vec<String> = Vec::new();
    let mut stopped_at_collector = false;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let presses = *interrupts.borrow_and_update();
        let mut st = shared.lock();
        if presses >= 1 && !stopped_at_collector {
            stopped_at_collector = true;
            eprintln!(
                "collector: stopping every shard (Ctrl-C); a second Ctrl-C stops waiting for them"
            );
            st.stop
                .get_or_insert_with(|| "stopped at the collector (Ctrl-C)".into());
        }
        if presses >= 2 {
            for sh in st.shards.values_mut() {
                if sh.fate == Fate::Running {
                    sh.fate = Fate::Lost(
                        "still running when the collector was stopped (second Ctrl-C)".into(),
                    );
                }
            }
        }
        for i in server::mark_silent(&mut st, opts.shard_timeout) {
            eprintln!(
                "collector: shard {i} lost: no data for {} s",
                opts.shard_timeout.as_secs()
            );
        }
        let running: Vec<u64> = st
            .shards
            .values()
            .filter(|s| s.fate == Fate::Running)
            .map(|s| s.index)
            .collect();
        let streaming: Vec<u64> = st
            .shards
            .values()
            .filter(|s| matches!(s.fate, Fate::Running | Fate::Finished))
            .map(|s| s.index)
            .collect();
        if let Some(closed) = st.live.closed_by_all(&streaming) {
            if last_closed != Some(closed) {
                last_closed = Some(closed);
                st.live.fold(Some(closed));
                let mut stats = st.live.stats(closed);
                let gates = st.live.slo(&identity.regions, &identity.slo);
                announce_changes(&gates, &mut failing, closed + 1);
                stats.slo_words = Some(live::slo_words(&gates));
                if st.stop.is_none() {
                    if let Some(why) = crate::engine::should_abort(&stats, abort.as_ref()) {
                        eprintln!(
                            "collector: {why} (merged over every shard): stopping every shard"
                        );
                        st.stop = Some(format!("{why} (merged over every shard)"));
                    }
                }
                live_tx.send_replace(stats);
            }
        }
        if running.is_empty() {
            break;
        }
    }
    drop(live_tx);
    let _ = display.await;

    // Stage: merge what arrived.
    let (done, lost, skew_ms, stop, final_line) = {
        let mut st = shared.lock();
        // Every second that arrived, closed by all or not (a shard lost mid-second included:
        // this is the live view; the merge below counts finished shards only).
        st.live.fold(None);
        let final_slo = live::slo_words(&st.live.slo(&identity.regions, &identity.slo));
        let done: Vec<u64> = st
            .shards
            .values()
            .filter(|s| s.fate == Fate::Finished)
            .map(|s| s.index)
            .collect();
        let lost: Vec<(u64, String)> = st
            .shards
            .values()
            .filter_map(|s| match &s.fate {
                Fate::Finished => None,
                Fate::Lost(why) | Fate::Failed(why) => Some((s.index, why.clone())),
                Fate::Waiting | Fate::Running => Some((s.index, "did not finish".into())),
            })
            .map(|(i, why)| {
                let restarts = st.shards.get(&i).map_or(0, |s| s.refused_restarts);
                let why = if restarts > 0 {
                    format!("{why}; {restarts} restarted attempt(s) refused after the start")
                } else {
                    why
                };
                (i, why)
            })
            .collect();
        let wakes: Vec<f64> = st.shards.values().filter_map(|s| s.wake_late_ms).collect();
        let skew = (wakes.len() > 1).then(|| {
            wakes.iter().copied().fold(f64::MIN, f64::max)
                - wakes.iter().copied().fold(f64::MAX, f64::min)
        });
        let final_line = last_closed.map(|c| {
            let mut s = st.live.stats(c);
            s.slo_words = Some(final_slo);
            let peak = st
                .live
                .peak()
                .map(|(second, n)| format!("  (peak {n} viewers live at second {second})"))
                .unwrap_or_default();
            // The live view kept what a lost shard sent before it went silent; the merge cannot.
            let partial: Vec<u64> = st
                .shards
                .values()
                .filter(|s| s.fate != Fate::Finished && s.seconds_received > 0)
                .map(|s| s.index)
                .collect();
            let partial = if partial.is_empty() {
                String::new()
            } else {
                format!(
                    "\ncollector: that live line counts what shard(s) {} sent before they were lost; the merged results leave them out",
                    join(&partial)
                )
            };
            format!("{}{peak}{partial}", progress::status_line(&s, &identity.phases))
        });
        (done, lost, skew, st.stop.clone(), final_line)
    };
    if let Some(line) = final_line {
        eprintln!("collector: merged live figures at the last closed second: {line}");
    }
    let skew_note = skew_ms.map(|s| {
        format!(
            "start barrier: shards woke within {} of each other (start skew) at {}",
            crate::format::ms(s),
            start_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )
    });
    if let Some(n) = &skew_note {
        eprintln!("collector: {n}");
    }
    if done.is_empty() {
        let why: Vec<String> = lost
            .iter()
            .map(|(i, w)| format!("shard {i}: {w}"))
            .collect();
        server.abort();
        bail!(
            "no shard finished, nothing to merge ({}); what arrived is in {}",
            why.join("; "),
            shards_dir.display()
        );
    }
    let dirs: Vec<PathBuf> = done
        .iter()
        .map(|i| shards_dir.join(i.to_string()))
        .collect();
    let merged = merge_into(&dirs, &opts.out)?;
    let mut result = merged.result;
    let mut notes = Vec::new();
    if let Some(n) = skew_note {
        notes.push(n);
    }
    for (i, why) in &lost {
        notes.push(format!(
            "INCOMPLETE: shard {i} of {} is missing from this merged run: {why}",
            opts.shards
        ));
    }
    if let Some(why) = &stop {
        notes.push(format!("the collector stopped every shard: {why}"));
    }
    if !notes.is_empty() {
        result.notices.extend(notes);
        crate::report::write_results(&opts.out, &result)?;
        if let Err(e) = crate::report::render_all(&opts.out, &result) {
            eprintln!("peakready: warning: {e:#}");
        }
    }
    for w in &merged.warnings {
        eprintln!("peakready: warning: {w}");
    }
    let shown = crate::cmd::merge::Merged {
        result,
        warnings: merged.warnings,
    };
    println!("{}", crate::cmd::merge::summary(&shown, &opts.out));
    for (i, why) in &lost {
        println!("  shard {i} missing: {why}");
    }
    let r = &shown.result;
    let not_ready = r
        .readiness
        .as_ref()
        .is_some_and(|x| x.overall.verdict == crate::metrics::result::Verdict::NotReady);
    let passed = lost.is_empty() && r.status == RunStatus::Completed && r.slo_passed && !not_ready;

    if opts.keep_serving {
        shared.lock().results = Some(opts.out.clone());
        println!(
            "  Serving the results at http://{addr}/v1/results until stopped (Ctrl-C / SIGTERM)"
        );
        let _ = interrupts.wait_for(|n| *n >= 1).await;
    }
    server.abort();
    Ok(if passed { Exit::Success } else { Exit::Failed })
}

/// Say on stderr which gates started failing (or hold again) on the merged seconds, with the
/// value, at `at_s` seconds into the run; `failing` holds the names from the last call.
fn announce_changes(gates: &[crate::metrics::SloResult], failing: &mut Vec<String>, at_s: u64) {
    let now: Vec<(String, &crate::metrics::SloResult)> = gates
        .iter()
        .filter(|g| g.measured.is_some() && !g.passed)
        .map(|g| (live::gate_name(g), g))
        .collect();
    for (name, g) in &now {
        if !failing.contains(name) {
            eprintln!(
                "collector: SLO failing on the merged data at {at_s} s: {}: {} (measured {})",
                g.scope,
                format::gate(g.metric, g.stat, g.threshold),
                format::value(g.metric, g.measured.unwrap_or_default())
            );
        }
    }
    for name in failing.iter() {
        if !now.iter().any(|(n, _)| n == name) {
            eprintln!("collector: SLO holds again on the merged data at {at_s} s: {name}");
        }
    }
    *failing = now.into_iter().map(|(n, _)| n).collect();
}

/// Merge into `out` (which holds `shards/`): the merge writes a fresh directory beside it,
/// then its files move up, so `out` is one results directory with the inputs kept inside.
fn merge_into(dirs: &[PathBuf], out: &Path) -> anyhow::Result<crate::cmd::merge::Merged> {
    let tmp = out.join(".merging");
    let merged = crate::cmd::merge::merge(&crate::cmd::merge::MergeOptions {
        dirs: dirs.to_vec(),
        out: tmp.clone(),
        allow_partial: true,
    })?;
    for entry in std::fs::read_dir(&tmp).with_context(|| format!("reading {}", tmp.display()))? {
        let entry = entry?;
        let to = out.join(entry.file_name());
        std::fs::rename(entry.path(), &to)
            .with_context(|| format!("moving {} to {}", entry.path().display(), to.display()))?;
    }
    std::fs::remove_dir(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    Ok(merged)
}

fn check_out_is_free(out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        let mut entries =
            std::fs::read_dir(out).with_context(|| format!("reading --out {}", out.display()))?;
        if entries.next().is_some() {
            bail!(
                "--out {} already exists and is not empty; the collector writes a fresh results directory: choose a new path",
                out.display()
            );
        }
    }
    Ok(())
}

fn join(ids: &[u64]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
