//! Which `viewer.data` row a viewer takes, and whether a `unique` feeder has enough rows.
//!
//! Shard I of N owns the rows with index ≡ I−1 (mod N) and picks only among them, so shards
//! never share a row whatever the pick; without shards that is every row. Viewer ids in a
//! shard are I−1, I−1+N, …, so `viewer_id / N` numbers the shard's own viewers 0, 1, 2 …

use crate::plan::Plan;
use crate::scenario::{Data, Pick};

/// The row index for `viewer_id` (its shard and the shard count from the id's stride).
pub fn row_index(data: &Data, viewer_id: u64, shards: u64, seed: u64) -> Option<usize> {
    let shards = shards.max(1);
    let shard = viewer_id % shards;
    let n = data.rows as u64;
    // Rows of this shard: shard, shard + N, … below n.
    let own = n.saturating_sub(shard).div_ceil(shards);
    if own == 0 {
        return None;
    }
    let local = viewer_id / shards;
    let j = match data.pick {
        Pick::Sequential | Pick::Unique => local % own,
        Pick::Random => mix(seed ^ viewer_id.wrapping_mul(0x9E37_79B9_7F4A_7C15)) % own,
    };
    usize::try_from(shard + j * shards).ok()
}

fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A `unique` feeder must hold a row for every viewer the plan (or this shard of it) starts.
pub fn check_unique(data: &Data, plan: &Plan, source: &str) -> Result<(), String> {
    if data.pick != Pick::Unique {
        return Ok(());
    }
    // Arrivals are stratified: the count never exceeds the expectation rounded up.
    let total = plan.expected_arrivals().ceil() as u64;
    let (index, shards) = plan.shard.map_or((1, 1), |s| (s.index, s.count));
    let needed = total.saturating_sub(index - 1).div_ceil(shards);
    let own = (data.rows as u64)
        .saturating_sub(index - 1)
        .div_ceil(shards);
    if own >= needed {
        return Ok(());
    }
    let whose = if shards > 1 {
        format!(
            " (shard {index} of {shards} owns {own} of its {} rows)",
            data.rows
        )
    } else {
        String::new()
    };
    Err(format!(
        "{source}: viewer.data: `pick: unique` needs a row per viewer: the plan starts up to {needed} viewers{}, \
         but {} has {own} rows{whose}. Add rows, use `pick: sequential` (rows are reused), or plan fewer arrivals",
        if shards > 1 { " in this shard" } else { "" },
        data.file,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(rows: usize, pick: Pick) -> Data {
        Data {
            file: "a.csv".into(),
            pick,
            columns: vec!["user".into()],
            rows,
            values: std::sync::Arc::new(vec![vec![String::new()]; rows]),
        }
    }

    #[test]
    fn shards_take_disjoint_rows_whatever_the_pick() {
        for pick in [Pick::Sequential, Pick::Random, Pick::Unique] {
            for rows in [1usize, 7, 10, 100] {
                let d = data(rows, pick);
                let mut owner = vec![None; rows];
                for id in 0..300u64 {
                    let Some(r) = row_index(&d, id, 3, 42) else {
                        continue;
                    };
                    let shard = id % 3;
                    assert!(
                        owner[r].is_none_or(|s| s == shard),
                        "{pick:?} {rows}: row {r}"
                    );
                    owner[r] = Some(shard);
                }
            }
        }
        let d = data(10, Pick::Sequential);
        let rows: Vec<usize> = (0..12).filter_map(|id| row_index(&d, id, 1, 0)).collect();
        assert_eq!(rows, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    }
}
