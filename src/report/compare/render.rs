//! How a [`Comparison`] reads: the text `compare` prints (its figures come from `compare.rs`).

use super::*;

impl Comparison {
    fn table(&self) -> Table {
        let mut t = Table::new(&[
            ("scope", Align::Left),
            ("metric", Align::Left),
            ("stat", Align::Left),
            ("base", Align::Right),
            ("candidate", Align::Right),
            ("Δ", Align::Right),
            ("Δ %", Align::Right),
            ("verdict", Align::Left),
        ]);
        for r in &self.rows {
            let is_rate = r.is_rate();
            let val = |v: Option<f64>| match v {
                None => "no samples".to_string(),
                Some(v) => format::value(r.metric, v),
            };
            let delta = match r.delta() {
                None => "–".to_string(),
                Some(d) if is_rate => format::pp(d),
                Some(d) => format!(
                    "{}{}",
                    if d >= 0.0 { "+" } else { "−" },
                    format::ms(d.abs())
                ),
            };
            let delta_pct = r
                .delta_pct()
                .map(|p| format::pct_change(p / 100.0))
                .unwrap_or_else(|| "–".into());
            let verdict = if r.regression {
                "REGRESSION".to_string()
            } else if r.base.is_none() || r.candidate.is_none() {
                "not comparable".to_string()
            } else if let Some((b, c)) = r.too_few {
                format!("not judged: {b} / {c} samples (< {})", min_samples(r.stat))
            } else {
                "ok".to_string()
            };
            t.row(vec![
                r.scope.clone(),
                r.metric.to_string(),
                r.stat.to_string(),
                val(r.base),
                val(r.candidate),
                delta,
                delta_pct,
                verdict,
            ]);
        }
        t
    }

    /// Verdict and peak concurrent viewers per scope, base beside candidate.
    fn scope_table(&self) -> Table {
        let mut t = Table::new(&[
            ("scope", Align::Left),
            ("base verdict", Align::Left),
            ("candidate verdict", Align::Left),
            ("change", Align::Left),
            ("base peak viewers", Align::Right),
            ("candidate peak viewers", Align::Right),
        ]);
        let words = |v: Option<Verdict>| v.map_or("–", |v| v.words()).to_string();
        let peak = |p: Option<u64>| p.map_or("–".to_string(), |p| format::count(p as f64));
        for s in &self.scopes {
            let change = match (s.base, s.candidate) {
                (Some(b), Some(c)) if c > b => "REGRESSION",
                (Some(b), Some(c)) if c < b => "improved",
                (Some(_), Some(_)) => "same",
                _ => "not comparable",
            };
            t.row(vec![
                s.scope.clone(),
                words(s.base),
                words(s.candidate),
                change.into(),
                peak(s.base_peak),
                peak(s.candidate_peak),
            ]);
        }
        t
    }

    fn verdict_line(&self) -> String {
        let w = |v: Option<Verdict>| v.map_or("–", |v| v.words());
        let mut which: Vec<String> = self
            .scopes
            .iter()
            .filter(|s| s.worse())
            .map(|s| format!("{} {} → {}", s.scope, w(s.base), w(s.candidate)))
            .collect();
        which.extend(
            self.rows
                .iter()
                .filter(|r| r.regression)
                .map(|r| format!("{} {} {}", r.scope, r.metric, r.stat)),
        );
        if let Some(c) = self.capacity.as_ref().filter(|c| c.regression) {
            which.insert(0, format!("capacity {} → {}", c.base, c.candidate));
        }
        if which.is_empty() {
            format!(
                "No regression ({} values and {} verdicts compared).",
                self.rows.len(),
                self.scopes.len()
            )
        } else {
            format!(
                "REGRESSION: {} worse beyond tolerance: {}.",
                which.len(),
                which.join(", ")
            )
        }
    }

    fn tolerance_line(&self) -> String {
        let t = self.tolerance;
        format!(
            "A latency regresses when worse by more than {} and more than {} (a percentile is judged when each run has at least {BEYOND} samples beyond it: 10 for p50, 100 for p95, 500 for p99); a rate (requests, viewers, stall ratio) when up by more than {} pp; a verdict when it gets worse.",
            format::pct(t.pct / 100.0),
            format::ms(t.ms),
            t.error_pp
        )
    }

    /// Aligned text for the terminal.
    pub fn plain(&self) -> String {
        let mut out = format!(
            "  base:      {}\n  candidate: {}\n\n",
            self.base, self.candidate
        );
        if let Some(c) = &self.capacity {
            out.push_str(&format!("  {}\n\n", c.words));
        }
        out.push_str(&self.scope_table().plain());
        out.push('\n');
        out.push_str(&self.table().plain());
        for w in &self.warnings {
            out.push_str(&format!("\n  warning: {w}"));
        }
        out.push_str(&format!(
            "\n  {}\n  {}\n",
            self.tolerance_line(),
            self.verdict_line()
        ));
        out
    }

    pub fn markdown(&self) -> String {
        let mut out = format!(
            "# peakready comparison\n\n- **Base:** {}\n- **Candidate:** {}\n",
            self.base, self.candidate
        );
        out.push_str(&format!(
            "- **Verdict:** {}\n- **Tolerances:** {}\n",
            self.verdict_line(),
            self.tolerance_line()
        ));
        if let Some(c) = &self.capacity {
            out.push_str(&format!("- **{}**\n", c.words));
        }
        for w in &self.warnings {
            out.push_str(&format!("- **Warning:** {w}\n"));
        }
        out.push('\n');
        out.push_str(&self.scope_table().markdown());
        out.push('\n');
        out.push_str(&self.table().markdown());
        out
    }
}
