//! JSON ⇄ protobuf through the descriptors: a REST request (path variables, query string, JSON
//! body) becomes the method's request message; the reply message becomes JSON. The JSON is the
//! proto3 mapping with the proto field names (`id_number`, as the field paths in errors) and
//! 64-bit integers as JSON numbers (money in fen stays far below 2^53).

use crate::catalog::{HttpBinding, decode};
use prost_reflect::{
    DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage,
    SerializeOptions, Value,
};

/// A request that could not be bound, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindError {
    /// Field path, or `body`.
    pub field: String,
    /// Reason.
    pub reason: String,
}

fn bind_err(field: &str, reason: impl Into<String>) -> BindError {
    BindError {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// Parses a scalar for a field from text (path variables and query parameters).
fn scalar(field: &FieldDescriptor, raw: &str) -> Result<Value, String> {
    let bad = |what: &str| format!("`{raw}` is not {what}");
    Ok(match field.kind() {
        Kind::String => Value::String(raw.to_string()),
        Kind::Bool => Value::Bool(raw.parse().map_err(|_| bad("true or false"))?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(raw.parse().map_err(|_| bad("an integer"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(raw.parse().map_err(|_| bad("an integer"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => {
            Value::U32(raw.parse().map_err(|_| bad("a non-negative integer"))?)
        }
        Kind::Uint64 | Kind::Fixed64 => {
            Value::U64(raw.parse().map_err(|_| bad("a non-negative integer"))?)
        }
        Kind::Double => Value::F64(raw.parse().map_err(|_| bad("a number"))?),
        Kind::Float => Value::F32(raw.parse().map_err(|_| bad("a number"))?),
        Kind::Enum(e) => match e.get_value_by_name(raw) {
            Some(v) => Value::EnumNumber(v.number()),
            None => Value::EnumNumber(raw.parse().map_err(|_| {
                format!(
                    "`{raw}` is not one of {}",
                    e.values()
                        .map(|v| v.name().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?),
        },
        Kind::Bytes => Value::Bytes(raw.as_bytes().to_vec().into()),
        Kind::Message(_) => return Err("cannot be set from text".into()),
    })
}

/// Sets `path` (dot-separated) in `msg` from text, creating intermediate messages.
pub fn set_path(msg: &mut DynamicMessage, path: &str, raw: &str) -> Result<(), BindError> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let field = msg
        .descriptor()
        .get_field_by_name(head)
        .ok_or_else(|| bind_err(path, "no such field"))?;
    match rest {
        None => {
            let value = scalar(&field, raw).map_err(|r| bind_err(path, r))?;
            if field.is_list() {
                match msg.get_field_mut(&field) {
                    Value::List(l) => l.push(value),
                    other => *other = Value::List(vec![value]),
                }
            } else {
                msg.set_field(&field, value);
            }
            Ok(())
        }
        Some(rest) => match msg.get_field_mut(&field) {
            Value::Message(inner) => set_path(inner, rest, raw).map_err(|e| BindError {
                field: format!("{head}.{}", e.field),
                ..e
            }),
            _ => Err(bind_err(path, "is not a message")),
        },
    }
}

/// The string at a dot-separated field path (the runtime's, shared with the service ports).
pub use yibao_runtime::tenancy::field_at as get_path;

fn deserialize(
    desc: MessageDescriptor,
    body: &[u8],
    field: &str,
) -> Result<DynamicMessage, BindError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let msg = DynamicMessage::deserialize_with_options(
        desc,
        &mut de,
        &DeserializeOptions::new().deny_unknown_fields(true),
    )
    .map_err(|e| bind_err(field, format!("invalid JSON for this request: {e}")))?;
    de.end()
        .map_err(|e| bind_err(field, format!("trailing data after the JSON: {e}")))?;
    Ok(msg)
}

/// Builds the request message of a REST call.
pub fn bind_request(
    input: MessageDescriptor,
    binding: &HttpBinding,
    vars: &[(String, String)],
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, BindError> {
    let mut msg = match binding.body.as_str() {
        "*" if !body.is_empty() => deserialize(input.clone(), body, "body")?,
        "" | "*" => DynamicMessage::new(input.clone()),
        field => {
            let mut m = DynamicMessage::new(input.clone());
            if !body.is_empty() {
                let f = input
                    .get_field_by_name(field)
                    .ok_or_else(|| bind_err(field, "body field missing from the contract"))?;
                if let Kind::Message(sub) = f.kind() {
                    m.set_field(&f, Value::Message(deserialize(sub, body, field)?));
                }
            }
            m
        }
    };
    if binding.body != "*" {
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = v.replace('+', " ");
            set_path(&mut msg, &decode(k), &decode(&v))?;
        }
    }
    for (name, value) in vars {
        set_path(&mut msg, name, value)?;
    }
    Ok(msg)
}

/// The JSON form of a reply.
pub fn to_json(msg: &DynamicMessage) -> Result<Vec<u8>, String> {
    let opts = SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false)
        .skip_default_fields(false);
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::new(&mut out);
    msg.serialize_with_options(&mut ser, &opts)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn catalog() -> Catalog {
        Catalog::from_descriptor_set(yibao_proto::FILE_DESCRIPTOR_SET)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn body_path_and_query_bind_into_the_request() {
        let c = catalog();
        let (b, r, vars) = c
            .match_rest(&http::Method::POST, "/v1/persons/p-1/categories")
            .unwrap_or_else(|| panic!("route"));
        let msg = bind_request(
            r.method.input(),
            b,
            &vars,
            None,
            br#"{"category":"PERSON_CATEGORY_POVERTY_REGISTERED","valid_from":"2018-01-01"}"#,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(get_path(&msg, "person_id").as_deref(), Some("p-1"));
        assert_eq!(
            msg.get_field_by_name("category")
                .and_then(|v| v.as_enum_number()),
            Some(3)
        );
        let (b, r, vars) = c
            .match_rest(&http::Method::GET, "/v1/coverage")
            .unwrap_or_else(|| panic!("route"));
        let msg = bind_request(
            r.method.input(),
            b,
            &vars,
            Some("region_code=341522&year=2018&scheme=SCHEME_RESIDENT"),
            b"",
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            msg.get_field_by_name("year").and_then(|v| v.as_i32()),
            Some(2018)
        );
        assert_eq!(
            msg.get_field_by_name("scheme")
                .and_then(|v| v.as_enum_number()),
            Some(2)
        );
    }

    #[test]
    fn bad_json_and_unknown_fields_name_the_problem() {
        let c = catalog();
        let (b, r, vars) = c
            .match_rest(&http::Method::POST, "/v1/eligibility:check")
            .unwrap_or_else(|| panic!("route"));
        let e = bind_request(r.method.input(), b, &vars, None, br#"{"id_numbr":"x"}"#)
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert!(e.reason.contains("id_numbr"), "{e:?}");
        let (b, r, vars) = c
            .match_rest(&http::Method::GET, "/v1/coverage")
            .unwrap_or_else(|| panic!("route"));
        let e = bind_request(r.method.input(), b, &vars, Some("year=twenty"), b"")
            .err()
            .unwrap_or_else(|| panic!("accepted"));
        assert_eq!(e.field, "year");
    }
}
