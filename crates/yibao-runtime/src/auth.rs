//! Identity: JWT verification by `kid` from a JWKS (file or URL), the verified [`Caller`],
//! tenancy checks, and development keys (Ed25519) for the embedded mode.
//!
//! Claims carry `role` (`operator`, `hospital`, `insurer`, `auditor`, `admin`,
//! `care_institution`, `assessor`, `manufacturer`), `org` (organisation code for
//! organisation-scoped roles) and `region` (6-digit region for region-scoped roles).

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use yibao_core::RegionCode;

/// A caller's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Platform operator (经办), region-scoped.
    Operator,
    /// Designated hospital or pharmacy, organisation-scoped.
    Hospital,
    /// Commercial insurer, organisation-scoped.
    Insurer,
    /// Fund auditor, region-scoped.
    Auditor,
    /// Administrator, unscoped.
    Admin,
    /// Long-term-care institution, organisation-scoped.
    CareInstitution,
    /// LTC assessor, scoped to their assignments.
    Assessor,
    /// Manufacturer bidding in procurement, organisation-scoped.
    Manufacturer,
}

impl Role {
    /// All roles.
    pub const ALL: [Role; 8] = [
        Role::Operator,
        Role::Hospital,
        Role::Insurer,
        Role::Auditor,
        Role::Admin,
        Role::CareInstitution,
        Role::Assessor,
        Role::Manufacturer,
    ];

    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Hospital => "hospital",
            Role::Insurer => "insurer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::CareInstitution => "care_institution",
            Role::Assessor => "assessor",
            Role::Manufacturer => "manufacturer",
        }
    }

    /// Parses a claim value.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The `yibao.common.v1.Role` enum number of the contracts.
    pub fn proto_number(self) -> i32 {
        match self {
            Role::Operator => 1,
            Role::Hospital => 2,
            Role::Insurer => 3,
            Role::Auditor => 4,
            Role::Admin => 5,
            Role::CareInstitution => 6,
            Role::Assessor => 7,
            Role::Manufacturer => 8,
        }
    }

    /// True when the role is confined to its own organisation's records.
    pub fn is_org_scoped(self) -> bool {
        matches!(
            self,
            Role::Hospital
                | Role::Insurer
                | Role::CareInstitution
                | Role::Manufacturer
                | Role::Assessor
        )
    }

    /// True when the role is confined to a region prefix.
    pub fn is_region_scoped(self) -> bool {
        matches!(self, Role::Operator | Role::Auditor)
    }
}

/// The JWT claims Yibao issues and accepts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Subject (user or system id).
    pub sub: String,
    /// Role claim.
    pub role: String,
    /// Organisation code (hospital `H…`, pharmacy `P…`, insurer, care institution…).
    #[serde(default)]
    pub org: String,
    /// Region code (6 digits) the caller works in.
    #[serde(default)]
    pub region: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Expiry (seconds since epoch).
    pub exp: u64,
    /// Issued at.
    pub iat: u64,
    /// Not before (seconds since epoch), when the issuer sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

/// A verified caller, put into request extensions by the auth layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Subject.
    pub subject: String,
    /// Role.
    pub role: Role,
    /// Organisation code; empty for unscoped roles.
    pub org: String,
    /// Region of the caller; `None` only for admins.
    pub region: Option<RegionCode>,
}

/// Who did something, as stores record it on every change and history entry (the token's
/// subject and role; never an ID number).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actor {
    /// Token subject.
    pub subject: String,
    /// Role name (`operator`, `hospital`, …).
    pub role: String,
}

impl From<&Caller> for Actor {
    fn from(c: &Caller) -> Actor {
        Actor {
            subject: c.subject.clone(),
            role: c.role.as_str().to_string(),
        }
    }
}

/// Why a caller may not do something. The message is shown to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No or malformed bearer token.
    #[error("missing bearer token")]
    MissingToken,
    /// The token did not verify.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// The role may not call this method.
    #[error("role `{role}` may not call {method}")]
    RoleNotAllowed {
        /// Caller role.
        role: &'static str,
        /// Method path.
        method: String,
    },
    /// The record belongs to another organisation.
    #[error("{field} `{value}` is not your organisation")]
    OtherOrganisation {
        /// Field path.
        field: String,
        /// The value requested.
        value: String,
    },
    /// The record lies outside the caller's region.
    #[error("{field} `{value}` is outside your region {region}")]
    OutsideRegion {
        /// Field path.
        field: String,
        /// The value requested.
        value: String,
        /// Caller's region.
        region: String,
    },
}

