//! Reading a transaction's `input`, field by field, each refusal naming its path
//! (`input.data.psn_no: is required`, `input.feedetail[2].pric: `1.234` has more than 2
//! decimals`). Values are kept as their JSON text, so money is read exactly
//! ([`yibao_fsi::decimal`]).

use serde_json::value::RawValue;
use std::collections::HashMap;
use yibao_fsi::FieldError;
use yibao_fsi::decimal::{Quantity, Yuan};

/// One object of the input, with its path.
#[derive(Debug)]
pub struct Node {
    /// `input.data`, `input.feedetail[3]`.
    pub path: String,
    fields: HashMap<String, Box<RawValue>>,
}

fn object(path: &str, raw: &RawValue) -> Result<HashMap<String, Box<RawValue>>, FieldError> {
    if !raw.get().trim_start().starts_with('{') {
        return Err(FieldError::new(path, "must be an object"));
    }
    serde_json::from_str(raw.get())
        .map_err(|e| FieldError::new(path, format!("is not an object: {e}")))
}

impl Node {
    /// `input.<name>`, which must be an object.
    pub fn of(input: &RawValue, name: &str) -> Result<Node, FieldError> {
        Self::child_of("input", &object("input", input)?, name)
    }

    /// `input.<name>` when present.
    pub fn optional(input: &RawValue, name: &str) -> Result<Option<Node>, FieldError> {
        let top = object("input", input)?;
        match top.get(name) {
            Some(v) if v.get().trim() != "null" => Self::child_of("input", &top, name).map(Some),
            _ => Ok(None),
        }
    }

    fn child_of(
        parent: &str,
        fields: &HashMap<String, Box<RawValue>>,
        name: &str,
    ) -> Result<Node, FieldError> {
        let path = format!("{parent}.{name}");
        let raw = fields
            .get(name)
            .filter(|v| v.get().trim() != "null")
            .ok_or_else(|| FieldError::new(&path, "is required"))?;
        // Some HIS send a one-element list where an object is expected.
        let text = raw.get().trim_start();
        if text.starts_with('[') {
            let mut list: Vec<Box<RawValue>> = serde_json::from_str(text)
                .map_err(|e| FieldError::new(&path, format!("is not an object: {e}")))?;
            if list.len() != 1 {
                return Err(FieldError::new(&path, "must be an object"));
            }
            let only = list.remove(0);
            return Ok(Node {
                fields: object(&path, &only)?,
                path,
            });
        }
        Ok(Node {
            fields: object(&path, raw)?,
            path,
        })
    }

    /// `input.<name>[]`: a list of objects (a single object is read as a list of one); absent
    /// is an empty list.
    pub fn list(input: &RawValue, name: &str) -> Result<Vec<Node>, FieldError> {
        let top = object("input", input)?;
        let path = format!("input.{name}");
        let Some(raw) = top.get(name).filter(|v| v.get().trim() != "null") else {
            return Ok(Vec::new());
        };
        let text = raw.get().trim_start();
        if text.starts_with('{') {
            return Ok(vec![Node {
                fields: object(&path, raw)?,
                path: format!("{path}[0]"),
            }]);
        }
        let list: Vec<Box<RawValue>> = serde_json::from_str(text)
            .map_err(|e| FieldError::new(&path, format!("must be a list of objects: {e}")))?;
        list.iter()
            .enumerate()
            .map(|(i, v)| {
                let p = format!("{path}[{i}]");
                Ok(Node {
                    fields: object(&p, v)?,
                    path: p,
                })
            })
            .collect()
    }

    /// The path of one of its fields.
    pub fn at(&self, field: &str) -> String {
        format!("{}.{field}", self.path)
    }

