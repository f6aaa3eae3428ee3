//! Who calls, and whether this call may go on: the `x-tif-*` credentials checked against the
//! institution's as enrollment keeps them (cached for a minute by `paasid`), the nonce
//! remembered for the window, the sign-in (`sign_no`), the `msgid` bound to one request; and
//! the short-lived tokens the gateway presents to the services on the institution's behalf.
//!
//! The cache holds only digests, nonces and sign-in numbers: never a request's or an answer's
//! content (no ID numbers, no names). When it is unreachable the interface refuses (a replay
//! could not be told apart), and says so.

use super::{Call, Output, Refusal, input::Node};
use crate::Gateway;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use yibao_fsi::envelope::Request;
use yibao_fsi::signature::Credentials;
use yibao_proto::enrollment::v1 as enrollment;
use yibao_runtime::auth::{Claims, Role};

/// How long a resolved credential is used before enrollment is asked again.
pub const CREDENTIAL_TTL: Duration = Duration::from_secs(60);
/// How long a `msgid` stays bound to its request.
pub const MSGID_TTL: Duration = Duration::from_secs(2 * 24 * 3600);
/// How long a sign-in lasts.
pub const SIGN_IN_TTL: Duration = Duration::from_secs(24 * 3600);
/// The subject of the gateway's own (admin) token.
pub const GATEWAY_SUBJECT: &str = "gateway/national-interface";

/// The key the gateway signs its interface tokens with: `dev-signing-key.pem` (PKCS#8 Ed25519)
/// and the `kid` of `jwks.json` beside it — the files `DevKeys` writes — read only, so the
/// directory may be a read-only Secret mount.
pub struct Signer {
    kid: String,
    key: jsonwebtoken::EncodingKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).finish()
    }
}

impl Signer {
    /// Reads the key of `dir`.
    pub fn load(dir: &std::path::Path) -> Result<Signer, String> {
        let pem_path = dir.join("dev-signing-key.pem");
        use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
        let pem = std::fs::read_to_string(&pem_path)
            .map_err(|e| format!("{}: {e}", pem_path.display()))?;
        let der = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem)
            .and_then(|k| k.to_pkcs8_der())
            .map_err(|e| format!("{}: {e}", pem_path.display()))?;
        let key = jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes());
        let jwks_path = dir.join("jwks.json");
        let jwks: serde_json::Value = std::fs::read(&jwks_path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            .map_err(|e| format!("{}: {e}", jwks_path.display()))?;
        let kid = jwks["keys"][0]["kid"]
            .as_str()
            .ok_or_else(|| format!("{}: no key with a kid", jwks_path.display()))?
            .to_string();
        Ok(Signer { kid, key })
    }

    /// Signs a token of `role` for `org` with the settings' issuer, audience and lifetime.
    pub fn mint(
        &self,
        settings: &super::InterfaceSettings,
        role: Role,
        org: &str,
        subject: &str,
    ) -> Result<String, String> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let claims = Claims {
            sub: subject.into(),
            role: role.as_str().into(),
            org: org.into(),
            region: String::new(),
            iss: settings.issuer.clone(),
            aud: settings.audience.clone(),
            exp: now + settings.token_ttl_secs.max(1),
            iat: now,
            nbf: None,
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| e.to_string())
    }
}

/// A credential as enrollment resolved it.
#[derive(Debug, Clone)]
struct Resolved {
    paas_token: String,
    institution: String,
    active: bool,
}

/// In-process caches: credentials by `paasid` (a minute), tokens by (institution, operator)
/// and the gateway's own, each reused for half its life.
#[derive(Debug, Default)]
pub struct Caches {
    credentials: Mutex<HashMap<String, (Resolved, Instant)>>,
    tokens: Mutex<HashMap<(String, String), (http::HeaderValue, Instant)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A token for (`org`, `subject`), minted or reused while less than half its life is spent.
fn token(
    g: &Gateway,
    signer: &Signer,
    role: Role,
    org: &str,
    subject: &str,
) -> Result<http::HeaderValue, Refusal> {
    let settings = &g.interface.settings;
    let reuse = Duration::from_secs(settings.token_ttl_secs.max(2) / 2);
    let key = (org.to_string(), subject.to_string());
    if let Some((t, at)) = lock(&g.interface.caches.tokens).get(&key)
        && at.elapsed() < reuse
    {
        return Ok(t.clone());
    }
    let minted = signer
        .mint(settings, role, org, subject)
        .map_err(|e| Refusal::new(tonic::Code::Internal, format!("token: {e}")))?;
    let value = http::HeaderValue::try_from(format!("Bearer {minted}"))
        .map_err(|e| Refusal::new(tonic::Code::Internal, format!("token: {e}")))?;
    let mut tokens = lock(&g.interface.caches.tokens);
    if tokens.len() > 10_000 {
        tokens.clear();
    }
    tokens.insert(key, (value.clone(), Instant::now()));
    Ok(value)
}

/// The hospital token for the institution's calls by `opter` (sub `fsi/<paasid>/<opter>`).
pub fn hospital_token(
    g: &Gateway,
    signer: &Signer,
    admitted: &Admitted,
    opter: &str,
) -> Result<http::HeaderValue, Refusal> {
    let subject = format!("fsi/{}/{opter}", admitted.paasid);
    token(g, signer, Role::Hospital, &admitted.institution, &subject)
}

/// Who the credentials name.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// The institution (= `fixmedins_code`).
    pub institution: String,
    /// The access id.
    pub paasid: String,
}