impl Caller {
    /// Builds a caller from verified claims.
    pub fn from_claims(c: &Claims) -> Result<Caller, AuthError> {
        let role = Role::parse(&c.role)
            .ok_or_else(|| AuthError::InvalidToken(format!("unknown role `{}`", c.role)))?;
        if role.is_org_scoped() && c.org.is_empty() {
            return Err(AuthError::InvalidToken(format!(
                "role `{}` needs an `org` claim",
                c.role
            )));
        }
        let region = if c.region.is_empty() {
            None
        } else {
            Some(
                RegionCode::parse(&c.region)
                    .map_err(|e| AuthError::InvalidToken(format!("region claim {e}")))?,
            )
        };
        if role.is_region_scoped() && region.is_none() {
            return Err(AuthError::InvalidToken(format!(
                "role `{}` needs a `region` claim",
                c.role
            )));
        }
        Ok(Caller {
            subject: c.sub.clone(),
            role,
            org: c.org.clone(),
            region,
        })
    }

    /// Checks that an organisation-scoped caller owns `value` (field path `field`).
    /// Region-scoped and admin callers pass: their scope is checked by region.
    pub fn check_org(&self, field: &str, value: &str) -> Result<(), AuthError> {
        if self.role.is_org_scoped() && self.org != value {
            return Err(AuthError::OtherOrganisation {
                field: field.into(),
                value: value.into(),
            });
        }
        Ok(())
    }

    /// Checks that a region-scoped caller covers `value`. Empty values pass only for admins
    /// (list methods then default to the caller's own region in the service).
    pub fn check_region(&self, field: &str, value: &str) -> Result<(), AuthError> {
        if !self.role.is_region_scoped() {
            return Ok(());
        }
        let Some(own) = &self.region else {
            return Ok(());
        };
        let covered = RegionCode::parse(value)
            .map(|r| own.covers(&r))
            .unwrap_or(false);
        if covered {
            Ok(())
        } else {
            Err(AuthError::OutsideRegion {
                field: field.into(),
                value: value.into(),
                region: own.to_string(),
            })
        }
    }

    /// True when a region-scoped caller covers `region` (others: true).
    pub fn covers_region(&self, region: &RegionCode) -> bool {
        match (&self.role.is_region_scoped(), &self.region) {
            (true, Some(own)) => own.covers(region),
            _ => true,
        }
    }
}

/// Keys by `kid`.
type KeySet = HashMap<String, (DecodingKey, Algorithm)>;

/// Where the keys come from, to fetch them again.
#[derive(Debug, Clone)]
enum KeySource {
    /// Given once (tests, tools): never refreshed.
    Fixed,
    /// A JWKS file, read again on refresh.
    File(PathBuf),
    /// A JWKS URL, fetched again on refresh.
    Url(String),
    /// Both: the keys of the file and of the URL are trusted (the identity provider's, and
    /// the gateway's national-interface key mounted as a file).
    FileAndUrl(PathBuf, String),
}

/// Verifies tokens against keys found by `kid`. The keys are fetched again every
/// `auth.jwks_refresh_secs` ([`Verifier::start_refresh`]) and when a token names a `kid` not
/// among them (at most every 30 s), so a key rotated in at the issuer is accepted without a
/// restart. Besides signature, issuer, audience and expiry, `nbf` and `iat` are checked (with
/// 30 s of leeway) and a token living longer than `auth.max_token_lifetime_secs` is refused.
#[derive(Clone)]
pub struct Verifier {
    keys: Arc<std::sync::RwLock<Arc<KeySet>>>,
    source: KeySource,
    last_fetch: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    validation: Validation,
    max_lifetime: u64,
    /// Tokens already verified, with their caller and expiry: a partner's system reuses one
    /// token for many calls, and a signature check costs more than the rest of an eligibility
    /// answer. Bounded; a token is never accepted past its `exp`.
    verified: Arc<std::sync::Mutex<HashMap<String, (Caller, u64)>>>,
}

/// Verified tokens kept at most (the map is emptied when full).
const VERIFIED_CAPACITY: usize = 20_000;

