//! `yibao-load settle`: settlement end to end through the gateway, beside pgbench running the
//! same write transaction in the same database (the ceiling the settle figure is a share of).

use super::*;

/// A claim of `items` charges ending today: codes of the province's demo catalogue
/// (`yibao_procurement::demo`, which settlement classifies and prices by; a code in no
/// catalogue pays as 丙), without payment restrictions — a 乙 consumable with a self-paid
/// share, 甲 bed days and consultation, a 甲 consumable and a 丙 one.
pub(crate) fn settle_claim(
    encounter_no: String,
    id_number: &str,
    items: u64,
) -> yibao_proto::settlement::v1::Claim {
    use yibao_proto::settlement::v1 as st;
    let today = chrono::Local::now().date_naive();
    let start = today
        .checked_sub_days(chrono::Days::new(3))
        .filter(|d| chrono::Datelike::year(d) == chrono::Datelike::year(&today))
        .unwrap_or(today);
    let items = (0..items)
        .map(|k| {
            let code = match k % 5 {
                0 => "C0101010010000000001",
                1 => "001109000010300",
                2 => "001102000050000",
                3 => "C0201010010000000001",
                _ => "C0301010010000000001",
            };
            let unit = 1_000 + (k as i64 % 7) * 2_500;
            st::ClaimItem {
                name: code.into(),
                national_code: code.into(),
                quantity: 2,
                unit_price_fen: unit,
                amount_fen: 2 * unit,
                ..Default::default()
            }
        })
        .collect();
    st::Claim {
        institution_code: "H34152200001".into(),
        encounter_no,
        id_number: id_number.into(),
        insured_region_code: "341522".into(),
        kind: st::EncounterKind::Inpatient as i32,
        attending_physician_code: yibao::demo::PHYSICIAN.into(),
        start_date: start.to_string(),
        end_date: today.to_string(),
        diagnoses: vec!["J18.900".into()],
        items,
        ..Default::default()
    }
}

/// Settlement end to end through the gateway on PostgreSQL at `--concurrency` callers, beside
/// the database's own ceiling for the same write: pgbench, at the same concurrency and in the
/// same database, running one transaction that writes what one settlement writes (the rows of
/// a settled claim copied under a new id, the accumulator row locked and updated).
pub(crate) async fn settle() {
    use yibao_proto::settlement::v1 as st;
    let concurrency = arg("--concurrency", 64);
    let seconds = arg("--seconds", 10);
    let people = arg("--people", 2_000);
    let items = arg("--items", 10);
    let Ok(base) = std::env::var("YIBAO_TEST_DATABASE_URL") else {
        eprintln!("settle needs PostgreSQL: set YIBAO_TEST_DATABASE_URL (scripts/load.sh does)");
        return;
    };
    // Databases of our own, so that pgbench can be pointed at settlement's afterwards.
    let urls = match own_databases(&base).await {
        Ok(u) => u,
        Err(e) => return eprintln!("create database: {e}"),
    };
    let settlement_url = urls.get("settlement").cloned().unwrap_or_default();
    let suite = Suite::start_with(|o| {
        o.gateway.rate_limit_per_minute = u32::MAX;
        o.storage = yibao::Storage::Urls(urls);
    })
    .await;
    let op = suite.operator("341522");
    if let Err(e) = yibao::demo::carry_policy(suite.running.grpc_addr, &op).await {
        return eprintln!("policy: {e}");
    }
    if let Err(e) = yibao::demo::load_registry(suite.running.grpc_addr, &op).await {
        return eprintln!("registry: {e}");
    }
    println!(
        "backend: {}; seeding {people} people…",
        yibao_integration_tests::backend()
    );
    let ids = Arc::new(seed_people(&suite, &op, people).await);
    let token = suite.hospital("H34152200001");
    let gateway = tonic::transport::Channel::from_shared(suite.base.clone())
        .unwrap_or_else(|e| panic!("{e}"))
        .connect_lazy();
    let bearer: tonic::metadata::MetadataValue<tonic::metadata::Ascii> =
        match format!("Bearer {token}").parse() {
            Ok(v) => v,
            Err(e) => return eprintln!("token: {e}"),
        };
    let call = move |claim: st::Claim| {
        let mut c = st::settlement_service_client::SettlementServiceClient::new(gateway.clone());
        let mut req = tonic::Request::new(st::SettleRequest { claim: Some(claim) });
        req.metadata_mut().insert("authorization", bearer.clone());
        async move { c.settle(req).await.map(tonic::Response::into_inner) }
    };
    // One claim first: it must settle, and it is pgbench's template.
    let template = match call(settle_claim("load-template".into(), &ids[0], items)).await {
        Ok(r) => r.claim_id,
        Err(e) => {
            return eprintln!(
                "the first settlement was refused: {:?} {}",
                e.code(),
                e.message()
            );
        }
    };
    println!("concurrency {concurrency}, {seconds} s per phase, {items} items per claim\n");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let ids2 = ids.clone();
    let mut s = drive(
        "settle, gRPC through the gateway",
        concurrency,
        seconds,
        move |i| {
            let fut = call(settle_claim(
                format!("g{}-{i}", &run[..8]),
                &ids2[(i as usize) % ids2.len()],
                items,
            ));
            async move {
                match fut.await {
                    Ok(r) => !r.replayed,
                    Err(e) => {
                        eprintln!("settle: {:?} {}", e.code(), e.message());
                        false
                    }
                }
            }
        },
    )
    .await;
    s.print();
    let settled = s.ok as f64 / s.elapsed.as_secs_f64();
    suite.stop().await;

    match pgbench_ceiling(&settlement_url, &template, concurrency, seconds).await {
        Ok(tps) => println!(
            "{:<44} {:>10.0} tx/s\nsettlement through the gateway = {:.0}% of the database's ceiling for its write transaction",
            "pgbench: the same write transaction",
            tps,
            100.0 * settled / tps
        ),
        Err(e) => eprintln!("pgbench: {e}"),
    }
}

