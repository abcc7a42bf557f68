//! What one durable write costs on the file system the servers store their data on.

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use crate::hist::Histogram;

/// Timings of `count` appends of 4 KiB, each followed by `fdatasync`.
#[derive(Debug, Clone)]
pub(crate) struct Fsync {
    /// Nanoseconds per write + fdatasync.
    pub(crate) hist: Histogram,
}

impl Fsync {
    /// The median write + fdatasync, in seconds.
    pub(crate) fn median_secs(&self) -> f64 {
        self.hist.quantile(0.5) as f64 / 1e9
    }

    /// Durable writes per second one after another: 1 / median.
    pub(crate) fn rate(&self) -> f64 {
        let m = self.median_secs();
        if m > 0.0 {
            1.0 / m
        } else {
            f64::INFINITY
        }
    }
}

/// Appends 4 KiB and calls `fdatasync` `count` times on a temporary file in `dir`.
pub(crate) fn measure(dir: &Path, count: usize) -> anyhow::Result<Fsync> {
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    let block = [0xA5u8; 4096];
    let mut hist = Histogram::new();
    for _ in 0..count {
        let start = Instant::now();
        file.as_file_mut().write_all(&block)?;
        file.as_file().sync_data()?;
        hist.record(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
    }
    Ok(Fsync { hist })
}
