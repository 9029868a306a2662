use super::*;
use crate::scenario::Scenario;

fn demo_like() -> Scenario {
    Scenario::fixture()
        .with_regions(&[("me", 45.0), ("sea", 35.0), ("latam", 20.0)])
        .with_phases(&[
            ("warmup", 20, 20.0, None),
            ("ramp", 30, 20.0, Some(120.0)),
            ("spike", 5, 400.0, None),
        ])
}

#[test]
fn counts_per_phase_and_region_match_the_plan_within_one_percent() {
    let plan = Plan::build(&demo_like(), 7);
    let mut counts = vec![vec![0u64; plan.phases.len()]; plan.regions.len()];
    for a in plan.arrivals() {
        counts[a.region as usize][a.phase as usize] += 1;
    }
    for e in plan.expectations() {
        let r = plan.regions.iter().position(|n| *n == e.region).unwrap();
        let p = plan
            .phases
            .iter()
            .position(|ph| ph.name == e.phase)
            .unwrap();
        let got = counts[r][p] as f64;
        let tolerance = (e.expected_arrivals * 0.01).max(2.0);
        assert!(
            (got - e.expected_arrivals).abs() <= tolerance,
            "{} {}: got {got}, expected {}",
            e.region,
            e.phase,
            e.expected_arrivals
        );
    }
    // warmup 400, ramp (20+120)/2*30 = 2100, spike 2000.
    assert!((plan.expected_arrivals() - 4500.0).abs() < 1e-6);
}

#[test]
fn arrivals_are_ordered_inside_their_phase_and_deterministic_for_a_seed() {
    let plan = Plan::build(&demo_like(), 42);
    let a: Vec<Arrival> = plan.arrivals().collect();
    let b: Vec<Arrival> = plan.arrivals().collect();
    assert_eq!(a, b);
    assert!(a.windows(2).all(|w| w[0].at <= w[1].at));
    for arrival in &a {
        let phase = &plan.phases[arrival.phase as usize];
        let t = arrival.at.as_secs_f64();
        assert!(t >= phase.start_s - 1e-9 && t <= phase.start_s + phase.duration_s + 1e-9);
    }
    let other: Vec<Arrival> = Plan::build(&demo_like(), 43).arrivals().collect();
    assert_ne!(a, other, "a different seed should move arrivals");
}

#[test]
fn a_ramp_is_linear() {
    let plan = Plan::build(
        &Scenario::fixture().with_phases(&[("ramp", 100, 0.0, Some(200.0))]),
        1,
    );
    // Λ(t) = t² for this ramp: half the arrivals by t = 70.7 s.
    let total = plan.arrivals().count() as f64;
    let first_half = plan
        .arrivals()
        .filter(|a| a.at.as_secs_f64() < 100.0 / 2f64.sqrt())
        .count() as f64;
    assert!((total - 10_000.0).abs() <= 1.0);
    assert!(
        (first_half / total - 0.5).abs() < 0.01,
        "{first_half}/{total}"
    );
}

#[test]
fn join_rate_cap_is_a_hard_ceiling() {
    let mut scenario = Scenario::fixture()
        .with_phases(&[("ramp", 10, 0.0, Some(100.0)), ("spike", 2, 1000.0, None)]);
    scenario.load.max_joins_per_sec = 50.0;
    let plan = Plan::build(&scenario, 3);
    assert!(plan.phases.iter().all(|p| p.capped));
    // Ramp: 0→50 over 5 s (125) + 50 × 5 s (250); spike: 50 × 2 s (100).
    assert!((plan.expected_arrivals() - 475.0).abs() < 1e-6);
    let mut per_second = vec![0u32; 12];
    for a in plan.arrivals() {
        per_second[a.at.as_secs() as usize] += 1;
    }
    assert!(per_second.iter().all(|&n| n <= 51), "{per_second:?}");
}

#[test]
fn watch_times_follow_median_and_p90() {
    let mut scenario = Scenario::fixture().with_phases(&[("steady", 100, 100.0, None)]);
    scenario.viewer.watch.duration = WatchTime::LogNormal {
        median: Duration::from_secs(60),
        p90: Duration::from_secs(240),
    };
    let plan = Plan::build(&scenario, 9);
    let mut watch: Vec<f64> = plan.arrivals().map(|a| a.watch_for.as_secs_f64()).collect();
    watch.sort_by(f64::total_cmp);
    let median = watch[watch.len() / 2];
    let p90 = watch[watch.len() * 9 / 10];
    assert!((median / 60.0 - 1.0).abs() < 0.08, "median {median}");
    assert!((p90 / 240.0 - 1.0).abs() < 0.1, "p90 {p90}");
}

#[test]
fn expected_concurrency_accounts_for_departures() {
    // 10/s for 100 s, everyone stays exactly 5 s: concurrency settles at 50.
    let scenario = Scenario::fixture().with_phases(&[("steady", 100, 10.0, None)]);
    let plan = Plan::build(&scenario, 1);
    let conc = plan.concurrency();
    assert!((conc.peak - 50.0).abs() < 1.0, "{conc:?}");
    assert!((conc.at_end - 50.0).abs() < 1.0, "{conc:?}");
    let e = &plan.expectations()[0];
    assert!((e.expected_peak_concurrency - 50.0).abs() < 1.0);
    assert!((e.peak_joins_per_sec - 10.0).abs() < 1e-9);
}

