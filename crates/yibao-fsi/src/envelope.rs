//! The request and response envelopes of `POST /fsi/api/rsfComIfsService/callService`.
//!
//! Every header field of the request is checked for presence, length and form, each failure
//! naming its field (`msgid: …`); `input` is kept as its raw JSON text so that each
//! transaction reads its own node, and money in it, exactly.

use crate::decimal::DecimalError;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use std::fmt;

/// Longest `input` the interface accepts, in characters.
pub const MAX_INPUT_CHARS: usize = 40_000;

/// Longest `err_msg` the interface carries (C200), in characters.
pub const MAX_ERR_MSG_CHARS: usize = 200;

/// One refused field: where it is in the request and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path in the request, `msgid` or `input.data.psn_no`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A refusal of the field at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }

    /// A decimal that could not be read, at `path`.
    pub fn decimal(path: impl Into<String>, e: &DecimalError) -> FieldError {
        FieldError::new(path, e.to_string())
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The refusals of one request as the interface's `err_msg`: joined by `; `, cut to 200
/// characters (on a character boundary).
pub fn err_msg(errors: &[FieldError]) -> String {
    let joined = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    match joined.char_indices().nth(MAX_ERR_MSG_CHARS) {
        Some((cut, _)) => joined[..cut].to_string(),
        None => joined,
    }
}

/// A header field as sent: HIS send some fields (`opter_type`) as numbers, most as strings.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(other) => Some(other.to_string()),
    })
}

/// The request envelope exactly as received; [`Request::check`] validates it.
#[derive(Debug, Default, Deserialize)]
pub struct RawRequest {
    #[serde(default, deserialize_with = "text")]
    infno: Option<String>,
    #[serde(default, deserialize_with = "text")]
    msgid: Option<String>,
    #[serde(default, deserialize_with = "text")]
    mdtrtarea_admvs: Option<String>,
    #[serde(default, deserialize_with = "text")]
    insuplc_admdvs: Option<String>,
    #[serde(default, deserialize_with = "text")]
    recer_sys_code: Option<String>,
    #[serde(default, deserialize_with = "text")]
    dev_no: Option<String>,
    #[serde(default, deserialize_with = "text")]
    dev_safe_info: Option<String>,
    #[serde(default, deserialize_with = "text")]
    cainfo: Option<String>,
    #[serde(default, deserialize_with = "text")]
    signtype: Option<String>,
    #[serde(default, deserialize_with = "text")]
    infver: Option<String>,
    #[serde(default, deserialize_with = "text")]
    opter_type: Option<String>,
    #[serde(default, deserialize_with = "text")]
    opter: Option<String>,
    #[serde(default, deserialize_with = "text")]
    opter_name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    inf_time: Option<String>,
    #[serde(default, deserialize_with = "text")]
    fixmedins_code: Option<String>,
    #[serde(default, deserialize_with = "text")]
    fixmedins_name: Option<String>,
    #[serde(default, deserialize_with = "text")]
    sign_no: Option<String>,
    #[serde(default)]
    input: Option<Box<RawValue>>,
}

/// Who operates the HIS end of a call (`opter_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorType {
    /// 1: a clerk (经办人).
    Clerk,
    /// 2: a self-service kiosk (自助终端).
    Kiosk,
    /// 3: a mobile terminal (移动终端).
    Mobile,
}

/// A checked request envelope.
#[derive(Debug)]
pub struct Request {
    /// Transaction number (`infno`).
    pub infno: String,
    /// The sender's message id, 30 characters.
    pub msgid: String,
    /// When the sender stamped `msgid` (its characters 13–26).
    pub msg_time: NaiveDateTime,
    /// Place of treatment (`mdtrtarea_admvs`).
    pub mdtrtarea_admvs: String,
    /// Place of insurance (`insuplc_admdvs`), required by transactions that name a person.
    pub insuplc_admdvs: Option<String>,
    /// Receiving system (`recer_sys_code`), `YBXT` when absent.
    pub recer_sys_code: String,
    /// Device number.
    pub dev_no: Option<String>,
    /// Device security information.
    pub dev_safe_info: Option<String>,
    /// Encrypted card or e-voucher data.
    pub cainfo: Option<String>,
    /// Signature type (`SM2`, `SM3`).
    pub signtype: Option<String>,
    /// Interface version (`V1.0`).
    pub infver: Option<String>,
    /// Operator kind.
    pub opter_type: OperatorType,
    /// Operator code.
    pub opter: String,
    /// Operator name.
    pub opter_name: String,
    /// The sender's time of the call, if sent.
    pub inf_time: Option<NaiveDateTime>,
    /// The designated institution's code.
    pub fixmedins_code: String,
    /// Its name as the HIS sends it.
    pub fixmedins_name: Option<String>,
    /// The sign-in number from 9001, if sent.
    pub sign_no: Option<String>,
    /// The transaction's input, as raw JSON text (an object).
    pub input: Box<RawValue>,
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// A field of at most `max` characters; `None` when absent (and then refused if required).
    fn text(
        &mut self,
        field: &str,
        v: Option<String>,
        max: usize,
        required: bool,
    ) -> Option<String> {
        let v = v.filter(|s| !s.is_empty());
        match v {
            None if required => {
                self.fail(field, "is required");
                None
            }
            Some(s) if s.chars().count() > max => {
                self.fail(field, format!("is longer than {max} characters"));
                None
            }
            v => v,
        }
    }