fn key(g: &Gateway, kind: &str, rest: &str) -> String {
    format!("{}:fsi:{kind}:{rest}", g.settings.key_prefix)
}

fn store_down(what: &str, e: &impl std::fmt::Display) -> Refusal {
    tracing::warn!(error = %e, "national interface: replay store unavailable");
    Refusal::new(
        tonic::Code::Unavailable,
        format!(
            "{what}: cannot be checked now (the gateway's replay store is unavailable); nothing was done, retry"
        ),
    )
}

async fn resolve(
    g: &Gateway,
    signer: &Signer,
    req: &Request,
    paasid: &str,
) -> Result<Resolved, Refusal> {
    if let Some((r, at)) = lock(&g.interface.caches.credentials).get(paasid)
        && at.elapsed() < CREDENTIAL_TTL
    {
        return Ok(r.clone());
    }
    let admin = token(g, signer, Role::Admin, "", GATEWAY_SUBJECT)?;
    let call = Call {
        g,
        req,
        institution: String::new(),
        authorization: admin,
        request_id: uuid::Uuid::new_v4().to_string(),
        deadline: Instant::now() + Duration::from_millis(g.settings.request_timeout_ms),
    };
    let msg = enrollment::ResolveInterfaceCredentialRequest {
        paasid: paasid.to_string(),
    };
    let answer = call
        .rpc(
            "enrollment",
            "ResolveInterfaceCredential",
            msg,
            &[],
            |ch, r| async move {
                enrollment::enrollment_service_client::EnrollmentServiceClient::new(ch)
                    .resolve_interface_credential(r)
                    .await
            },
        )
        .await;
    let out = match answer {
        Ok(out) => out,
        Err(r) if r.code == tonic::Code::NotFound => {
            return Err(Refusal::new(
                tonic::Code::Unauthenticated,
                format!("x-tif-paasid: no credentials are issued under `{paasid}`"),
            ));
        }
        Err(r) => return Err(r),
    };
    let cred = out.credential.unwrap_or_default();
    let resolved = Resolved {
        paas_token: cred.paas_token,
        institution: cred.institution_code,
        active: out.institution_status == enrollment::InstitutionStatus::Active as i32,
    };
    let mut map = lock(&g.interface.caches.credentials);
    if map.len() > 10_000 {
        map.clear();
    }
    map.insert(paasid.to_string(), (resolved.clone(), Instant::now()));
    Ok(resolved)
}

/// Checks the credentials, the institution and the nonce.
pub async fn admit(
    g: &Gateway,
    signer: &Signer,
    headers: &http::HeaderMap,
    req: &Request,
) -> Result<Admitted, Refusal> {
    let unauthenticated = |e: yibao_fsi::signature::CredentialError| {
        Refusal::new(tonic::Code::Unauthenticated, e.to_string())
    };
    let creds = Credentials::from_headers(|name| headers.get(name).and_then(|v| v.to_str().ok()))
        .map_err(unauthenticated)?;
    let resolved = resolve(g, signer, req, &creds.paasid).await?;
    let window = g.interface.settings.timestamp_window_secs;
    creds
        .verify(
            &resolved.paas_token,
            chrono::Utc::now().timestamp(),
            i64::try_from(window).unwrap_or(i64::MAX),
        )
        .map_err(unauthenticated)?;
    if !resolved.active {
        return Err(Refusal::new(
            tonic::Code::PermissionDenied,
            format!(
                "x-tif-paasid: institution {} is not an active designated institution",
                resolved.institution
            ),
        ));
    }
    if req.fixmedins_code != resolved.institution {
        return Err(Refusal::new(
            tonic::Code::PermissionDenied,
            format!(
                "fixmedins_code: `{}` is not the institution of x-tif-paasid",
                req.fixmedins_code
            ),
        ));
    }
    // A nonce once within twice the window (the timestamp may be a window either side).
    let remember = Duration::from_secs(window.saturating_mul(2).saturating_add(1));
    match g
        .cache
        .set_if_absent(
            &key(g, "nonce", &creds.nonce_key()),
            b"1".to_vec(),
            remember,
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return Err(Refusal::new(
                tonic::Code::Unauthenticated,
                "x-tif-nonce: already used within the timestamp window",
            ));
        }
        Err(e) => return Err(store_down("x-tif-nonce", &e)),
    }
    crate::edge::note_caller(Role::Hospital.as_str(), &resolved.institution);
    Ok(Admitted {
        institution: resolved.institution,
        paasid: creds.paasid,
    })
}

