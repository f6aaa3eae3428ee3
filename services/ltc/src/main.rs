//! `yibao-ltc [serve|migrate]`: config → telemetry → store → server.

#[tokio::main]
async fn main() {
    let settings: yibao_runtime::config::ServiceSettings =
        yibao_runtime::server::load_settings("yibao-ltc");
    let migrate = yibao_runtime::db::connect_and_migrate::<yibao_ltc::store::migration::Migrator>(
        &settings.database,
    );
    yibao_runtime::server::run_binary(
        "yibao-ltc",
        yibao_ltc::SERVICE_NAME,
        &settings,
        async { migrate.await.map(|_| ()) },
        yibao_ltc::build,
    )
    .await;
}
