//! Aligned text tables, rendered as Markdown (pipes) or plain terminal text.

/// Column alignment: numbers right, words left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

pub struct Table {
    headers: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[(&str, Align)]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.0.to_string()).collect(),
            align: headers.iter().map(|h| h.1).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn widths(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, c) in row.iter().enumerate() {
                if let Some(slot) = w.get_mut(i) {
                    *slot = (*slot).max(c.chars().count());
                }
            }
        }
        w
    }

    fn pad(text: &str, width: usize, align: Align) -> String {
        let fill = width.saturating_sub(text.chars().count());
        match align {
            Align::Left => format!("{text}{}", " ".repeat(fill)),
            Align::Right => format!("{}{text}", " ".repeat(fill)),
        }
    }

    /// A row's cells, each padded to its column's width and alignment.
    fn padded(&self, cells: &[String], w: &[usize]) -> Vec<String> {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| Self::pad(c, w[i], self.align[i]))
            .collect()
    }

    pub fn markdown(&self) -> String {
        let w = self.widths();
        let line = |cells: &[String]| format!("| {} |\n", self.padded(cells, &w).join(" | "));
        let mut out = line(&self.headers);
        let rule: Vec<String> = w
            .iter()
            .zip(&self.align)
            .map(|(n, a)| match a {
                Align::Left => format!(":{}", "-".repeat(n.saturating_sub(1).max(1))),
                Align::Right => format!("{}:", "-".repeat(n.saturating_sub(1).max(1))),
            })
            .collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }

    pub fn plain(&self) -> String {
        let w = self.widths();
        let line =
            |cells: &[String]| format!("  {}\n", self.padded(cells, &w).join("  ").trim_end());
        let mut out = line(&self.headers);
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align() {
        let mut t = Table::new(&[("region", Align::Left), ("p99", Align::Right)]);
        t.row(vec!["me-riyadh".into(), "12.0 ms".into()]);
        t.row(vec!["eu".into(), "7.50 ms".into()]);
        let md = t.markdown();
        let lens: Vec<usize> = md.lines().map(|l| l.chars().count()).collect();
        assert!(lens.iter().all(|&n| n == lens[0]), "{md}");
        assert!(md.contains("| eu        | 7.50 ms |"), "{md}");
    }
}
