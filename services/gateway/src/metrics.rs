//! RED metrics at the edge, per service and method: the calls the gateway answered, by gRPC
//! code, and their latency, recorded in the process's one registry
//! ([`yibao_runtime::metrics`]) as `component="gateway", side="server"` (its calls to the
//! services as `side="client"`). `/metrics` serves that registry, so in the one process of
//! `yibao up` it carries every service's series too.

use std::time::Duration;

pub use yibao_runtime::metrics::code_label;

/// The gateway's handle on the process's registry.
#[derive(Debug, Default)]
pub struct Metrics;

impl Metrics {
    /// Records one call the gateway answered (REST or gRPC) to `service`'s `method`.
    pub fn record(&self, service: &str, method: &str, code: tonic::Code, elapsed: Duration) {
        yibao_runtime::metrics::record_rpc(
            "gateway",
            yibao_runtime::metrics::Side::Server,
            service,
            method,
            code,
            elapsed,
        );
    }

    /// Prometheus text exposition of the process's registry.
    pub fn render(&self) -> String {
        yibao_runtime::metrics::global().render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_code_and_timed_in_the_process_registry() {
        let m = Metrics;
        // A method of this test's own, so other tests in the process do not count here.
        let method = "CheckEligibilityMetricsTest";
        m.record(
            "enrollment",
            method,
            tonic::Code::Ok,
            Duration::from_millis(3),
        );
        m.record(
            "enrollment",
            method,
            tonic::Code::PermissionDenied,
            Duration::from_millis(30),
        );
        let text = m.render();
        let labels = format!(
            "component=\"gateway\",side=\"server\",service=\"enrollment\",method=\"{method}\""
        );
        assert!(
            text.contains(&format!(
                "yibao_rpc_requests_total{{{labels},code=\"OK\"}} 1\n"
            )),
            "{text}"
        );
        assert!(text.contains(&format!(
            "yibao_rpc_requests_total{{{labels},code=\"PERMISSION_DENIED\"}} 1\n"
        )));
        assert!(text.contains(&format!(
            "yibao_rpc_duration_seconds_bucket{{{labels},le=\"0.005\"}} 1\n"
        )));
        assert!(text.contains(&format!(
            "yibao_rpc_duration_seconds_bucket{{{labels},le=\"0.05\"}} 2\n"
        )));
        assert!(text.contains(&format!("yibao_rpc_duration_seconds_count{{{labels}}} 2\n")));
    }
}
