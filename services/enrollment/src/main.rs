//! `yibao-enrollment [serve|migrate]`: config → telemetry → store → server.

#[tokio::main]
async fn main() {
    let settings: yibao_enrollment::Settings =
        yibao_runtime::server::load_settings("yibao-enrollment");
    let migrate = yibao_runtime::db::connect_and_migrate::<
        yibao_enrollment::store::migration::Migrator,
    >(&settings.service.database);
    let secret = settings.enrollment.voucher_secret.clone();
    yibao_runtime::server::run_binary(
        "yibao-enrollment",
        yibao_enrollment::SERVICE_NAME,
        &settings.service,
        async { migrate.await.map(|_| ()) },
        |mut deps| async move {
            deps.secrets
                .insert(yibao_enrollment::VOUCHER_SECRET_KEY.into(), secret);
            yibao_enrollment::build(deps).await
        },
    )
    .await;
}
