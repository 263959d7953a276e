//! Counters for `/metrics` (Prometheus text format).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the ingest latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

#[derive(Debug, Default)]
pub struct Metrics {
    pub batches: AtomicU64,
    pub records_accepted: AtomicU64,
    pub records_duplicate: AtomicU64,
    pub batches_rejected: AtomicU64,
    pub uploads: AtomicU64,
    pub diagnoses: AtomicU64,
    alerts_delivered: AtomicU64,
    alerts_retried: AtomicU64,
    alerts_failed: AtomicU64,
    alerts_merged: AtomicU64,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_micros: AtomicU64,
}

impl Metrics {
    pub fn observe_ingest(&self, seconds: f64) {
        for (b, c) in BUCKETS.iter().zip(&self.latency_buckets) {
            if seconds <= *b {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_micros.fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// Count an alert attempt by its outcome (the alert's state after it).
    pub fn alert_outcome(&self, state: &str) {
        let c = match state {
            "delivered" => &self.alerts_delivered,
            "failed" => &self.alerts_failed,
            "merged" => &self.alerts_merged,
            _ => &self.alerts_retried,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The text exposition, with the rooms counted by state.
    pub fn render(&self, rooms_by_state: &[(&str, u64)]) -> String {
        let mut s = String::new();
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(s, "# HELP uctriage_rooms Rooms by state.\n# TYPE uctriage_rooms gauge");
        for (state, n) in rooms_by_state {
            let _ = writeln!(s, "uctriage_rooms{{state=\"{state}\"}} {n}");
        }
        for (name, help, v) in [
            ("uctriage_ingest_batches_total", "Event batches accepted.", &self.batches),
            ("uctriage_ingest_records_total", "Records stored.", &self.records_accepted),
            ("uctriage_ingest_duplicates_total", "Records received again and counted once.", &self.records_duplicate),
            ("uctriage_ingest_rejected_total", "Batches refused as malformed.", &self.batches_rejected),
            ("uctriage_uploads_total", "Bundles uploaded.", &self.uploads),
            ("uctriage_diagnoses_total", "Room diagnoses run.", &self.diagnoses),
        ] {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", g(v));
        }
        let _ = writeln!(s, "# HELP uctriage_alert_attempts_total Alert delivery attempts by outcome.\n# TYPE uctriage_alert_attempts_total counter");
        for (outcome, v) in [
            ("delivered", &self.alerts_delivered),
            ("retry", &self.alerts_retried),
            ("failed", &self.alerts_failed),
            ("merged", &self.alerts_merged),
        ] {
            let _ = writeln!(s, "uctriage_alert_attempts_total{{outcome=\"{outcome}\"}} {}", g(v));
        }
        let name = "uctriage_ingest_seconds";
        let _ = writeln!(s, "# HELP {name} Ingest request latency.\n# TYPE {name} histogram");
        for (b, c) in BUCKETS.iter().zip(&self.latency_buckets) {
            let _ = writeln!(s, "{name}_bucket{{le=\"{b}\"}} {}", g(c));
        }
        let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {}", g(&self.latency_count));
        let _ = writeln!(s, "{name}_sum {}", g(&self.latency_micros) as f64 / 1e6);
        let _ = writeln!(s, "{name}_count {}", g(&self.latency_count));
        s
    }
}
