//! `yibao`: run the whole platform in one process, and the development CLI.

mod credentials;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "yibao",
    version,
    about = "Yibao medical-insurance platform: all services in one process, and dev tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run every service and the gateway on embedded storage.
    Up {
        /// Load demo data (Huoqiu county: a poverty-registered household and others).
        #[arg(long)]
        demo: bool,
        /// Where keys, secrets and SQLite files live.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// Gateway address (REST and gRPC); default `gateway.listen` (127.0.0.1:8080).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Internal gRPC address of the services; default `grpc.listen` (127.0.0.1:7050).
        #[arg(long)]
        grpc_listen: Option<std::net::SocketAddr>,
        /// Redis URL for cache, idempotency keys, rate limits and streams; default `redis.url`
        /// (empty: in-process).
        #[arg(long)]
        redis_url: Option<String>,
    },
    /// Mint a development token signed with the data directory's key.
    Token {
        /// operator, hospital, insurer, auditor, admin, care_institution, assessor or manufacturer.
        #[arg(long)]
        role: String,
        /// Organisation code (hospitals `H…`, pharmacies `P…`, insurers…).
        #[arg(long, default_value = "")]
        org: String,
        /// Region (6 digits); required for operators and auditors.
        #[arg(long, default_value = "")]
        region: String,
        /// Subject (user id).
        #[arg(long, default_value = "")]
        subject: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
        /// Data directory holding the key.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
    /// Create the development signing key and JWKS in the data directory (if missing).
    Keys {
        /// Data directory.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
    /// Print the catalogue of every error code the platform answers with (Markdown).
    Errors,
    /// Apply every service's migrations to the embedded databases.
    Migrate {
        /// Data directory.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
    /// Print a registered institution's national-interface credentials as JSON
    /// (`{"paasid": …, "paas_token": …}`): the ones in force, issued first if it has none.
    InterfaceCredentials {
        /// The institution's code (`H…`, `P…`); it must be in the registry.
        #[arg(long)]
        org: String,
        /// Data directory whose enrollment database is used (running `yibao up` or not).
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// The enrollment database's URL instead (PostgreSQL in production).
        #[arg(long)]
        database_url: Option<String>,
        /// Replace the credentials in force (the old token stops working at once).
        #[arg(long)]
        rotate: bool,
    },
}

fn fail(msg: &str) -> ! {
    eprintln!("yibao: {msg}");
    std::process::exit(1)
}

fn exit_config(msg: &str) -> ! {
    eprintln!("yibao: {msg}");
    std::process::exit(yibao_runtime::config::EXIT_BAD_CONFIG)
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Up {
            demo,
            data_dir,
            listen,
            grpc_listen,
            redis_url,
        } => {
            let started = std::time::Instant::now();
            let settings =
                yibao::UpSettings::load().unwrap_or_else(|e| exit_config(&e.to_string()));
            let _telemetry = yibao_runtime::telemetry::init("yibao", &settings.telemetry)
                .unwrap_or_else(|e| exit_config(&e.to_string()));
            let flags = yibao::settings::UpFlags {
                listen,
                grpc_listen,
                redis_url,
            };
            let mut opts = settings
                .options(data_dir.clone(), flags)
                .unwrap_or_else(|e| exit_config(&e.to_string()));
            opts.demo = demo;
            let running = yibao::start(opts).await.unwrap_or_else(|e| fail(&e));
            print!("{}", running.banner(started.elapsed(), &data_dir, demo));
            yibao_runtime::server::shutdown_signal().await;
            running.stop().await;
        }
        Command::Token {
            role,
            org,
            region,
            subject,
            ttl,
            data_dir,
        } => {
            let token = yibao::dev_token(&data_dir, &role, &org, &region, &subject, ttl)
                .unwrap_or_else(|e| fail(&e));
            println!("{token}");
        }
        Command::Keys { data_dir } => {
            let keys = yibao_runtime::auth::DevKeys::load_or_create(&data_dir)
                .unwrap_or_else(|e| fail(&e.to_string()));
            yibao::secret_file(&data_dir.join("voucher-secret"))
                .unwrap_or_else(|e| fail(&e.to_string()));
            println!("{}", keys.jwks_path.display());
        }
        Command::Errors => print!("{}", yibao::errors::markdown()),
        Command::Migrate { data_dir } => {
            yibao::migrate(&data_dir).await.unwrap_or_else(|e| fail(&e));
            println!("migrated {}", data_dir.display());
        }
        Command::InterfaceCredentials {
            org,
            data_dir,
            database_url,
            rotate,
        } => {
            let db = match &database_url {
                Some(url) => credentials::Database::Url(url),
                None => credentials::Database::DataDir(&data_dir),
            };
            let (printed, issued) = credentials::interface_credentials(db, &org, rotate)
                .await
                .unwrap_or_else(|e| fail(&e));
            if issued {
                eprintln!("yibao: issued new interface credentials for {org}");
            }
            let json = serde_json::to_string(&printed).unwrap_or_else(|e| fail(&e.to_string()));
            println!("{json}");
        }
    }
}
