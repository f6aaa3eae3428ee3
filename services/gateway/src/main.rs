//! `yibao-gateway`: config → telemetry → verifier and cache → serve.

use yibao_runtime::config;

#[tokio::main]
async fn main() {
    let settings: yibao_gateway::Settings =
        config::load(&Default::default()).unwrap_or_else(|e| exit_config(&e.to_string()));
    let _telemetry = yibao_runtime::telemetry::init("gateway", &settings.telemetry)
        .unwrap_or_else(|e| exit_config(&e.to_string()));
    if settings.auth.jwks_url.is_empty() && settings.auth.jwks_file.is_empty() {
        exit_config("configuration key `auth.jwks_url`: set auth.jwks_url or auth.jwks_file");
    }
    let verifier = yibao_runtime::Verifier::from_config(&settings.auth)
        .await
        .unwrap_or_else(|e| fail(&e.to_string()));
    let cache = yibao_runtime::cache::from_config(&settings.redis)
        .await
        .unwrap_or_else(|e| fail(&e.to_string()));
    // The national interface's tokens carry the issuer and audience the services verify.
    let mut gateway_settings = settings.gateway.clone();
    gateway_settings.interface.issuer = settings.auth.issuer.clone();
    gateway_settings.interface.audience = settings.auth.audience.clone();
    let gateway =
        yibao_gateway::Gateway::new(&settings.upstreams, verifier, cache, gateway_settings)
            .await
            .unwrap_or_else(|e| fail(&e));
    let listener = tokio::net::TcpListener::bind(&settings.gateway.listen)
        .await
        .unwrap_or_else(|e| fail(&format!("bind {}: {e}", settings.gateway.listen)));
    tracing::info!(listen = %settings.gateway.listen, "gateway serving");
    gateway
        .serve(listener, yibao_runtime::server::shutdown_signal())
        .await
        .unwrap_or_else(|e| fail(&e.to_string()));
}

fn exit_config(msg: &str) -> ! {
    eprintln!("yibao-gateway: {msg}");
    std::process::exit(config::EXIT_BAD_CONFIG)
}

fn fail(msg: &str) -> ! {
    eprintln!("yibao-gateway: {msg}");
    std::process::exit(1)
}
