//! OpenAPI 3.0 generated from the same descriptors the transcoder uses: one operation per
//! HTTP binding, schemas for every message reachable from them, the roles of each operation
//! (`x-yibao-roles`), comments from the protos as descriptions.

use crate::catalog::{Catalog, HttpBinding, Segment};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

fn comments(file: &prost_types::FileDescriptorProto, path: &[i32]) -> String {
    file.source_code_info
        .as_ref()
        .and_then(|info| info.location.iter().find(|l| l.path == path))
        .and_then(|l| l.leading_comments.clone())
        .map(|c| c.trim().to_string())
        .unwrap_or_default()
}

fn field_schema(f: &FieldDescriptor, todo: &mut Vec<MessageDescriptor>) -> Value {
    let base = match f.kind() {
        Kind::String => json!({"type": "string"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({"type": "integer", "format": "int32"})
        }
        Kind::Uint32 | Kind::Fixed32 => json!({"type": "integer", "format": "int32", "minimum": 0}),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            json!({"type": "integer", "format": "int64"})
        }
        Kind::Uint64 | Kind::Fixed64 => json!({"type": "integer", "format": "int64", "minimum": 0}),
        Kind::Double | Kind::Float => json!({"type": "number"}),
        Kind::Bytes => json!({"type": "string", "format": "byte"}),
        Kind::Enum(e) => {
            json!({"type": "string", "enum": e.values().map(|v| v.name().to_string()).collect::<Vec<_>>()})
        }
        Kind::Message(m) if f.is_map() => {
            let value = m.map_entry_value_field();
            return json!({"type": "object", "additionalProperties": field_schema(&value, todo)});
        }
        Kind::Message(m) => {
            todo.push(m.clone());
            json!({"$ref": format!("#/components/schemas/{}", m.full_name())})
        }
    };
    if f.is_list() {
        json!({"type": "array", "items": base})
    } else {
        base
    }
}

fn message_schema(m: &MessageDescriptor, todo: &mut Vec<MessageDescriptor>) -> Value {
    let mut props = Map::new();
    let file = m.parent_file();
    for f in m.fields() {
        let mut s = field_schema(&f, todo);
        let doc = comments(file.file_descriptor_proto(), f.path());
        if !doc.is_empty() {
            if s.get("$ref").is_some() {
                s = json!({"allOf": [s], "description": doc});
            } else if let Some(obj) = s.as_object_mut() {
                obj.insert("description".into(), Value::String(doc));
            }
        }
        props.insert(f.name().to_string(), s);
    }
    let doc = comments(file.file_descriptor_proto(), m.path());
    json!({"type": "object", "description": doc, "properties": props})
}

/// The OpenAPI name of a path variable bound to the request field `field_path`: OpenAPI path
/// templates allow no `.` in a name, so `item.code` is published as `item_code` (the REST
/// router binds by the proto template, so `/v1/procurement/catalogue/X` still sets `item.code`).
pub fn path_param_name(field_path: &str) -> String {
    field_path.replace('.', "_")
}

/// The OpenAPI path template of a binding: `/v1/procurement/catalogue/{item_code}` for the
/// proto template `/v1/procurement/catalogue/{item.code}`; a custom verb stays (`…:check`).
pub fn openapi_path(b: &HttpBinding) -> String {
    let mut out = String::new();
    for seg in &b.segments {
        out.push('/');
        match seg {
            Segment::Literal(l) => out.push_str(l),
            Segment::Var(v) => {
                out.push('{');
                out.push_str(&path_param_name(v));
                out.push('}');
            }
        }
    }
    if let Some(verb) = &b.custom_verb {
        out.push(':');
        out.push_str(verb);
    }
    out
}

/// The field a dot-separated path names in `msg`, through singular message fields.
fn field_at(msg: &MessageDescriptor, path: &str) -> Option<FieldDescriptor> {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let f = msg.get_field_by_name(head)?;
    match (rest, f.kind()) {
        (None, _) => Some(f),
        (Some(rest), Kind::Message(inner)) if !f.is_list() && !f.is_map() => field_at(&inner, rest),
        _ => None,
    }
}