/// Seconds of clock difference allowed on `exp`, `nbf` and `iat`.
const LEEWAY: u64 = 30;

/// Shortest pause between two fetches triggered by unknown `kid`s.
const UNKNOWN_KID_REFETCH: std::time::Duration = std::time::Duration::from_secs(30);

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<String> = self.current_keys().keys().cloned().collect();
        f.debug_struct("Verifier").field("kids", &kids).finish()
    }
}

fn key_set(set: &JwkSet) -> Result<KeySet, AuthError> {
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let kid = jwk
            .common
            .key_id
            .clone()
            .ok_or_else(|| AuthError::InvalidToken("JWKS key without kid".into()))?;
        let alg = jwk
            .common
            .key_algorithm
            .and_then(|a| a.to_string().parse::<Algorithm>().ok())
            .unwrap_or(Algorithm::EdDSA);
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|e| AuthError::InvalidToken(format!("JWKS key {kid}: {e}")))?;
        keys.insert(kid, (key, alg));
    }
    Ok(keys)
}

impl KeySource {
    /// The keys of the source now (both sets' keys for a file and a URL; a `kid` in both is
    /// the file's).
    async fn read(&self) -> Result<JwkSet, AuthError> {
        match self {
            KeySource::Fixed => Ok(JwkSet { keys: Vec::new() }),
            KeySource::File(path) => read_jwks_file(path),
            KeySource::Url(url) => fetch_jwks(url).await,
            KeySource::FileAndUrl(path, url) => {
                let mut set = read_jwks_file(path)?;
                let fetched = fetch_jwks(url).await?;
                let known: std::collections::HashSet<Option<String>> =
                    set.keys.iter().map(|k| k.common.key_id.clone()).collect();
                set.keys.extend(
                    fetched
                        .keys
                        .into_iter()
                        .filter(|k| !known.contains(&k.common.key_id)),
                );
                Ok(set)
            }
        }
    }
}

fn read_jwks_file(path: &Path) -> Result<JwkSet, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        AuthError::InvalidToken(format!("cannot read JWKS file {}: {e}", path.display()))
    })?;
    serde_json::from_str(&text).map_err(|e| AuthError::InvalidToken(format!("JWKS file: {e}")))
}

async fn fetch_jwks(url: &str) -> Result<JwkSet, AuthError> {
    reqwest::get(url)
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| AuthError::InvalidToken(format!("JWKS fetch {url}: {e}")))?
        .json()
        .await
        .map_err(|e| AuthError::InvalidToken(format!("JWKS parse {url}: {e}")))
}

impl Verifier {
    /// Builds a verifier from a JWKS document (never refreshed).
    pub fn from_jwks(set: &JwkSet, issuer: &str, audience: &str) -> Result<Verifier, AuthError> {
        Self::with_source(set, KeySource::Fixed, issuer, audience)
    }

    fn with_source(
        set: &JwkSet,
        source: KeySource,
        issuer: &str,
        audience: &str,
    ) -> Result<Verifier, AuthError> {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.leeway = LEEWAY;
        validation.validate_nbf = true;
        Ok(Verifier {
            keys: Arc::new(std::sync::RwLock::new(Arc::new(key_set(set)?))),
            source,
            last_fetch: Arc::default(),
            validation,
            max_lifetime: crate::config::AuthConfig::default().max_token_lifetime_secs,
            verified: Arc::default(),
        })
    }

    /// The same verifier refusing tokens that live longer than `secs`.
    pub fn with_max_lifetime(mut self, secs: u64) -> Verifier {
        self.max_lifetime = secs;
        self
    }

    /// Loads a JWKS file (read again on refresh).
    pub fn from_jwks_file(
        path: &Path,
        issuer: &str,
        audience: &str,
    ) -> Result<Verifier, AuthError> {
        let set = read_jwks_file(path)?;
        Self::with_source(&set, KeySource::File(path.to_path_buf()), issuer, audience)
    }

    /// Fetches a JWKS document over HTTP(S) (fetched again on refresh).
    pub async fn from_jwks_url(
        url: &str,
        issuer: &str,
        audience: &str,
    ) -> Result<Verifier, AuthError> {
        let set = fetch_jwks(url).await?;
        Self::with_source(&set, KeySource::Url(url.to_string()), issuer, audience)
    }

