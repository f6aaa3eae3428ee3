//! `yibao-enrollment [serve|migrate]`: config → telemetry → store → server.

use yibao_runtime::{config, server};

#[tokio::main]
async fn main() {
    let settings: yibao_enrollment::Settings = config::load(&Default::default()).unwrap_or_else(|e| exit_config(&e.to_string()));
    settings.service.validate().unwrap_or_else(|e| exit_config(&e.to_string()));
    let _telemetry = yibao_runtime::telemetry::init("enrollment", &settings.service.telemetry).unwrap_or_else(|e| exit_config(&e));
    if std::env::args().nth(1).as_deref() == Some("migrate") {
        yibao_runtime::db::connect_and_migrate::<yibao_enrollment::store::migration::Migrator>(&settings.service.database).await.unwrap_or_else(|e| fail(&e.to_string()));
        tracing::info!("enrollment migrations applied");
        return;
    }
    let cache = yibao_runtime::cache::from_config(&settings.service.redis).await.unwrap_or_else(|e| fail(&e.to_string()));
    let svc = yibao_enrollment::build(&settings.service.database, cache, &settings.enrollment.voucher_secret).await.unwrap_or_else(|e| fail(&e));
    let verifier = yibao_runtime::Verifier::from_config(&settings.service.auth).await.unwrap_or_else(|e| fail(&e.to_string()));
    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(svc);
    let routes = server::with_health_and_reflection(routes, &[yibao_enrollment::SERVICE_NAME]).await.unwrap_or_else(|e| fail(&e.to_string()));
    let listener = tokio::net::TcpListener::bind(&settings.service.grpc.listen).await.unwrap_or_else(|e| fail(&format!("bind {}: {e}", settings.service.grpc.listen)));
    tracing::info!(listen = %settings.service.grpc.listen, "enrollment serving");
    server::serve(listener, routes, verifier, server::shutdown_signal()).await.unwrap_or_else(|e| fail(&e.to_string()));
}

fn exit_config(msg: &str) -> ! {
    eprintln!("yibao-enrollment: {msg}");
    std::process::exit(config::EXIT_BAD_CONFIG)
}

fn fail(msg: &str) -> ! {
    eprintln!("yibao-enrollment: {msg}");
    std::process::exit(1)
}