/// Builds the OpenAPI document.
pub fn generate(catalog: &Catalog) -> Value {
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut todo: Vec<MessageDescriptor> = Vec::new();
    let mut routes: Vec<_> = catalog
        .by_path
        .values()
        .filter(|r| r.access.is_some())
        .collect();
    routes.sort_by(|a, b| a.grpc_path.cmp(&b.grpc_path));
    for route in routes {
        let access = route.access.clone().unwrap_or_default();
        let method = &route.method;
        let service = method.parent_service();
        let doc = comments(method.parent_file().file_descriptor_proto(), method.path());
        for b in &route.http {
            let mut params = Vec::new();
            for seg in &b.segments {
                if let Segment::Var(name) = seg {
                    let schema = field_at(&method.input(), name)
                        .map(|f| field_schema(&f, &mut todo))
                        .unwrap_or_else(|| json!({"type": "string"}));
                    params.push(json!({
                        "name": path_param_name(name),
                        "in": "path",
                        "required": true,
                        "schema": schema,
                        "description": format!("Binds the request field `{name}`."),
                    }));
                }
            }
            if b.body.is_empty() {
                for f in method.input().fields() {
                    let bound = b
                        .segments
                        .iter()
                        .any(|s| matches!(s, Segment::Var(n) if n == f.name()));
                    if !bound && !matches!(f.kind(), Kind::Message(_)) {
                        let schema = field_schema(&f, &mut todo);
                        params.push(json!({"name": f.name(), "in": "query", "required": false, "schema": schema}));
                    }
                }
            }
            let mut op = json!({
                "operationId": format!("{}_{}", service.name(), method.name()),
                "summary": doc.lines().next().unwrap_or_default(),
                "description": doc,
                "tags": [service.name()],
                "x-yibao-roles": access.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                "x-grpc-method": route.grpc_path,
                "parameters": params,
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", method.output().full_name())}}}},
                    "default": {"description": "Error (RFC 9457)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
                },
            });
            todo.push(method.output());
            if let (true, Some(p)) = (access.write, op["parameters"].as_array_mut()) {
                p.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 128}, "description": "Retries with the same key return the first answer."}));
            }
            if !b.body.is_empty() {
                let schema = if b.body == "*" {
                    todo.push(method.input());
                    json!({"$ref": format!("#/components/schemas/{}", method.input().full_name())})
                } else {
                    method
                        .input()
                        .get_field_by_name(&b.body)
                        .map(|f| field_schema(&f, &mut todo))
                        .unwrap_or(json!({}))
                };
                op["requestBody"] =
                    json!({"required": true, "content": {"application/json": {"schema": schema}}});
            }
            paths
                .entry(openapi_path(b))
                .or_default()
                .insert(b.verb.as_str().to_lowercase(), op);
        }
    }
    let mut schemas = Map::new();
    while let Some(m) = todo.pop() {
        if schemas.contains_key(m.full_name()) {
            continue;
        }
        let s = message_schema(&m, &mut todo);
        schemas.insert(m.full_name().to_string(), s);
    }
    schemas.insert(
        "Problem".into(),
        json!({"type": "object", "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
            "detail": {"type": "string"}, "code": {"type": "string"}, "instance": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "detail": {"type": "string"}}}}
        }}),
    );
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Yibao API", "version": "v1", "description": "Medical insurance platform: enrollment, settlement, long-term care, procurement, supervision. Generated from the protobuf contracts."},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_annotated_route_is_an_operation_with_its_roles() {
        let c = Catalog::from_descriptor_set(yibao_proto::FILE_DESCRIPTOR_SET)
            .unwrap_or_else(|e| panic!("{e}"));
        let doc = generate(&c);
        let op = &doc["paths"]["/v1/eligibility:check"]["post"];
        assert_eq!(op["operationId"], "EnrollmentService_CheckEligibility");
        assert!(
            op["x-yibao-roles"]
                .as_array()
                .is_some_and(|r| r.iter().any(|v| v == "hospital"))
        );
        assert!(doc["components"]["schemas"]["yibao.enrollment.v1.CheckEligibilityResponse"]["properties"]["eligible"].is_object());
        assert!(
            op["summary"]
                .as_str()
                .is_some_and(|s| s.contains("Eligibility"))
        );
        let n: usize = doc["paths"]
            .as_object()
            .map(|p| {
                p.values()
                    .map(|v| v.as_object().map_or(0, |o| o.len()))
                    .sum()
            })
            .unwrap_or(0);
        let bindings: usize = c
            .by_path
            .values()
            .filter(|r| r.access.is_some())
            .map(|r| r.http.len())
            .sum();
        assert_eq!(n, bindings);
    }

    #[test]
    fn every_path_is_a_valid_openapi_template_whose_variables_are_its_path_parameters() {
        let c = Catalog::from_descriptor_set(yibao_proto::FILE_DESCRIPTOR_SET)
            .unwrap_or_else(|e| panic!("{e}"));
        let doc = generate(&c);
        let paths = doc["paths"]
            .as_object()
            .unwrap_or_else(|| panic!("no paths"));
        let catalogue = &paths["/v1/procurement/catalogue/{item_code}"]["put"];
        assert_eq!(catalogue["parameters"][0]["name"], "item_code");
        assert!(!paths.contains_key("/v1/procurement/catalogue/{item.code}"));
        for (path, ops) in paths {
            let mut names = Vec::new();
            let mut rest = path.as_str();
            while let Some(open) = rest.find('{') {
                let close = rest[open..].find('}').unwrap_or_else(|| panic!("{path}")) + open;
                let name = &rest[open + 1..close];
                assert!(
                    !name.is_empty()
                        && name
                            .chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_'),
                    "{path}: `{name}`"
                );
                names.push(name.to_string());
                rest = &rest[close + 1..];
            }
            for (verb, op) in ops.as_object().unwrap_or_else(|| panic!("{path}")) {
                let mut declared: Vec<String> = op["parameters"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{path} {verb}"))
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap_or_default().to_string())
                    .collect();
                declared.sort();
                let mut want = names.clone();
                want.sort();
                assert_eq!(declared, want, "{verb} {path}");
            }
        }
    }
}