    /// Trusts the keys of a JWKS file and of a JWKS URL together (both read again on
    /// refresh).
    pub async fn from_jwks_file_and_url(
        path: &Path,
        url: &str,
        issuer: &str,
        audience: &str,
    ) -> Result<Verifier, AuthError> {
        let source = KeySource::FileAndUrl(path.to_path_buf(), url.to_string());
        let set = source.read().await?;
        Self::with_source(&set, source, issuer, audience)
    }

    /// From the auth configuration: a JWKS file, a JWKS URL, or both — then the keys of both
    /// are trusted (the identity provider's at the URL, the gateway's national-interface key
    /// in the file) — refreshed every `jwks_refresh_secs` for the life of the process.
    pub async fn from_config(cfg: &crate::config::AuthConfig) -> Result<Verifier, AuthError> {
        let v = if !cfg.jwks_file.is_empty() && !cfg.jwks_url.is_empty() {
            Self::from_jwks_file_and_url(
                Path::new(&cfg.jwks_file),
                &cfg.jwks_url,
                &cfg.issuer,
                &cfg.audience,
            )
            .await?
        } else if !cfg.jwks_file.is_empty() {
            Self::from_jwks_file(Path::new(&cfg.jwks_file), &cfg.issuer, &cfg.audience)?
        } else {
            Self::from_jwks_url(&cfg.jwks_url, &cfg.issuer, &cfg.audience).await?
        }
        .with_max_lifetime(cfg.max_token_lifetime_secs);
        v.start_refresh(std::time::Duration::from_secs(cfg.jwks_refresh_secs.max(1)));
        Ok(v)
    }

    fn current_keys(&self) -> Arc<KeySet> {
        Arc::clone(&self.keys.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Fetches the keys again from their source; a failure keeps the keys there are.
    pub async fn refresh(&self) -> Result<(), AuthError> {
        if matches!(self.source, KeySource::Fixed) {
            return Ok(());
        }
        let set = self.source.read().await?;
        let keys = key_set(&set)?;
        *self.last_fetch.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(std::time::Instant::now());
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
        Ok(())
    }

    /// Refreshes the keys every `every` for the life of the process.
    pub fn start_refresh(&self, every: std::time::Duration) {
        if matches!(self.source, KeySource::Fixed) {
            return;
        }
        let v = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Err(e) = v.refresh().await {
                    tracing::warn!(error = %e, "JWKS refresh failed; the keys in use are kept");
                }
            }
        });
    }

    /// A token named an unknown `kid`: fetch the keys again unless that was done in the last
    /// 30 s. A file is read at once (the token is then checked against it); a URL is fetched
    /// in the background, so the token is refused now and accepted once the fetch is in.
    fn refetch_for_unknown_kid(&self) -> bool {
        {
            let mut last = self.last_fetch.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < UNKNOWN_KID_REFETCH) {
                return false;
            }
            *last = Some(std::time::Instant::now());
        }
        match &self.source {
            KeySource::Fixed => false,
            KeySource::File(path) => match read_jwks_file(path).and_then(|s| key_set(&s)) {
                Ok(keys) => {
                    *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
                    true
                }
                Err(e) => {
                    tracing::warn!(error = %e, "JWKS re-read for an unknown kid failed");
                    false
                }
            },
            KeySource::Url(_) | KeySource::FileAndUrl(..) => {
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    let v = self.clone();
                    handle.spawn(async move {
                        if let Err(e) = v.refresh().await {
                            tracing::warn!(error = %e, "JWKS fetch for an unknown kid failed");
                        }
                    });
                }
                false
            }
        }
    }

    /// Verifies a compact JWT and returns the caller.
    pub fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let cached = self
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .filter(|(_, exp)| now < *exp)
            .map(|(c, _)| c.clone());
        if let Some(caller) = cached {
            return Ok(caller);
        }
        let (caller, exp) = self.verify_signature(token)?;
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(token.to_string(), (caller.clone(), exp));
        Ok(caller)
    }

    fn verify_signature(&self, token: &str) -> Result<(Caller, u64), AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| AuthError::InvalidToken(e.to_string()))?;
        let kid = header
            .kid
            .ok_or_else(|| AuthError::InvalidToken("token has no kid".into()))?;
        let mut keys = self.current_keys();
        if !keys.contains_key(&kid) && self.refetch_for_unknown_kid() {
            keys = self.current_keys();
        }
        let (key, alg) = keys
            .get(&kid)
            .ok_or_else(|| AuthError::InvalidToken(format!("unknown kid `{kid}`")))?;
        if header.alg != *alg {
            return Err(AuthError::InvalidToken(
                "algorithm does not match the key".into(),
            ));
        }
        let mut validation = self.validation.clone();
        validation.algorithms = vec![*alg];
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| AuthError::InvalidToken(e.to_string()))?;
        let c = &data.claims;
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        if c.iat > now + LEEWAY {
            return Err(AuthError::InvalidToken("iat is in the future".into()));
        }
        if c.exp.saturating_sub(c.iat) > self.max_lifetime {
            return Err(AuthError::InvalidToken(format!(
                "token lifetime {} s exceeds the maximum of {} s",
                c.exp.saturating_sub(c.iat),
                self.max_lifetime
            )));
        }
        Ok((Caller::from_claims(c)?, c.exp))
    }

    /// Verifies the value of an `authorization` header (`Bearer <jwt>`).
    pub fn verify_header(&self, value: Option<&str>) -> Result<Caller, AuthError> {
        let token = value
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or(AuthError::MissingToken)?;
        self.verify(token.trim())
    }
}