    /// A region code: six digits.
    fn region(&mut self, field: &str, v: Option<String>, required: bool) -> Option<String> {
        let v = self.text(field, v, 6, required)?;
        if v.len() == 6 && digits(&v) {
            Some(v)
        } else {
            self.fail(field, format!("must be a 6-digit region code, got `{v}`"));
            None
        }
    }
}

fn time14(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S").ok()
}

impl RawRequest {
    /// Reads the envelope from the request body; a body that is not a JSON object is refused
    /// as a whole (path `body`).
    pub fn parse(body: &[u8]) -> Result<RawRequest, FieldError> {
        // serde reads a struct from an array too: only an object is an envelope.
        if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(FieldError::new("body", "must be a JSON object"));
        }
        serde_json::from_slice(body)
            .map_err(|e| FieldError::new("body", format!("is not a request envelope: {e}")))
    }

    /// Checks every field, returning all refusals at once.
    pub fn check(self) -> Result<Request, Vec<FieldError>> {
        let mut c = Checker { errors: Vec::new() };
        let infno = c.text("infno", self.infno, 5, true);
        if let Some(i) = &infno
            && !i.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            c.fail("infno", format!("`{i}` is not a transaction number"));
        }
        let fixmedins_code = c.text("fixmedins_code", self.fixmedins_code, 30, true);
        let msgid = c.text("msgid", self.msgid, 30, true);
        let msg_time = msgid
            .as_deref()
            .and_then(|m| check_msgid(&mut c, m, fixmedins_code.as_deref()));
        let mdtrtarea_admvs = c.region("mdtrtarea_admvs", self.mdtrtarea_admvs, true);
        let insuplc_admdvs = c.region("insuplc_admdvs", self.insuplc_admdvs, false);
        let recer_sys_code = c.text("recer_sys_code", self.recer_sys_code, 10, false);
        let dev_no = c.text("dev_no", self.dev_no, 100, false);
        let dev_safe_info = c.text("dev_safe_info", self.dev_safe_info, 2000, false);
        let cainfo = c.text("cainfo", self.cainfo, 1024, false);
        let signtype = c.text("signtype", self.signtype, 10, false);
        let infver = c.text("infver", self.infver, 6, false);
        let opter_type = match c.text("opter_type", self.opter_type, 3, true).as_deref() {
            Some("1") => Some(OperatorType::Clerk),
            Some("2") => Some(OperatorType::Kiosk),
            Some("3") => Some(OperatorType::Mobile),
            Some(other) => {
                c.fail(
                    "opter_type",
                    format!("must be 1 (clerk), 2 (kiosk) or 3 (mobile), got `{other}`"),
                );
                None
            }
            None => None,
        };
        let opter = c.text("opter", self.opter, 30, true);
        let opter_name = c.text("opter_name", self.opter_name, 50, true);
        let inf_time = c.text("inf_time", self.inf_time, 19, false).and_then(|t| {
            let parsed = NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S").ok();
            if parsed.is_none() {
                c.fail(
                    "inf_time",
                    format!("must be yyyy-MM-dd HH:mm:ss, got `{t}`"),
                );
            }
            parsed
        });
        let fixmedins_name = c.text("fixmedins_name", self.fixmedins_name, 200, false);
        let sign_no = c.text("sign_no", self.sign_no, 30, false);
        let input = match self.input {
            None => {
                c.fail("input", "is required");
                None
            }
            Some(raw) if !raw.get().trim_start().starts_with('{') => {
                c.fail("input", "must be an object");
                None
            }
            Some(raw) if raw.get().chars().count() > MAX_INPUT_CHARS => {
                c.fail(
                    "input",
                    format!("is longer than {MAX_INPUT_CHARS} characters"),
                );
                None
            }
            Some(raw) => Some(raw),
        };
        match (
            infno,
            msgid,
            msg_time,
            mdtrtarea_admvs,
            opter_type,
            opter,
            opter_name,
            fixmedins_code,
            input,
        ) {
            (
                Some(infno),
                Some(msgid),
                Some(msg_time),
                Some(mdtrtarea_admvs),
                Some(opter_type),
                Some(opter),
                Some(opter_name),
                Some(fixmedins_code),
                Some(input),
            ) if c.errors.is_empty() => Ok(Request {
                infno,
                msgid,
                msg_time,
                mdtrtarea_admvs,
                insuplc_admdvs,
                recer_sys_code: recer_sys_code.unwrap_or_else(|| "YBXT".to_string()),
                dev_no,
                dev_safe_info,
                cainfo,
                signtype,
                infver,
                opter_type,
                opter,
                opter_name,
                inf_time,
                fixmedins_code,
                fixmedins_name,
                sign_no,
                input,
            }),
            _ => Err(c.errors),
        }
    }
}

