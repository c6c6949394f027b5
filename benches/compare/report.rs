//! The results: samples per metric and init, printed as one Markdown table
//! per condition, each figure with its ratio to the best peer's.

use std::collections::BTreeMap;

use crate::Init;

/// A metric, its unit, and the samples of each init.
type Row = (String, &'static str, BTreeMap<&'static str, Vec<f64>>);

/// Samples per metric and init, in insertion order.
pub struct Report {
    /// The condition the figures were taken under (`idle`, `busy`).
    condition: &'static str,
    rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(condition: &'static str) -> Report {
        Report {
            condition,
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn add(&mut self, metric: &str, unit: &'static str, init: &'static str, value: f64) {
        let pos = match self.rows.iter().position(|r| r.0 == metric) {
            Some(pos) => pos,
            None => {
                self.rows.push((metric.to_string(), unit, BTreeMap::new()));
                self.rows.len() - 1
            }
        };
        self.rows[pos].2.entry(init).or_default().push(value);
    }

    /// A distribution as three rows: p50, p99 and max.
    pub fn add_dist(
        &mut self,
        metric: &str,
        unit: &'static str,
        init: &'static str,
        samples: &[f64],
    ) {
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        self.add(&format!("{metric} p50"), unit, init, percentile(&s, 50.0));
        self.add(&format!("{metric} p99"), unit, init, percentile(&s, 99.0));
        self.add(&format!("{metric} max"), unit, init, s[s.len() - 1]);
    }

    /// The table: every figure is the median of its samples, with its
    /// ratio to the lowest median among the peers (all metrics are
    /// "lower is better"), named in the last column.
    pub fn print(&self, inits: &[Init]) {
        let mut out = format!("\n### {}\n\n", self.condition);
        out += "| metric (median of runs; × the best peer) |";
        for init in inits {
            out += &format!(" {} |", init.name);
        }
        out += " best peer |\n|---|";
        for _ in inits {
            out += "---:|";
        }
        out += "---|\n";
        for (metric, unit, by_init) in &self.rows {
            out += &format!("| {metric} ({unit}) |");
            let best = inits
                .iter()
                .filter(|i| i.peer)
                .filter_map(|i| Some((i.name, median(by_init.get(i.name)?))))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            for init in inits {
                let Some(samples) = by_init.get(init.name) else {
                    out += " – |";
                    continue;
                };
                let m = median(samples);
                let ratio = match best {
                    Some((_, b)) if b > 0.0 => format!(" ({:.2}×)", m / b),
                    _ => String::new(),
                };
                out += &format!(" {}{ratio} |", fmt_num(m));
            }
            out += &format!(" {} |\n", best.map_or("–", |b| b.0));
        }
        for note in &self.notes {
            out += &format!("\n- {note}");
        }
        println!("{out}");
    }
}

fn fmt_num(v: f64) -> String {
    if v == 0.0 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    percentile(&s, 50.0)
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
