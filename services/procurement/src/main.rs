//! `yibao-procurement [serve|migrate]`: config → telemetry → store → server.

#[tokio::main]
async fn main() {
    let settings: yibao_runtime::config::ServiceSettings =
        yibao_runtime::server::load_settings("yibao-procurement");
    let migrate = yibao_runtime::db::connect_and_migrate::<
        yibao_procurement::store::migration::Migrator,
    >(&settings.database);
    yibao_runtime::server::run_binary(
        "yibao-procurement",
        yibao_procurement::SERVICE_NAME,
        &settings,
        async { migrate.await.map(|_| ()) },
        yibao_procurement::build,
    )
    .await;
}