/// The digest a `msgid` is bound to: the transaction and its input as sent.
pub fn request_digest(req: &Request) -> String {
    hex::encode(Sha256::digest(
        [req.infno.as_bytes(), b"\n", req.input.get().as_bytes()].concat(),
    ))
}

/// Binds `msgid` to this request for two days: the same id with another request is refused;
/// the same request again goes on (the services answer it from their own keys).
pub async fn check_msgid(g: &Gateway, institution: &str, req: &Request) -> Result<(), Refusal> {
    let k = key(g, "msgid", &format!("{institution}:{}", req.msgid));
    let digest = request_digest(req);
    match g
        .cache
        .set_if_absent(&k, digest.clone().into_bytes(), MSGID_TTL)
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => match g.cache.get(&k).await {
            Ok(Some(d)) if d != digest.as_bytes() => Err(Refusal::new(
                tonic::Code::AlreadyExists,
                "msgid: already used for another request",
            )),
            Ok(_) => Ok(()),
            Err(e) => Err(store_down("msgid", &e)),
        },
        Err(e) => Err(store_down("msgid", &e)),
    }
}

#[derive(Serialize)]
struct SignInOut {
    signinoutb: SignInfo,
}

#[derive(Serialize)]
struct SignInfo {
    sign_time: String,
    sign_no: String,
}

fn now_text() -> String {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// 9001: a `sign_no` for the institution, valid for a day.
pub async fn sign_in(c: &Call<'_>) -> Result<Output, Refusal> {
    let node = Node::of(&c.req.input, "signIn")?;
    node.req("opter_no")?;
    let random = uuid::Uuid::new_v4().as_u128() % 10_000_000_000_000_000;
    let sign_no = format!("{}{random:016}", chrono::Utc::now().format("%Y%m%d%H%M%S"));
    c.g.cache
        .set(
            &key(c.g, "sign", &format!("{}:{sign_no}", c.institution)),
            c.req.opter.clone().into_bytes(),
            SIGN_IN_TTL,
        )
        .await
        .map_err(|e| store_down("sign_no", &e))?;
    Output::of(&SignInOut {
        signinoutb: SignInfo {
            sign_time: now_text(),
            sign_no,
        },
    })
}

/// 9002: ends a sign-in.
pub async fn sign_out(c: &Call<'_>) -> Result<Output, Refusal> {
    let node = Node::of(&c.req.input, "signOut")?;
    let sign_no = node.req("sign_no")?;
    let k = key(c.g, "sign", &format!("{}:{sign_no}", c.institution));
    match c.g.cache.get(&k).await {
        Ok(Some(_)) => {}
        Ok(None) => return Err(Refusal::field("input.signOut.sign_no", "is not signed in")),
        Err(e) => return Err(store_down("sign_no", &e)),
    }
    c.g.cache
        .delete(std::slice::from_ref(&k))
        .await
        .map_err(|e| store_down("sign_no", &e))?;
    #[derive(Serialize)]
    struct Out {
        signoutoutb: SignOutInfo,
    }
    #[derive(Serialize)]
    struct SignOutInfo {
        sign_time: String,
    }
    Output::of(&Out {
        signoutoutb: SignOutInfo {
            sign_time: now_text(),
        },
    })
}

/// Every transaction but 9001/9002 needs a `sign_no` in force.
pub async fn check_sign_no(c: &Call<'_>) -> Result<(), Refusal> {
    let Some(sign_no) = &c.req.sign_no else {
        return Err(Refusal::new(
            tonic::Code::Unauthenticated,
            "sign_no: is required (sign in with 9001)",
        ));
    };
    match c
        .g
        .cache
        .get(&key(c.g, "sign", &format!("{}:{sign_no}", c.institution)))
        .await
    {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(Refusal::new(
            tonic::Code::Unauthenticated,
            "sign_no: unknown or expired; sign in again with 9001",
        )),
        Err(e) => Err(store_down("sign_no", &e)),
    }
}

#[cfg(test)]
impl Caches {
    /// Puts a resolved credential in the cache, as enrollment would answer it.
    pub(crate) fn prime(&self, paasid: &str, paas_token: &str, institution: &str, active: bool) {
        lock(&self.credentials).insert(
            paasid.to_string(),
            (
                Resolved {
                    paas_token: paas_token.to_string(),
                    institution: institution.to_string(),
                    active,
                },
                Instant::now(),
            ),
        );
    }
}