/// `msgid`: institution code (12) + `yyyyMMddHHmmss` + a 4-digit sequence. Where the
/// institution code has 12 characters, it must be the message's first 12.
fn check_msgid(c: &mut Checker, m: &str, institution: Option<&str>) -> Option<NaiveDateTime> {
    const FORM: &str = "institution code (12) + yyyyMMddHHmmss + sequence (4)";
    if m.len() != 30 || !m.is_ascii() {
        c.fail(
            "msgid",
            format!("must be 30 characters, {FORM}; got {}", m.chars().count()),
        );
        return None;
    }
    let (org, rest) = m.split_at(12);
    let (time, seq) = rest.split_at(14);
    if let Some(code) = institution
        && code.len() == 12
        && code != org
    {
        c.fail(
            "msgid",
            format!("must begin with fixmedins_code `{code}`, begins with `{org}`"),
        );
    }
    if !digits(seq) {
        c.fail("msgid", format!("must end in a 4-digit sequence, {FORM}"));
    }
    let t = time14(time);
    if t.is_none() {
        c.fail(
            "msgid",
            format!("characters 13-26 must be yyyyMMddHHmmss, got `{time}`"),
        );
    }
    t
}

/// The receiver's message id: region (6) + `yyyyMMddHHmmss` + serial (10, the low ten
/// digits of `serial`).
pub fn inf_refmsgid(region: &str, at: DateTime<Utc>, serial: u64) -> String {
    format!(
        "{region:0>6.6}{}{:010}",
        at.format("%Y%m%d%H%M%S"),
        serial % 10_000_000_000
    )
}

/// The interface's timestamps, `yyyyMMddHHmmssSSS`.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%d%H%M%S%3f").to_string()
}

/// The response envelope.
#[derive(Debug, Clone, Serialize)]
pub struct Response<T> {
    /// 0 success, -1 failure.
    pub infcode: i32,
    /// The receiver's message id.
    pub inf_refmsgid: String,
    /// When the request was received.
    pub refmsg_time: String,
    /// When it was answered.
    pub respond_time: String,
    /// Why it failed (naming fields), on failure.
    pub err_msg: Option<String>,
    /// Warnings on a success.
    pub warn_msg: Option<String>,
    /// Not used by Yibao's answers; present because clients read it.
    pub cainfo: Option<String>,
    /// As `cainfo`.
    pub signtype: Option<String>,
    /// The transaction's output, `null` on failure.
    pub output: Option<T>,
}

/// When and under which id an answer is given.
#[derive(Debug, Clone)]
pub struct Answering {
    /// The receiver's message id ([`inf_refmsgid`]).
    pub inf_refmsgid: String,
    /// When the request was received.
    pub received: DateTime<Utc>,
    /// When it is answered.
    pub responded: DateTime<Utc>,
}

impl<T: Serialize> Response<T> {
    /// A success carrying `output`.
    pub fn success(a: &Answering, output: T, warn_msg: Option<String>) -> Response<T> {
        Response {
            infcode: 0,
            inf_refmsgid: a.inf_refmsgid.clone(),
            refmsg_time: stamp(a.received),
            respond_time: stamp(a.responded),
            err_msg: None,
            warn_msg,
            cainfo: None,
            signtype: None,
            output: Some(output),
        }
    }

    /// A failure with `err_msg` (cut to the interface's 200 characters).
    pub fn failure(a: &Answering, message: &str) -> Response<T> {
        let message: String = message.chars().take(MAX_ERR_MSG_CHARS).collect();
        Response {
            infcode: -1,
            inf_refmsgid: a.inf_refmsgid.clone(),
            refmsg_time: stamp(a.received),
            respond_time: stamp(a.responded),
            err_msg: Some(message),
            warn_msg: None,
            cainfo: None,
            signtype: None,
            output: None,
        }
    }
}

#[cfg(test)]
mod tests;