/// Runs pgbench on the settlement database: each transaction writes, under a new claim id,
/// the rows the settlement of `template` wrote (encounter, claim, items, explanation lines,
/// ledger lines, outbox event) and locks and updates a random person's accumulator row, as
/// the settle use case does. Returns transactions per second.
async fn pgbench_ceiling(
    url: &str,
    template: &str,
    clients: u64,
    seconds: u64,
) -> Result<f64, String> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = sea_orm::Database::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let pg = |q: String| Statement::from_string(sea_orm::DbBackend::Postgres, q);
    db.execute_unprepared("CREATE TABLE pgb_people AS SELECT (row_number() OVER ())::int AS n, id_number, year, region_code FROM accumulators; ALTER TABLE pgb_people ADD PRIMARY KEY (n)")
        .await
        .map_err(|e| e.to_string())?;
    let people = db
        .query_one_raw(pg("SELECT count(*) FROM pgb_people".into()))
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get_by_index::<i64>(0).ok())
        .unwrap_or(0);
    // The new claim id of a transaction, from the client and a random key.
    let cid = "('pgb-' || :k)";
    let mut copies = Vec::new();
    // The template's event in the runtime's outbox: rows carry no claim id, so it is found
    // by the claim id inside its payload, once, here.
    let template_hex = yibao_runtime::sql::hex(template.as_bytes());
    let event_row = db
        .query_one_raw(pg(format!(
            "SELECT id FROM event_outbox WHERE payload_hex LIKE '%{template_hex}%' LIMIT 1"
        )))
        .await
        .map_err(|e| e.to_string())?
        .and_then(|r| r.try_get_by_index::<String>(0).ok())
        .ok_or_else(|| format!("no outbox event of claim {template}"))?;
    for table in [
        "claims",
        "claim_items",
        "breakdown_lines",
        "ledger_lines",
        "event_outbox",
    ] {
        let rows = db
            .query_all_raw(pg(format!("SELECT column_name::text FROM information_schema.columns WHERE table_name = '{table}' AND table_schema = current_schema() ORDER BY ordinal_position")))
            .await
            .map_err(|e| e.to_string())?;
        let cols: Vec<String> = rows
            .iter()
            .filter_map(|r| r.try_get_by_index::<String>(0).ok())
            .collect();
        if cols.is_empty() {
            return Err(format!("no columns found for {table}"));
        }
        let exprs: Vec<String> = cols
            .iter()
            .map(|c| match c.as_str() {
                "claim_id" | "encounter_no" => cid.to_string(),
                "id" | "event_id" => format!("{c} || {cid}"),
                other => other.to_string(),
            })
            .collect();
        let of_template = if table == "event_outbox" {
            format!("id = '{event_row}'")
        } else {
            format!("claim_id = '{template}'")
        };
        copies.push(format!(
            "INSERT INTO {table} ({}) SELECT {} FROM {table} WHERE {of_template};",
            cols.join(", "),
            exprs.join(", ")
        ));
    }
    let person = "(id_number, year, region_code) = (SELECT id_number, year, region_code FROM pgb_people WHERE n = :p)";
    let script = [
        format!("\\set p random(1, {people})"),
        "\\set k :client_id * 1000000000000 + random(1, 999999999999)".to_string(),
        "BEGIN;".to_string(),
        format!("INSERT INTO encounters (institution_code, encounter_no, claim_id) VALUES ('H34152200001', {cid}, {cid}) ON CONFLICT (institution_code, encounter_no) DO NOTHING;"),
        "INSERT INTO accumulators (id_number, year, region_code, version, data_json, updated_at) SELECT id_number, year, region_code, 0, '{}', now()::text FROM pgb_people WHERE n = :p ON CONFLICT (id_number, year, region_code) DO NOTHING;".to_string(),
        format!("SELECT version, data_json FROM accumulators WHERE {person} FOR UPDATE;"),
        copies.join("\n"),
        format!("UPDATE accumulators SET version = version + 1, data_json = data_json, updated_at = now()::text WHERE {person};"),
        "END;".to_string(),
    ]
    .join("\n");
    drop(db);
    run_pgbench(&script, url, clients, seconds)
}

/// Runs `script` under pgbench at `clients` for `seconds`; returns transactions per second.
fn run_pgbench(script: &str, url: &str, clients: u64, seconds: u64) -> Result<f64, String> {
    let path = std::env::temp_dir().join(format!("yibao-pgbench-{}.sql", std::process::id()));
    std::fs::write(&path, script).map_err(|e| e.to_string())?;
    // Blocking is fine here: nothing else runs while pgbench does.
    let out = std::process::Command::new("pgbench")
        .args(["-n", "-M", "prepared", "-c", &clients.to_string(), "-j", "2", "-T", &seconds.to_string(), "-f"])
        .arg(&path)
        .arg(url)
        .output()
        .map_err(|e| format!("pgbench did not run (Debian package postgresql-contrib or the server package brings it): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(format!(
            "{text}{}\nscript: {}",
            String::from_utf8_lossy(&out.stderr),
            path.display()
        ));
    }
    let _ = std::fs::remove_file(&path);
    for line in text
        .lines()
        .filter(|l| l.starts_with("latency average") || l.starts_with("number of failed"))
    {
        println!("pgbench {line}");
    }
    text.lines()
        .find_map(|l| {
            l.strip_prefix("tps = ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .ok_or_else(|| format!("no tps in pgbench output:\n{text}"))
}