/// An Ed25519 signing key for development and the embedded mode, stored as PKCS#8 PEM with
/// its public half as a JWKS file beside it.
#[derive(Clone)]
pub struct DevKeys {
    kid: String,
    encoding: EncodingKey,
    jwks: JwkSet,
    /// Path of the JWKS file.
    pub jwks_path: PathBuf,
}

impl std::fmt::Debug for DevKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevKeys")
            .field("kid", &self.kid)
            .field("jwks_path", &self.jwks_path)
            .finish()
    }
}

impl DevKeys {
    /// Loads `dev-signing-key.pem` from `dir`, creating it (and `jwks.json`) on first use.
    pub fn load_or_create(dir: &Path) -> std::io::Result<DevKeys> {
        use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
        std::fs::create_dir_all(dir)?;
        let pem_path = dir.join("dev-signing-key.pem");
        let signing = if pem_path.exists() {
            let pem = std::fs::read_to_string(&pem_path)?;
            ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(std::io::Error::other)?
        } else {
            let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
            let pem = key
                .to_pkcs8_pem(Default::default())
                .map_err(std::io::Error::other)?;
            write_private(&pem_path, pem.as_bytes())?;
            key
        };
        let der = signing.to_pkcs8_der().map_err(std::io::Error::other)?;
        use base64::Engine as _;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(signing.verifying_key().to_bytes());
        let kid = format!("dev-{}", &x[..8]);
        let jwk: Jwk = serde_json::from_value(serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"
        }))
        .map_err(std::io::Error::other)?;
        let jwks = JwkSet { keys: vec![jwk] };
        let jwks_path = dir.join("jwks.json");
        std::fs::write(
            &jwks_path,
            serde_json::to_vec_pretty(&jwks).map_err(std::io::Error::other)?,
        )?;
        Ok(DevKeys {
            kid,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            jwks,
            jwks_path,
        })
    }

    /// The public keys.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// A verifier for these keys.
    pub fn verifier(&self, issuer: &str, audience: &str) -> Result<Verifier, AuthError> {
        Verifier::from_jwks(&self.jwks, issuer, audience)
    }

    /// Mints a token: every claim is its own argument so that a test reads as the token it makes.
    #[allow(clippy::too_many_arguments)]
    pub fn mint(
        &self,
        role: Role,
        org: &str,
        region: &str,
        subject: &str,
        ttl_secs: u64,
        issuer: &str,
        audience: &str,
    ) -> Result<String, AuthError> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        self.sign(&Claims {
            sub: subject.into(),
            role: role.as_str().into(),
            org: org.into(),
            region: region.into(),
            iss: issuer.into(),
            aud: audience.into(),
            exp: now + ttl_secs,
            iat: now,
            nbf: None,
        })
    }

    /// Signs claims as they are (tools and tests that need a token with particular times).
    pub fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| AuthError::InvalidToken(e.to_string()))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims_at(iat: i64, exp: i64, nbf: Option<i64>) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            sub: "his-1".into(),
            role: "hospital".into(),
            org: "H34152200001".into(),
            region: "341522".into(),
            iss: "yibao".into(),
            aud: "yibao-api".into(),
            exp: (now + exp) as u64,
            iat: (now + iat) as u64,
            nbf: nbf.map(|n| (now + n) as u64),
        }
    }

    #[test]
    fn not_before_issued_at_and_the_longest_lifetime_are_enforced() {
        let k = keys();
        let v = k
            .verifier("yibao", "yibao-api")
            .unwrap_or_else(|e| panic!("{e}"))
            .with_max_lifetime(3_600);
        let verify = |c: &Claims| v.verify(&k.sign(c).unwrap_or_default());
        assert!(verify(&claims_at(0, 600, None)).is_ok());
        assert!(verify(&claims_at(0, 600, Some(-10))).is_ok());
        let refused = |c: &Claims, why: &str| match verify(c) {
            Err(AuthError::InvalidToken(m)) => assert!(m.contains(why), "{m}"),
            other => panic!("expected a refusal ({why}), got {other:?}"),
        };
        refused(&claims_at(0, 600, Some(300)), "ImmatureSignature");
        refused(&claims_at(300, 900, None), "iat is in the future");
        refused(
            &claims_at(0, 3_601 + 60, None),
            "exceeds the maximum of 3600 s",
        );
    }

    #[test]
    fn a_key_rotated_into_the_jwks_file_is_accepted_without_a_restart() {
        let old = keys();
        let new = keys();
        let file = std::env::temp_dir().join(format!("yibao-jwks-{}.json", rand::random::<u32>()));
        let write = |set: &JwkSet| {
            std::fs::write(&file, serde_json::to_string(set).unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}"))
        };
        write(old.jwks());
        let v =
            Verifier::from_jwks_file(&file, "yibao", "yibao-api").unwrap_or_else(|e| panic!("{e}"));
        let token = |k: &DevKeys| {
            k.mint(
                Role::Hospital,
                "H34152200001",
                "341522",
                "his-1",
                60,
                "yibao",
                "yibao-api",
            )
            .unwrap_or_default()
        };
        assert!(v.verify(&token(&old)).is_ok());
        assert!(v.verify(&token(&new)).is_err(), "not in the file yet");
        // The issuer publishes both keys. The refusal above already spent the unknown-kid
        // re-read (at most one per 30 s), so the scheduled refresh is what picks them up.
        let mut both = old.jwks().clone();
        both.keys.extend(new.jwks().keys.iter().cloned());
        write(&both);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(v.refresh()).unwrap_or_else(|e| panic!("{e}"));
        assert!(v.verify(&token(&new)).is_ok());
        assert!(v.verify(&token(&old)).is_ok());
        let _ = std::fs::remove_file(&file);
    }

    #[test]
    fn an_unknown_kid_reads_the_jwks_file_again_at_once() {
        let old = keys();
        let new = keys();
        let file = std::env::temp_dir().join(format!("yibao-jwks-{}.json", rand::random::<u32>()));
        std::fs::write(&file, serde_json::to_string(old.jwks()).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        let v =
            Verifier::from_jwks_file(&file, "yibao", "yibao-api").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&file, serde_json::to_string(new.jwks()).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
        let t = new
            .mint(
                Role::Hospital,
                "H34152200001",
                "341522",
                "his-1",
                60,
                "yibao",
                "yibao-api",
            )
            .unwrap_or_default();
        assert!(
            v.verify(&t).is_ok(),
            "the first unknown kid re-reads the file"
        );
        let _ = std::fs::remove_file(&file);
    }

    #[test]
    fn with_a_file_and_a_url_the_keys_of_both_are_trusted() {
        let provider = keys();
        let gateway = keys();
        let file = std::env::temp_dir().join(format!("yibao-jwks-{}.json", rand::random::<u32>()));
        std::fs::write(
            &file,
            serde_json::to_string(gateway.jwks()).unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let body = serde_json::to_string(provider.jwks()).unwrap_or_default();
        let v = rt.block_on(async {
            // A one-shot HTTP server answering the provider's JWKS.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                while let Ok((mut sock, _)) = listener.accept().await {
                    let mut buf = [0u8; 1024];
                    let _ = sock.read(&mut buf).await;
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(reply.as_bytes()).await;
                }
            });
            let cfg = crate::config::AuthConfig {
                jwks_url: format!("http://{addr}/jwks.json"),
                jwks_file: file.display().to_string(),
                ..Default::default()
            };
            Verifier::from_config(&cfg)
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        });
        let token = |k: &DevKeys| {
            k.mint(Role::Admin, "", "", "a", 60, "yibao", "yibao-api")
                .unwrap_or_default()
        };
        assert!(v.verify(&token(&provider)).is_ok(), "the URL's key");
        assert!(v.verify(&token(&gateway)).is_ok(), "the file's key");
        assert!(v.verify(&token(&keys())).is_err(), "a key in neither");
        let _ = std::fs::remove_file(&file);
    }

    fn keys() -> DevKeys {
        let dir = std::env::temp_dir().join(format!(
            "yibao-auth-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        DevKeys::load_or_create(&dir).unwrap_or_else(|e| panic!("dev keys: {e}"))
    }

    #[test]
    fn a_minted_token_verifies_into_a_caller() {
        let k = keys();
        let v = k
            .verifier("yibao", "yibao-api")
            .unwrap_or_else(|e| panic!("{e}"));
        let t = k
            .mint(
                Role::Hospital,
                "H34152200001",
                "341522",
                "his-1",
                60,
                "yibao",
                "yibao-api",
            )
            .unwrap_or_default();
        let c = v
            .verify_header(Some(&format!("Bearer {t}")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.role, Role::Hospital);
        assert_eq!(c.org, "H34152200001");
        assert!(c.check_org("institution_code", "H34152200001").is_ok());
        assert_eq!(
            c.check_org("institution_code", "H34152200002"),
            Err(AuthError::OtherOrganisation {
                field: "institution_code".into(),
                value: "H34152200002".into()
            })
        );
        // Verified once, answered from the cache after; a token differing by one character
        // is still checked and refused.
        assert_eq!(v.verify(&t), Ok(c));
        let mid = t.len() / 2;
        let swap = if t.as_bytes().get(mid) == Some(&b'A') {
            "B"
        } else {
            "A"
        };
        let tampered = format!("{}{swap}{}", &t[..mid], &t[mid + 1..]);
        assert!(matches!(
            v.verify(&tampered),
            Err(AuthError::InvalidToken(_))
        ));
    }

    #[test]
    fn wrong_audience_expired_and_foreign_keys_are_refused() {
        let k = keys();
        let other = keys();
        let v = k
            .verifier("yibao", "yibao-api")
            .unwrap_or_else(|e| panic!("{e}"));
        let wrong_aud = k
            .mint(Role::Admin, "", "", "a", 60, "yibao", "elsewhere")
            .unwrap_or_default();
        assert!(matches!(
            v.verify(&wrong_aud),
            Err(AuthError::InvalidToken(_))
        ));
        let foreign = other
            .mint(Role::Admin, "", "", "a", 60, "yibao", "yibao-api")
            .unwrap_or_default();
        assert!(
            matches!(v.verify(&foreign), Err(AuthError::InvalidToken(m)) if m.contains("unknown kid"))
        );
        assert_eq!(v.verify_header(None), Err(AuthError::MissingToken));
    }

    #[test]
    fn operators_are_confined_to_their_region_prefix() {
        let c = Caller {
            subject: "op".into(),
            role: Role::Operator,
            org: String::new(),
            region: RegionCode::parse("341500").ok(),
        };
        assert!(c.check_region("region_code", "341522").is_ok());
        assert!(c.check_region("region_code", "342201").is_err());
        assert!(c.check_region("region_code", "").is_err());
    }

    #[test]
    fn scoped_roles_need_their_scope_claims() {
        let base = Claims {
            sub: "s".into(),
            role: "hospital".into(),
            org: String::new(),
            region: String::new(),
            iss: "yibao".into(),
            aud: "yibao-api".into(),
            exp: 0,
            iat: 0,
            nbf: None,
        };
        assert!(Caller::from_claims(&base).is_err());
        let op = Claims {
            role: "operator".into(),
            ..base.clone()
        };
        assert!(Caller::from_claims(&op).is_err());
        let bad = Claims {
            role: "root".into(),
            ..base
        };
        assert!(Caller::from_claims(&bad).is_err());
    }
}
