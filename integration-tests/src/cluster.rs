//! A client of a cluster started by `scripts/dev-cluster.sh` (separate processes behind the
//! gateway): REST calls over HTTP and tokens minted with the cluster's development signing
//! key. Used by the `dev_cluster` test and by `yibao-load faults`.

use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use yibao_runtime::Role;

/// The gateway's base URL and the key the cluster trusts.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// HTTP client.
    pub http: reqwest::Client,
    /// Gateway base URL, e.g. `http://127.0.0.1:8088`.
    pub base: String,
    keys: std::sync::Arc<yibao_runtime::auth::DevKeys>,
}

/// An answer: HTTP status and JSON body (`Null` when the body is not JSON).
pub type Answer = (u16, Value);

impl Cluster {
    /// The cluster at `base` whose signing key is in `dir` (`dev-signing-key.pem`, as
    /// `yibao keys --data-dir` writes it). Requests time out after `timeout`.
    pub fn new(base: &str, dir: &Path, timeout: Duration) -> Result<Cluster, String> {
        let keys = yibao_runtime::auth::DevKeys::load_or_create(dir)
            .map_err(|e| format!("the dev cluster's signing key in {}: {e}", dir.display()))?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .pool_max_idle_per_host(256)
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Cluster {
            http,
            base: base.trim_end_matches('/').to_string(),
            keys: std::sync::Arc::new(keys),
        })
    }

    /// The same cluster's key and client, through another gateway.
    pub fn via(&self, base: &str) -> Cluster {
        Cluster {
            base: base.trim_end_matches('/').to_string(),
            ..self.clone()
        }
    }

    /// The cluster of `scripts/dev-cluster.sh up`: `YIBAO_DEV_CLUSTER_URL` (default
    /// `http://127.0.0.1:8088`), keys in `YIBAO_DEV_CLUSTER_DIR` (default `data/dev-cluster`
    /// under the repository root).
    pub fn from_env() -> Result<Cluster, String> {
        let base = std::env::var("YIBAO_DEV_CLUSTER_URL")
            .unwrap_or_else(|_| "http://127.0.0.1:8088".into());
        let dir = std::env::var("YIBAO_DEV_CLUSTER_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/dev-cluster"));
        Cluster::new(&base, &dir, Duration::from_secs(30))
    }

    /// A token of `role` for `org` / `region`, valid for `ttl_secs`.
    pub fn token_for(&self, role: Role, org: &str, region: &str, ttl_secs: u64) -> String {
        self.keys
            .mint(
                role,
                org,
                region,
                "dev-cluster-client",
                ttl_secs,
                yibao::ISSUER,
                yibao::AUDIENCE,
            )
            .unwrap_or_else(|e| panic!("token: {e}"))
    }

    /// A token valid for ten minutes.
    pub fn token(&self, role: Role, org: &str, region: &str) -> String {
        self.token_for(role, org, region, 600)
    }

    /// A request of `method` with an optional JSON body and `Idempotency-Key`.
    pub async fn try_request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// POST a JSON body, with an `Idempotency-Key` when given.
    pub async fn try_post(
        &self,
        path: &str,
        token: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, reqwest::Error> {
        self.try_request(
            reqwest::Method::POST,
            path,
            token,
            Some(body),
            idempotency_key,
        )
        .await
    }

    /// GET.
    pub async fn try_get(&self, path: &str, token: &str) -> Result<Answer, reqwest::Error> {
        self.try_request(reqwest::Method::GET, path, token, None, None)
            .await
    }

    /// POST; panics when the gateway cannot be reached.
    pub async fn post(
        &self,
        path: &str,
        token: &str,
        body: Value,
        idempotency_key: Option<&str>,
    ) -> Answer {
        self.try_post(path, token, &body, idempotency_key)
            .await
            .unwrap_or_else(|e| panic!("gateway reachable: {e}"))
    }

    /// GET; panics when the gateway cannot be reached.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.try_get(path, token)
            .await
            .unwrap_or_else(|e| panic!("gateway reachable: {e}"))
    }

    /// POST, expecting 200.
    pub async fn ok(&self, path: &str, token: &str, body: Value) -> Value {
        let (status, v) = self.post(path, token, body, None).await;
        assert_eq!(status, 200, "{path}: {v}");
        v
    }

    /// GET, expecting 200.
    pub async fn get_ok(&self, path: &str, token: &str) -> Value {
        let (status, v) = self.get(path, token).await;
        assert_eq!(status, 200, "{path}: {v}");
        v
    }
}