    /// A text field (a string, or a number as written); `None` when absent, null or empty.
    pub fn text(&self, field: &str) -> Result<Option<String>, FieldError> {
        let Some(raw) = self.fields.get(field) else {
            return Ok(None);
        };
        let t = raw.get().trim();
        let v = if t == "null" {
            None
        } else if t.starts_with('"') {
            Some(
                serde_json::from_str::<String>(t)
                    .map_err(|e| FieldError::new(self.at(field), e.to_string()))?,
            )
        } else if t.starts_with('{') || t.starts_with('[') {
            return Err(FieldError::new(self.at(field), "must be a string"));
        } else {
            Some(t.to_string())
        };
        Ok(v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
    }

    /// A required text field.
    pub fn req(&self, field: &str) -> Result<String, FieldError> {
        self.text(field)?
            .ok_or_else(|| FieldError::new(self.at(field), "is required"))
    }

    /// Money in yuan (two decimals at most), when present.
    pub fn yuan(&self, field: &str) -> Result<Option<Yuan>, FieldError> {
        self.text(field)?
            .map(|t| Yuan::parse(&t).map_err(|e| FieldError::decimal(self.at(field), &e)))
            .transpose()
    }

    /// Required money.
    pub fn req_yuan(&self, field: &str) -> Result<Yuan, FieldError> {
        self.yuan(field)?
            .ok_or_else(|| FieldError::new(self.at(field), "is required"))
    }

    /// A required quantity (four decimals at most).
    pub fn req_quantity(&self, field: &str) -> Result<Quantity, FieldError> {
        let t = self.req(field)?;
        Quantity::parse(&t).map_err(|e| FieldError::decimal(self.at(field), &e))
    }

    /// A date `yyyy-MM-dd` from a date or date-time field (`2026-06-10 08:30:00`), checked.
    pub fn date(&self, field: &str) -> Result<Option<String>, FieldError> {
        let Some(t) = self.text(field)? else {
            return Ok(None);
        };
        let day = t.get(..10).unwrap_or(&t);
        chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .map_err(|_| {
                FieldError::new(
                    self.at(field),
                    format!("must be yyyy-MM-dd or yyyy-MM-dd HH:mm:ss, got `{t}`"),
                )
            })
            .map(|d| Some(d.format("%Y-%m-%d").to_string()))
    }

    /// A 26-character interface id (`psn_no`, `mdtrt_id`, `setl_id`) as the UUID it stands for.
    pub fn id(&self, field: &str) -> Result<String, FieldError> {
        let t = self.req(field)?;
        yibao_fsi::ids::to_uuid(&t).map_err(|e| FieldError::new(self.at(field), e.to_string()))
    }
}

/// Diagnoses of `diseinfo[]` (`diag_code`, else `dise_codg`), the main one
/// (`maindiag_flag` 1) first, then by `diag_srt_no`; `fallback` when the list is empty.
pub fn diagnoses(input: &RawValue, fallback: Option<String>) -> Result<Vec<String>, FieldError> {
    let mut rows = Vec::new();
    for n in Node::list(input, "diseinfo")? {
        let code = match n.text("diag_code")? {
            Some(c) => c,
            None => n
                .text("dise_codg")?
                .ok_or_else(|| FieldError::new(n.at("diag_code"), "is required"))?,
        };
        let main = n.text("maindiag_flag")?.as_deref() == Some("1");
        let order: i64 = n
            .text("diag_srt_no")?
            .and_then(|s| s.parse().ok())
            .unwrap_or(i64::MAX);
        rows.push((!main, order, code));
    }
    rows.sort();
    let mut out: Vec<String> = Vec::new();
    for (_, _, code) in rows {
        if !out.contains(&code) {
            out.push(code);
        }
    }
    if out.is_empty()
        && let Some(f) = fallback
    {
        out.push(f);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_string()).unwrap()
    }

    #[test]
    fn fields_are_read_with_their_paths() {
        let input = raw(
            r#"{"data":{"psn_no":"","medfee_sumamt":"12.345","n":7,"d":"2026-06-10 08:00:00"}}"#,
        );
        let d = Node::of(&input, "data").unwrap();
        assert_eq!(d.text("psn_no").unwrap(), None);
        assert_eq!(
            d.req("psn_no").unwrap_err().to_string(),
            "input.data.psn_no: is required"
        );
        assert_eq!(
            d.yuan("medfee_sumamt").unwrap_err().to_string(),
            "input.data.medfee_sumamt: `12.345` has more than 2 decimals"
        );
        assert_eq!(d.text("n").unwrap().as_deref(), Some("7"));
        assert_eq!(d.date("d").unwrap().as_deref(), Some("2026-06-10"));
        assert_eq!(
            Node::of(&input, "mdtrtinfo").unwrap_err().to_string(),
            "input.mdtrtinfo: is required"
        );
    }

    #[test]
    fn lists_name_their_elements() {
        let input = raw(r#"{"feedetail":[{"a":"1"},{"pric":1.001}]}"#);
        let l = Node::list(&input, "feedetail").unwrap();
        assert_eq!(l.len(), 2);
        assert!(
            l[1].yuan("pric")
                .unwrap_err()
                .to_string()
                .starts_with("input.feedetail[1].pric: ")
        );
        let one = raw(r#"{"feedetail":{"a":"1"}}"#);
        assert_eq!(
            Node::list(&one, "feedetail").unwrap()[0].path,
            "input.feedetail[0]"
        );
    }

    #[test]
    fn the_main_diagnosis_comes_first() {
        let input = raw(
            r#"{"diseinfo":[{"diag_code":"E11.900","maindiag_flag":"0","diag_srt_no":"2"},{"diag_code":"I10.x00x002","maindiag_flag":"1","diag_srt_no":"1"}]}"#,
        );
        assert_eq!(diagnoses(&input, None).unwrap(), ["I10.x00x002", "E11.900"]);
        assert_eq!(
            diagnoses(&raw("{}"), Some("K35.900".into())).unwrap(),
            ["K35.900"]
        );
    }
}
