//! RED metrics at the edge, per service and method: request counts by gRPC code and a
//! latency histogram, exposed in the Prometheus text format at `/metrics`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS_MS: [u64; 12] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

#[derive(Debug, Default)]
struct MethodStats {
    codes: HashMap<&'static str, u64>,
    buckets: [u64; 12],
    count: u64,
    sum_micros: u64,
}

/// Counters and histograms.
#[derive(Debug, Default)]
pub struct Metrics {
    by_method: Mutex<HashMap<(String, String), MethodStats>>,
}

/// Name of a gRPC code as a label.
pub fn code_label(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "CANCELLED",
        C::Unknown => "UNKNOWN",
        C::InvalidArgument => "INVALID_ARGUMENT",
        C::DeadlineExceeded => "DEADLINE_EXCEEDED",
        C::NotFound => "NOT_FOUND",
        C::AlreadyExists => "ALREADY_EXISTS",
        C::PermissionDenied => "PERMISSION_DENIED",
        C::ResourceExhausted => "RESOURCE_EXHAUSTED",
        C::FailedPrecondition => "FAILED_PRECONDITION",
        C::Aborted => "ABORTED",
        C::OutOfRange => "OUT_OF_RANGE",
        C::Unimplemented => "UNIMPLEMENTED",
        C::Internal => "INTERNAL",
        C::Unavailable => "UNAVAILABLE",
        C::DataLoss => "DATA_LOSS",
        C::Unauthenticated => "UNAUTHENTICATED",
    }
}

impl Metrics {
    /// Records one call.
    pub fn record(&self, service: &str, method: &str, code: tonic::Code, elapsed: Duration) {
        let mut map = self.by_method.lock().unwrap_or_else(|p| p.into_inner());
        let s = map
            .entry((service.to_string(), method.to_string()))
            .or_default();
        *s.codes.entry(code_label(code)).or_default() += 1;
        let ms = elapsed.as_millis() as u64;
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            if ms <= *b {
                s.buckets[i] += 1;
            }
        }
        s.count += 1;
        s.sum_micros += elapsed.as_micros() as u64;
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let map = self.by_method.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP yibao_rpc_requests_total Calls through the gateway by service, method and gRPC code."
        );
        let _ = writeln!(out, "# TYPE yibao_rpc_requests_total counter");
        let mut keys: Vec<_> = map.keys().collect();
        keys.sort();
        for k in &keys {
            let s = &map[*k];
            let mut codes: Vec<_> = s.codes.iter().collect();
            codes.sort();
            for (code, n) in codes {
                let _ = writeln!(
                    out,
                    "yibao_rpc_requests_total{{service=\"{}\",method=\"{}\",code=\"{code}\"}} {n}",
                    k.0, k.1
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP yibao_rpc_duration_seconds Latency of calls through the gateway."
        );
        let _ = writeln!(out, "# TYPE yibao_rpc_duration_seconds histogram");
        for k in &keys {
            let s = &map[*k];
            for (i, b) in BUCKETS_MS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "yibao_rpc_duration_seconds_bucket{{service=\"{}\",method=\"{}\",le=\"{}.{:03}\"}} {}",
                    k.0,
                    k.1,
                    b / 1000,
                    b % 1000,
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "yibao_rpc_duration_seconds_bucket{{service=\"{}\",method=\"{}\",le=\"+Inf\"}} {}",
                k.0, k.1, s.count
            );
            let _ = writeln!(
                out,
                "yibao_rpc_duration_seconds_sum{{service=\"{}\",method=\"{}\"}} {}.{:06}",
                k.0,
                k.1,
                s.sum_micros / 1_000_000,
                s.sum_micros % 1_000_000
            );
            let _ = writeln!(
                out,
                "yibao_rpc_duration_seconds_count{{service=\"{}\",method=\"{}\"}} {}",
                k.0, k.1, s.count
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets_are_rendered() {
        let m = Metrics::default();
        m.record(
            "enrollment",
            "CheckEligibility",
            tonic::Code::Ok,
            Duration::from_millis(3),
        );
        m.record(
            "enrollment",
            "CheckEligibility",
            tonic::Code::PermissionDenied,
            Duration::from_millis(30),
        );
        let text = m.render();
        assert!(text.contains("yibao_rpc_requests_total{service=\"enrollment\",method=\"CheckEligibility\",code=\"OK\"} 1"));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"0.050\"} 2"));
        assert!(text.contains(
            "yibao_rpc_duration_seconds_count{service=\"enrollment\",method=\"CheckEligibility\"} 2"
        ));
    }
}