/// Regions are dealt per shard, so the shards together keep every instant, phase, viewer id
/// and watch time of the unsharded plan, and each region's count within N of it.
#[test]
fn the_planned_peak_is_capped_like_the_engine() {
    // 10/s for 100 s, 5 s each: 50 concurrent; a ramp past the join cap counts as the cap.
    let scenario = Scenario::fixture().with_phases(&[("steady", 100, 10.0, Some(40.0))]);
    let mut capped = scenario.clone();
    capped.load.max_joins_per_sec = 30.0;
    capped.load.max_viewers = 20;
    let peak = Plan::build(&capped, 1).peak();
    assert_eq!(peak.joins_per_sec, 30.0);
    assert_eq!(peak.viewers, 20.0);
    let free = Plan::build(&scenario, 1).peak();
    assert_eq!(free.joins_per_sec, 40.0);
    // The last 5 s of arrivals: 38.65 + 38.95 + 39.25 + 39.55 + 39.85.
    assert!((free.viewers - 196.25).abs() < 1e-6, "{}", free.viewers);
}

#[test]
fn lognormal_survival_meets_its_median_and_p90() {
    assert!((lognormal_survival(20.0, 45.0, 20.0) - 0.5).abs() < 1e-9);
    assert!((lognormal_survival(20.0, 45.0, 45.0) - 0.1).abs() < 1e-6);
    assert_eq!(lognormal_survival(20.0, 45.0, 0.0), 1.0);
}

#[test]
fn shards_partition_the_plan_exactly() {
    let whole: Vec<Arrival> = Plan::build(&demo_like(), 5).arrivals().collect();
    let mut joined: Vec<Arrival> = (1..=3)
        .flat_map(|i| {
            let plan = Plan::build(&demo_like(), 5).with_shard(Shard { index: i, count: 3 });
            plan.arrivals().collect::<Vec<_>>()
        })
        .collect();
    joined.sort_by_key(|a| a.viewer_id);
    let no_region = |a: &Arrival| Arrival { region: 0, ..*a };
    assert_eq!(
        joined.iter().map(no_region).collect::<Vec<_>>(),
        whole.iter().map(no_region).collect::<Vec<_>>()
    );
    for region in 0..3u16 {
        let count = |v: &[Arrival]| v.iter().filter(|a| a.region == region).count();
        assert!(
            count(&joined).abs_diff(count(&whole)) <= 3,
            "region {region}"
        );
    }
    assert!(
        "0/3".parse::<Shard>().is_err()
            && "4/3".parse::<Shard>().is_err()
            && "x".parse::<Shard>().is_err()
    );
    assert_eq!("2/8".parse::<Shard>(), Ok(Shard { index: 2, count: 8 }));
}

/// Issue 13: with 2 equal regions and 2 shards, one robin over all viewer ids dealt A, B, A, B
/// and shard 1 ran only A, shard 2 only B. Each shard must run an even mix of every region,
/// phase by phase, whatever the shard count.
#[test]
fn every_shard_runs_an_even_mix_of_regions() {
    let two = Scenario::fixture()
        .with_regions(&[("eu", 1.0), ("us", 1.0)])
        .with_phases(&[("warmup", 10, 10.0, None), ("spike", 5, 40.0, None)]);
    for (scenario, shards) in [
        (two, 2u64),
        (demo_like(), 2),
        (demo_like(), 3),
        (demo_like(), 4),
    ] {
        let whole = Plan::build(&scenario, 3);
        let shares: Vec<f64> = scenario.regions.iter().map(|r| r.share).collect();
        for index in 1..=shards {
            let plan = Plan::build(&scenario, 3).with_shard(Shard {
                index,
                count: shards,
            });
            let mine: Vec<Arrival> = plan.arrivals().collect();
            for phase in 0..whole.phases.len() as u16 {
                let in_phase: Vec<&Arrival> = mine.iter().filter(|a| a.phase == phase).collect();
                for (region, share) in shares.iter().enumerate() {
                    let got = in_phase
                        .iter()
                        .filter(|a| a.region as usize == region)
                        .count();
                    let want = in_phase.len() as f64 * share;
                    assert!(
                        (got as f64 - want).abs() <= 2.0,
                        "shard {index}/{shards}, phase {phase}, region {region}: {got} of {} (want {want:.1})",
                        in_phase.len()
                    );
                }
            }
        }
    }
}

#[test]
fn a_kubernetes_completion_index_counts_from_zero() {
    assert_eq!(Shard::parse("0/3", 0), Ok(Shard { index: 1, count: 3 }));
    assert_eq!(Shard::parse("2/3", 0), Ok(Shard { index: 3, count: 3 }));
    let e = Shard::parse("3/3", 0).expect_err("index 3 of 3 from 0");
    assert!(e.contains("between 0 and 2"), "{e}");
}

#[test]
fn region_slices_together_are_exactly_that_regions_arrivals() {
    let scenario = demo_like();
    let whole: Vec<Arrival> = Plan::build(&scenario, 9).arrivals().collect();
    let regions = Plan::build(&scenario, 9).regions.len();
    assert!(regions > 1, "the fixture needs several regions");
    for region in 0..regions as u16 {
        let mine: Vec<Arrival> = whole
            .iter()
            .filter(|a| a.region == region)
            .copied()
            .collect();
        let mut joined: Vec<Arrival> = (1..=3)
            .flat_map(|index| {
                let plan = Plan::build(&scenario, 9).with_region_slice(
                    1000,
                    crate::plan::RegionSlice {
                        region,
                        index,
                        count: 3,
                    },
                );
                let slice: Vec<Arrival> = plan.arrivals().collect();
                // Slices of one region differ by at most one arrival.
                assert!(slice.len().abs_diff(mine.len() / 3) <= 1);
                slice
            })
            .collect();
        joined.sort_by_key(|a| a.viewer_id);
        assert_eq!(joined, mine);
    }
}
