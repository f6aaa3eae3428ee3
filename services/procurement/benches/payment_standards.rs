//! `GetPaymentStandards` as settlement calls it, through the service's own handler and cache
//! path (request parsing, tenancy check, one cache read per item, history resolved by date and
//! region, response built): 10,000 items with 3 periods of history each in SQLite, batches of
//! 20 items (one claim's lines) on random dates, cache warm. Plain `main`, std::time only.
//! Target: at least 100,000 look-ups per second from cache.
//!
//! The cache is the in-process one of the embedded mode; set `YIBAO_BENCH_REDIS_URL` (e.g.
//! `redis://127.0.0.1:6379`) to measure through Redis instead.
//!
//! Run with `cargo bench -p yibao-procurement --bench payment_standards`.

use std::error::Error;
use std::sync::Arc;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use tonic::Request;
use yibao_core::{Fen, RegionCode};
use yibao_procurement::domain::{ItemCode, ItemKind, PaymentStandard, Period};
use yibao_procurement::store::Actor;
use yibao_proto::procurement::v1 as pb;
use yibao_proto::procurement::v1::procurement_service_server::ProcurementService;
use yibao_runtime::cache::Cache;
use yibao_runtime::server::ServiceDeps;
use yibao_runtime::{Caller, Role};

const ITEMS: u32 = 10_000;
const PERIODS: u64 = 3;
const BATCH: usize = 20;
const REQUESTS: usize = 20_000;
const CONCURRENCY: usize = 4;

fn code(i: u32) -> String {
    format!("XC10AAA001A001{i:04}{:05}", i % 997)
}

fn request(
    caller: &Caller,
    items: Vec<String>,
    date: NaiveDate,
) -> Request<pb::GetPaymentStandardsRequest> {
    let mut req = Request::new(pb::GetPaymentStandardsRequest {
        region_code: "341522".into(),
        item_codes: items,
        on_date: date.to_string(),
        skip_non_national_codes: false,
    });
    req.extensions_mut().insert(caller.clone());
    req
}

struct Queries {
    seed: u64,
    start: NaiveDate,
}

impl Queries {
    fn next(&mut self) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed
    }

    fn batch(&mut self) -> (Vec<String>, NaiveDate) {
        let items = (0..BATCH)
            .map(|_| code((self.next() % u64::from(ITEMS)) as u32))
            .collect();
        let day = self.start + Days::new(self.next() % (PERIODS * 365 + 30));
        (items, day)
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join(format!(
        "procurement-bench-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    let (cache, cache_name): (Arc<dyn Cache>, &str) = match std::env::var("YIBAO_BENCH_REDIS_URL") {
        Ok(url) => (
            Arc::new(yibao_runtime::cache::RedisCache::connect(&url).await?),
            "redis",
        ),
        Err(_) => (
            Arc::new(yibao_runtime::cache::MemoryCache::new(100_000)),
            "in-process",
        ),
    };
    let deps = ServiceDeps {
        database: yibao_runtime::config::DatabaseConfig::sqlite(&dir.join("procurement.db")),
        cache,
        bus: Arc::new(yibao_runtime::bus::MemoryBus::new()),
        upstreams: Default::default(),
        secrets: Default::default(),
        relay: Default::default(),
    };
    let db =
        yibao_runtime::db::connect_and_migrate::<yibao_procurement::store::migration::Migrator>(
            &deps.database,
        )
        .await?;
    let app = yibao_procurement::app::Procurement::new(db, deps.cache.clone(), None).await?;
    let api = yibao_procurement::api::ProcurementApi::new(app);

    let start = NaiveDate::from_ymd_opt(2024, 1, 1).ok_or("date")?;
    let actor = Actor {
        subject: "bench".into(),
        role: "operator".into(),
    };
    let loading = Instant::now();
    for p in 0..PERIODS {
        let from = start.checked_add_days(Days::new(p * 365)).ok_or("date")?;
        let batch: Vec<(PaymentStandard, String)> = (0..ITEMS)
            .map(|i| {
                let item_code = ItemCode::parse(ItemKind::WesternDrug, &code(i))?;
                Ok((
                    PaymentStandard {
                        item_code,
                        amount: Fen(10_000 - p as i64 * 1_000),
                        period: Period::from(from),
                        basis: "bench".into(),
                    },
                    "standard".into(),
                ))
            })
            .collect::<Result<_, Box<dyn Error>>>()?;
        api.app().set_standards("340000", &batch, &actor).await?;
    }
    println!(
        "payment_standards: loaded {} standards in {:.1} s",
        u64::from(ITEMS) * PERIODS,
        loading.elapsed().as_secs_f64()
    );

    let caller = Caller {
        subject: "hospital-bench".into(),
        role: Role::Hospital,
        org: "H34152200001".into(),
        region: Some(RegionCode::parse("341522")?),
    };
    // Warm the cache: every item once.
    let all: Vec<String> = (0..ITEMS).map(code).collect();
    for chunk in all.chunks(1000) {
        api.get_payment_standards(request(&caller, chunk.to_vec(), start))
            .await?;
    }

    let mut queries = Queries {
        seed: 0x2545_F491_4F6C_DD1D,
        start,
    };
    let batches: Vec<(Vec<String>, NaiveDate)> = (0..REQUESTS).map(|_| queries.batch()).collect();
    let timer = Instant::now();
    let mut found = 0usize;
    for (items, day) in &batches {
        let out = api
            .get_payment_standards(request(&caller, items.clone(), *day))
            .await?
            .into_inner();
        found += out.results.iter().filter(|r| r.found).count();
    }
    let secs = timer.elapsed().as_secs_f64();
    let lookups = (REQUESTS * BATCH) as f64;
    println!(
        "payment_standards ({cache_name} cache, 1 caller): {REQUESTS} requests × {BATCH} items in {:.1} ms: {:.0} look-ups/s, {:.0} requests/s ({found} found; target ≥ 100000 look-ups/s)",
        secs * 1_000.0,
        lookups / secs,
        REQUESTS as f64 / secs
    );

    let timer = Instant::now();
    let mut tasks = Vec::new();
    for part in batches.chunks(REQUESTS / CONCURRENCY) {
        let api = api.clone();
        let caller = caller.clone();
        let part = part.to_vec();
        tasks.push(tokio::spawn(async move {
            for (items, day) in part {
                api.get_payment_standards(request(&caller, items, day))
                    .await?;
            }
            Ok::<(), tonic::Status>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = timer.elapsed().as_secs_f64();
    println!(
        "payment_standards ({cache_name} cache, {CONCURRENCY} concurrent callers): {:.0} look-ups/s",
        lookups / secs
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}
