//! `yibao-settlement [serve|migrate]`: config → telemetry → store → server.

#[tokio::main]
async fn main() {
    let settings: yibao_settlement::Settings =
        yibao_runtime::server::load_settings("yibao-settlement");
    let limits = settings.settlement.limits().unwrap_or_else(|e| {
        eprintln!("yibao-settlement: {e}");
        std::process::exit(yibao_runtime::config::EXIT_BAD_CONFIG)
    });
    let migrate = yibao_runtime::db::connect_and_migrate::<
        yibao_settlement::store::migration::Migrator,
    >(&settings.service.database);
    yibao_runtime::server::run_binary(
        "yibao-settlement",
        yibao_settlement::SERVICE_NAME,
        &settings.service,
        async { migrate.await.map(|_| ()) },
        move |deps| yibao_settlement::build_with(deps, limits),
    )
    .await;
}
