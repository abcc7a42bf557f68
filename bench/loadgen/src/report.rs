//! The machine a run happened on, and number formatting for the Markdown tables.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::hist::Histogram;

/// Facts about the machine, read once at the start of a run.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    /// Logical CPUs (`nproc`).
    pub(crate) cpus: usize,
    /// The CPU model from /proc/cpuinfo.
    pub(crate) cpu_model: String,
    /// The kernel release.
    pub(crate) kernel: String,
    /// Total memory.
    pub(crate) mem_total: String,
    /// Load average at the start of the run.
    pub(crate) loadavg: String,
    /// UTC time the run started.
    pub(crate) date: String,
}

impl Machine {
    /// Reads /proc.
    pub(crate) fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == "model name").then(|| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_total = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or_else(
                || "unknown".to_owned(),
                |kib| format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0),
            );
        let loadavg = loadavg();
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            mem_total,
            loadavg,
            date: utc_now(),
        }
    }

    /// The report's "Machine" section (the load average is read again for its end).
    pub(crate) fn markdown(&self, data_dir: &Path) -> String {
        format!(
            "- CPUs (`nproc`): {}\n- CPU: {}\n- Memory: {}\n- Kernel: {}\n- File system of the \
             data directories: {}\n- Load average (1, 5, 15 min) when the run started: {}; when \
             it ended: {}\n- Date (UTC): {}\n",
            self.cpus,
            self.cpu_model,
            self.mem_total,
            self.kernel,
            filesystem(data_dir),
            self.loadavg,
            loadavg(),
            self.date
        )
    }
}

/// The 1, 5 and 15 minute load averages.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The mount (device, type) a path is on, from /proc/mounts: the longest matching prefix.
pub(crate) fn filesystem(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        if path.starts_with(f[1]) && best.as_ref().is_none_or(|(len, _)| f[1].len() > *len) {
            best = Some((f[1].len(), format!("{} on {} ({})", f[0], f[1], f[2])));
        }
    }
    best.map_or_else(|| "unknown".to_owned(), |(_, s)| s)
}

/// The current UTC time as `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    utc(secs)
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC` (proleptic Gregorian calendar).
fn utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days to civil date (the algorithm from Howard Hinnant's `chrono`-compatible notes).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Nanoseconds as milliseconds with sensible precision.
pub(crate) fn ms(ns: u64) -> String {
    let v = ns as f64 / 1e6;
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// `p50 / p99 / p99.9` in milliseconds.
pub(crate) fn percentiles(h: &Histogram) -> String {
    format!(
        "{} / {} / {}",
        ms(h.quantile(0.5)),
        ms(h.quantile(0.99)),
        ms(h.quantile(0.999))
    )
}

/// A rate with thousands separators.
pub(crate) fn rate(r: f64) -> String {
    let n = r.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A ratio as `1.23×`, or `n/a`.
pub(crate) fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a.is_finite() && b.is_finite() {
        let r = a / b;
        if r >= 10.0 {
            format!("{r:.0}×")
        } else if r >= 0.1 {
            format!("{r:.2}×")
        } else {
            format!("{r:.3}×")
        }
    } else {
        "n/a".to_owned()
    }
}

/// A Markdown table from a header and rows.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    out.push_str(&format!(
        "|{}|\n",
        header
            .iter()
            .enumerate()
            .map(|(i, _)| if i == 0 { " --- " } else { " ---: " })
            .collect::<Vec<_>>()
            .join("|")
    ));
    for r in rows {
        out.push_str(&format!("| {} |\n", r.join(" | ")));
    }
    out
}

/// KiB as MiB.
pub(crate) fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "n/a".to_owned(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_767_225_599), "2025-12-31 23:59:59 UTC");
    }

    #[test]
    fn numbers_are_readable() {
        assert_eq!(rate(1234567.4), "1,234,567");
        assert_eq!(rate(999.0), "999");
        assert_eq!(ms(1_234_567), "1.23");
        assert_eq!(ms(6_400), "0.006");
        assert_eq!(ratio(3.0, 2.0), "1.50×");
        assert_eq!(ratio(1.0, 0.0), "n/a");
    }
}
