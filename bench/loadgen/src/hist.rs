//! A log-linear latency histogram in nanoseconds (the HdrHistogram idea, kept small).
//!
//! Values below `2 * HALF` are counted exactly; above that every power of two is cut into
//! `HALF` equal buckets, so a bucket is never wider than 1/`HALF` of its lower bound (0.8 %
//! with `SUB_BITS = 8`). Recording is an index computation and an increment; histograms of
//! the same shape merge by adding counts.

/// Bits of precision kept below a value's leading bit, plus one.
const SUB_BITS: u32 = 8;
/// Buckets per power of two above the exact range.
const HALF: u64 = 1 << (SUB_BITS - 1);
/// Number of buckets needed to cover every `u64`.
const BUCKETS: usize = ((64 - SUB_BITS + 1) as usize) * HALF as usize + HALF as usize;

/// Counts of values per bucket, with the exact count, minimum and maximum.
#[derive(Clone)]
pub(crate) struct Histogram {
    counts: Vec<u64>,
    total: u64,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.total)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish()
    }
}

/// The bucket a value falls in.
fn index(v: u64) -> usize {
    if v < 2 * HALF {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - (SUB_BITS - 1);
    let mantissa = v >> shift; // in [HALF, 2 * HALF)
    (shift as usize) * HALF as usize + mantissa as usize
}

/// The smallest and largest value of a bucket.
fn bounds(i: usize) -> (u64, u64) {
    let half = HALF as usize;
    if i < 2 * half {
        return (i as u64, i as u64);
    }
    let shift = (i / half - 1) as u32;
    let mantissa = (i % half + half) as u64;
    let low = mantissa << shift;
    (low, low + ((1u64 << shift) - 1))
}

impl Histogram {
    /// An empty histogram.
    pub(crate) fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Counts one value (nanoseconds).
    pub(crate) fn record(&mut self, v: u64) {
        self.counts[index(v)] += 1;
        self.total += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Adds another histogram's counts to this one.
    pub(crate) fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// How many values were recorded.
    pub(crate) fn count(&self) -> u64 {
        self.total
    }

    /// The largest value recorded, or 0 when empty.
    pub(crate) fn max(&self) -> u64 {
        self.max
    }

    /// The value at quantile `q` (0..=1): the smallest recorded value such that at least
    /// `ceil(q * count)` values are at or below it, given as the upper end of its bucket
    /// (clamped to the exact minimum and maximum). 0 when empty.
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let q = q.clamp(0.0, 1.0);
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bounds(i).1.clamp(self.min, self.max);
            }
        }
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_without_gaps() {
        let mut previous_high = None::<u64>;
        for i in 0..BUCKETS {
            let (low, high) = bounds(i);
            assert!(low <= high);
            if let Some(p) = previous_high {
                assert_eq!(low, p + 1, "bucket {i} does not follow bucket {}", i - 1);
            }
            assert_eq!(index(low), i);
            assert_eq!(index(high), i);
            previous_high = Some(high);
        }
        assert_eq!(previous_high, Some(u64::MAX));
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile(0.5), 50);
        assert_eq!(h.quantile(0.99), 99);
        assert_eq!(h.quantile(0.999), 100);
        assert_eq!(h.quantile(1.0), 100);
        assert_eq!(h.quantile(0.0), 1);
    }

    #[test]
    fn large_values_are_within_bucket_precision() {
        let mut h = Histogram::new();
        // 1 µs .. 100 ms in 1 µs steps.
        let n = 100_000u64;
        for i in 1..=n {
            h.record(i * 1_000);
        }
        for (q, exact) in [
            (0.5, 50_000_000u64),
            (0.99, 99_000_000),
            (0.999, 99_900_000),
        ] {
            let got = h.quantile(q);
            let err = (got as f64 - exact as f64).abs() / exact as f64;
            assert!(got >= exact, "q {q}: {got} below exact {exact}");
            assert!(
                err < 1.0 / HALF as f64,
                "q {q}: {got} vs {exact}, error {err}"
            );
        }
        assert_eq!(h.quantile(1.0), h.max());
    }

    #[test]
    fn merging_equals_recording_into_one() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        let mut all = Histogram::new();
        for v in (0..10_000u64).map(|i| i * 7919 % 3_000_000) {
            if v % 2 == 0 {
                a.record(v);
            } else {
                b.record(v);
            }
            all.record(v);
        }
        a.merge(&b);
        assert_eq!(a.count(), all.count());
        for q in [0.1, 0.5, 0.9, 0.99, 0.999] {
            assert_eq!(a.quantile(q), all.quantile(q));
        }
        assert_eq!(a.max(), all.max());
    }

    #[test]
    fn empty_histogram_reports_zero() {
        let h = Histogram::new();
        assert_eq!(h.quantile(0.5), 0);
        assert_eq!(h.count(), 0);
    }
}
