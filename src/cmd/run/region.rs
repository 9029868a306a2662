//! `run --region NAME`: one region's slice of a plan, placed among all shards of all regions.

use anyhow::{bail, Context};

use crate::scenario::Scenario;

/// `run --region NAME --shard I/N --region-shards A=n,B=m`.
#[derive(Debug, Clone)]
pub struct RegionRun {
    pub name: String,
    /// I/N among this region's shards.
    pub local: crate::plan::Shard,
    /// Every region's shard count, in the order given.
    pub layout: Vec<(String, u64)>,
}

impl RegionRun {
    /// This process's index among all shards of all regions (regions in scenario order).
    pub fn global(&self, scenario: &Scenario) -> anyhow::Result<crate::plan::Shard> {
        let source = &scenario.source;
        let names: Vec<&str> = scenario.regions.iter().map(|r| r.name.as_str()).collect();
        for (name, n) in &self.layout {
            if !names.contains(&name.as_str()) {
                bail!(
                    "--region-shards names `{name}`, which is not a region of {source} ({})",
                    names.join(", ")
                );
            }
            if *n == 0 {
                bail!("--region-shards {name}=0: every region needs at least one shard");
            }
        }
        let mut offset = 0;
        let mut total = 0;
        let mut mine = None;
        for name in &names {
            let n = self
                .layout
                .iter()
                .find(|(r, _)| r == name)
                .map(|(_, n)| *n)
                .with_context(|| format!("--region-shards does not give region `{name}` of {source} a shard count; give every region, e.g. {}", names.iter().map(|r| format!("{r}=1")).collect::<Vec<_>>().join(",")))?;
            if *name == self.name {
                if n != self.local.count {
                    bail!(
                        "--shard {}/{} but --region-shards gives {name} {n} shards",
                        self.local.index,
                        self.local.count
                    );
                }
                mine = Some(offset);
            }
            offset += n;
            total += n;
        }
        let offset = mine.with_context(|| {
            format!(
                "--region {}: not a region of {source} ({})",
                self.name,
                names.join(", ")
            )
        })?;
        Ok(crate::plan::Shard {
            index: offset + self.local.index,
            count: total,
        })
    }
}
