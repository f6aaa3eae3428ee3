//! `yibao-settlement [serve|migrate]`: config → telemetry → store → server.

#[tokio::main]
async fn main() {
    let settings: yibao_runtime::config::ServiceSettings =
        yibao_runtime::server::load_settings("yibao-settlement");
    let migrate = yibao_runtime::db::connect_and_migrate::<
        yibao_settlement::store::migration::Migrator,
    >(&settings.database);
    yibao_runtime::server::run_binary(
        "yibao-settlement",
        yibao_settlement::SERVICE_NAME,
        &settings,
        async { migrate.await.map(|_| ()) },
        yibao_settlement::build,
    )
    .await;
}
