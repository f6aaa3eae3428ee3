//! OpenAPI 3.0 generated from the same descriptors the transcoder uses: one operation per
//! HTTP binding, schemas for every message reachable from them, the roles of each operation
//! (`x-yibao-roles`), comments from the protos as descriptions, and the rules the services
//! enforce on requests ([`crate::rules`]): patterns, lengths, ranges, refused enum values and
//! required fields.
//!
//! A message that both requests and responses carry, and that has rules, has two schemas: the
//! request's (`<full name>Input`, with the rules) and the response's (`<full name>`, as the
//! services write it — an ID number masked, a field left empty).

use crate::catalog::{Catalog, HttpBinding, Segment};
use crate::rules::{Rule, rule_of};
use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

fn comments(file: &prost_types::FileDescriptorProto, path: &[i32]) -> String {
    file.source_code_info
        .as_ref()
        .and_then(|info| info.location.iter().find(|l| l.path == path))
        .and_then(|l| l.leading_comments.clone())
        .map(|c| c.trim().to_string())
        .unwrap_or_default()
}

/// Which side of a call a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Side {
    /// What a caller sends: the services' rules apply.
    Request,
    /// What the services answer.
    Response,
}

/// Names the schemas: a message carried by responses and with rules on the request side gets
/// a request schema of its own.
struct Names {
    /// Messages reachable from a response.
    in_responses: HashSet<String>,
    /// Messages whose request schema differs from the response schema (memoised).
    ruled: HashMap<String, bool>,
}

impl Names {
    fn new(catalog: &Catalog) -> Names {
        let mut in_responses = HashSet::new();
        let mut todo: Vec<MessageDescriptor> = catalog
            .by_path
            .values()
            .filter(|r| r.access.is_some())
            .map(|r| r.method.output())
            .collect();
        while let Some(m) = todo.pop() {
            if !in_responses.insert(m.full_name().to_string()) {
                continue;
            }
            for f in m.fields() {
                if let Kind::Message(inner) = f.kind() {
                    todo.push(inner);
                }
            }
        }
        Names {
            in_responses,
            ruled: HashMap::new(),
        }
    }

    /// True when a field of `m`, or of a message it holds, has a rule.
    fn has_rules(&mut self, m: &MessageDescriptor) -> bool {
        if let Some(known) = self.ruled.get(m.full_name()) {
            return *known;
        }
        // A message holding itself is answered by its other fields meanwhile.
        self.ruled.insert(m.full_name().to_string(), false);
        let mut ruled = false;
        for f in m.fields() {
            ruled |= rule_of(m.full_name(), f.name()).is_some();
            if let Kind::Message(inner) = f.kind() {
                ruled |= self.has_rules(&inner);
            }
        }
        self.ruled.insert(m.full_name().to_string(), ruled);
        ruled
    }

    fn name(&mut self, m: &MessageDescriptor, side: Side) -> String {
        if side == Side::Request && self.in_responses.contains(m.full_name()) && self.has_rules(m) {
            format!("{}Input", m.full_name())
        } else {
            m.full_name().to_string()
        }
    }
}

/// What still needs a schema: a message on one side.
type Todo = Vec<(MessageDescriptor, Side)>;

fn scalar_schema(kind: &Kind) -> Value {
    match kind {
        Kind::String => json!({"type": "string"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({"type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX})
        }
        Kind::Uint32 | Kind::Fixed32 => {
            json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX})
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX})
        }
        Kind::Uint64 | Kind::Fixed64 => {
            json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": u64::MAX})
        }
        Kind::Double | Kind::Float => json!({"type": "number"}),
        Kind::Bytes => json!({"type": "string", "format": "byte"}),
        Kind::Enum(e) => {
            json!({"type": "string", "enum": e.values().map(|v| v.name().to_string()).collect::<Vec<_>>()})
        }
        Kind::Message(_) => json!({}),
    }
}

/// Applies a rule to the schema of one value (an element, for a repeated field).
fn apply(schema: &mut Value, rule: &Rule, kind: &Kind) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    if let Some(p) = rule.pattern {
        obj.insert("pattern".into(), json!(p));
    }
    if let Some(f) = rule.format {
        obj.insert("format".into(), json!(f));
    }
    if let Some(n) = rule.min_length {
        obj.insert("minLength".into(), json!(n));
    }
    if let Some(n) = rule.max_length {
        obj.insert("maxLength".into(), json!(n));
    }
    if let Some(n) = rule.minimum {
        obj.insert("minimum".into(), json!(n));
    }
    if let Some(n) = rule.maximum {
        obj.insert("maximum".into(), json!(n));
    }
    if let (true, Kind::Enum(e)) = (rule.specified, kind) {
        let values: Vec<String> = e
            .values()
            .filter(|v| v.number() != 0)
            .map(|v| v.name().to_string())
            .collect();
        obj.insert("enum".into(), json!(values));
    }
}

fn field_schema(f: &FieldDescriptor, side: Side, names: &mut Names, todo: &mut Todo) -> Value {
    let rule = match side {
        Side::Request => rule_of(f.parent_message().full_name(), f.name()),
        Side::Response => None,
    };
    let kind = f.kind();
    if let (Kind::Message(m), true) = (&kind, f.is_map()) {
        let value = m.map_entry_value_field();
        let mut values = match value.kind() {
            Kind::Message(inner) => {
                todo.push((inner.clone(), side));
                json!({"$ref": format!("#/components/schemas/{}", names.name(&inner, side))})
            }
            k => scalar_schema(&k),
        };
        if let Some(r) = &rule {
            apply(&mut values, r, &value.kind());
        }
        return json!({"type": "object", "additionalProperties": values});
    }
    let mut base = match &kind {
        Kind::Message(m) => {
            todo.push((m.clone(), side));
            json!({"$ref": format!("#/components/schemas/{}", names.name(m, side))})
        }
        k => scalar_schema(k),
    };
    if let Some(r) = &rule {
        apply(&mut base, r, &kind);
    }
    if f.is_list() {
        let mut list = json!({"type": "array", "items": base});
        if let Some(r) = &rule {
            if let Some(n) = r.min_items {
                list["minItems"] = json!(n);
            }
            if let Some(n) = r.max_items {
                list["maxItems"] = json!(n);
            }
        }
        list
    } else {
        base
    }
}

/// A field's schema with its comment (and its rule's note) as the description.
fn documented_field(f: &FieldDescriptor, side: Side, names: &mut Names, todo: &mut Todo) -> Value {
    let mut s = field_schema(f, side, names, todo);
    let file = f.parent_message().parent_file();
    let mut doc = comments(file.file_descriptor_proto(), f.path());
    if side == Side::Request
        && let Some(note) = rule_of(f.parent_message().full_name(), f.name()).and_then(|r| r.note)
    {
        if !doc.is_empty() {
            doc.push(' ');
        }
        doc.push_str(note);
    }
    if !doc.is_empty() {
        if s.get("$ref").is_some() {
            s = json!({"allOf": [s], "description": doc});
        } else if let Some(obj) = s.as_object_mut() {
            obj.insert("description".into(), Value::String(doc));
        }
    }
    s
}

fn message_schema(m: &MessageDescriptor, side: Side, names: &mut Names, todo: &mut Todo) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in m.fields() {
        props.insert(
            f.name().to_string(),
            documented_field(&f, side, names, todo),
        );
        if side == Side::Request && rule_of(m.full_name(), f.name()).is_some_and(|r| r.required) {
            required.push(f.name().to_string());
        }
    }
    let doc = comments(m.parent_file().file_descriptor_proto(), m.path());
    let mut schema = json!({"type": "object", "description": doc, "properties": props});
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    if side == Side::Request {
        // The transcoder refuses fields the contract does not have.
        schema["additionalProperties"] = json!(false);
        one_of_each_oneof(m, &mut schema);
    }
    schema
}

/// A request sets at most one field of each `oneof` (the transcoder refuses "multiple fields
/// provided for oneof"): `maxProperties: 1` where the oneof is the whole message, else no two
/// of its fields together.
fn one_of_each_oneof(m: &MessageDescriptor, schema: &mut Value) {
    let oneofs: Vec<Vec<String>> = m
        .oneofs()
        .filter(|o| !o.is_synthetic())
        .map(|o| o.fields().map(|f| f.name().to_string()).collect())
        .filter(|fields: &Vec<String>| fields.len() > 1)
        .collect();
    let total = m.fields().count();
    let mut pairs = Vec::new();
    for fields in &oneofs {
        if oneofs.len() == 1 && fields.len() == total {
            schema["maxProperties"] = json!(1);
            return;
        }
        for (i, a) in fields.iter().enumerate() {
            for b in &fields[i + 1..] {
                pairs.push(json!({"required": [a, b]}));
            }
        }
    }
    if !pairs.is_empty() {
        schema["not"] = json!({"anyOf": pairs});
    }
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

/// Query parameters for the fields of `msg` not bound by the path: scalars and repeated
/// scalars by name, singular messages' fields by dotted path (`page.page_size`).
fn query_params(
    msg: &MessageDescriptor,
    prefix: &str,
    bound: &[String],
    names: &mut Names,
    todo: &mut Todo,
    depth: usize,
    out: &mut Vec<Value>,
) {
    for f in msg.fields() {
        let path = format!("{prefix}{}", f.name());
        if bound.contains(&path) || f.is_map() {
            continue;
        }
        match f.kind() {
            Kind::Message(inner) if !f.is_list() && depth < 3 => {
                query_params(
                    &inner,
                    &format!("{path}."),
                    bound,
                    names,
                    todo,
                    depth + 1,
                    out,
                );
            }
            Kind::Message(_) => {}
            _ => {
                let required = rule_of(msg.full_name(), f.name()).is_some_and(|r| r.required);
                let schema = documented_field(&f, Side::Request, names, todo);
                let mut p =
                    json!({"name": path, "in": "query", "required": required, "schema": schema});
                if f.is_list() {
                    p["style"] = json!("form");
                    p["explode"] = json!(true);
                }
                out.push(p);
            }
        }
    }
}

/// Builds the OpenAPI document.
pub fn generate(catalog: &Catalog) -> Value {
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut names = Names::new(catalog);
    let mut todo: Todo = Vec::new();
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
            let mut bound = Vec::new();
            for seg in &b.segments {
                if let Segment::Var(name) = seg {
                    let schema = field_at(&method.input(), name)
                        .map(|f| field_schema(&f, Side::Request, &mut names, &mut todo))
                        .unwrap_or_else(|| json!({"type": "string"}));
                    params.push(json!({
                        "name": path_param_name(name),
                        "in": "path",
                        "required": true,
                        "schema": schema,
                        "description": format!("Binds the request field `{name}`."),
                    }));
                    bound.push(name.clone());
                }
            }
            if b.body != "*" {
                if !b.body.is_empty() {
                    bound.push(b.body.clone());
                }
                query_params(
                    &method.input(),
                    "",
                    &bound,
                    &mut names,
                    &mut todo,
                    0,
                    &mut params,
                );
            }
            if access.write {
                params.push(json!({
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": false,
                    "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[\\x21-\\x7e]+$"},
                    "description": "Retries with the same key return the first answer.",
                }));
            }
            let output = method.output();
            todo.push((output.clone(), Side::Response));
            let mut op = json!({
                "operationId": format!("{}_{}", service.name(), method.name()),
                "summary": doc.lines().next().unwrap_or_default(),
                "description": doc,
                "tags": [service.name()],
                "x-yibao-roles": access.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                "x-grpc-method": route.grpc_path,
                "parameters": params,
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", names.name(&output, Side::Response))}}}},
                    "default": {"description": "Error (RFC 9457)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
                },
            });
            if !b.body.is_empty() {
                let schema = if b.body == "*" {
                    let input = method.input();
                    todo.push((input.clone(), Side::Request));
                    json!({"$ref": format!("#/components/schemas/{}", names.name(&input, Side::Request))})
                } else {
                    method
                        .input()
                        .get_field_by_name(&b.body)
                        .map(|f| field_schema(&f, Side::Request, &mut names, &mut todo))
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
    paths.entry("/schemas/policy.json".into()).or_default().insert(
        "get".into(),
        json!({
            "operationId": "PolicySchema",
            "summary": "The JSON Schema (draft 2020-12) of a policy document.",
            "description": "The format of `document_json` in `POST /v1/policies` (SettlementService/UploadPolicy), every field described; explained with the seeded Huoqiu policy in docs/policy-format.md. No token needed.",
            "tags": ["SettlementService"],
            "security": [],
            "parameters": [],
            "responses": {"200": {"description": "The schema", "content": {"application/schema+json": {"schema": {"type": "object"}}}}},
        }),
    );
    let mut schemas = Map::new();
    while let Some((m, side)) = todo.pop() {
        let name = names.name(&m, side);
        if schemas.contains_key(&name) {
            continue;
        }
        let s = message_schema(&m, side, &mut names, &mut todo);
        schemas.insert(name, s);
    }
    schemas.insert(
        "Problem".into(),
        json!({"type": "object", "required": ["type", "title", "status", "detail", "code", "instance"], "properties": {
            "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string"}, "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"}, "instance": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "object", "required": ["field", "detail"], "properties": {"field": {"type": "string"}, "detail": {"type": "string"}}}}
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
        // One operation per binding, and the policy schema document.
        assert_eq!(n, bindings + 1);
        assert_eq!(
            doc["paths"]["/schemas/policy.json"]["get"]["operationId"],
            "PolicySchema"
        );
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

    #[test]
    fn requests_carry_the_services_rules_and_responses_are_described_as_written() {
        let c = Catalog::from_descriptor_set(yibao_proto::FILE_DESCRIPTOR_SET)
            .unwrap_or_else(|e| panic!("{e}"));
        let doc = generate(&c);
        let schemas = &doc["components"]["schemas"];
        // A claim is sent (with rules) and answered (an ID number masked): two schemas.
        let sent = &schemas["yibao.settlement.v1.ClaimInput"];
        let answered = &schemas["yibao.settlement.v1.Claim"];
        assert_eq!(
            sent["properties"]["id_number"]["pattern"],
            "^[0-9]{17}[0-9Xx]$"
        );
        assert!(answered["properties"]["id_number"].get("pattern").is_none());
        assert!(answered.get("required").is_none());
        assert_eq!(sent["additionalProperties"], false);
        assert!(answered.get("additionalProperties").is_none());
        let required: Vec<&str> = sent["required"]
            .as_array()
            .unwrap_or_else(|| panic!("no required"))
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert!(required.contains(&"institution_code") && required.contains(&"items"));
        assert_eq!(sent["properties"]["start_date"]["format"], "date");
        assert_eq!(sent["properties"]["items"]["minItems"], 1);
        let kinds = sent["properties"]["kind"]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("no enum"));
        assert!(!kinds.iter().any(|k| k == "ENCOUNTER_KIND_UNSPECIFIED"));
        assert!(kinds.iter().any(|k| k == "ENCOUNTER_KIND_INPATIENT"));
        let item = &schemas["yibao.settlement.v1.ClaimItemInput"]["properties"];
        assert_eq!(item["quantity"]["minimum"], 1);
        assert_eq!(item["preselfpay_share_bp"]["maximum"], 10_000);
        // The settle body refers to the request schemas.
        let settle = &doc["paths"]["/v1/claims:settle"]["post"];
        assert_eq!(
            settle["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/yibao.settlement.v1.SettleRequest"
        );
        assert_eq!(
            schemas["yibao.settlement.v1.SettleRequest"]["properties"]["claim"]["allOf"][0]["$ref"],
            "#/components/schemas/yibao.settlement.v1.ClaimInput"
        );
        // A message only ever sent keeps its name.
        assert!(schemas["yibao.enrollment.v1.RegisterPersonRequestInput"].is_null());
        assert_eq!(
            schemas["yibao.enrollment.v1.RegisterPersonRequest"]["properties"]["name"]["maxLength"],
            64
        );
        // Query parameters: nested fields by dotted path, with their rules.
        let list = &doc["paths"]["/v1/claims"]["get"]["parameters"];
        let param = |name: &str| {
            list.as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == name))
                .cloned()
                .unwrap_or_else(|| panic!("no parameter {name}"))
        };
        assert_eq!(param("page.page_size")["schema"]["maximum"], 1000);
        assert_eq!(
            param("month")["schema"]["pattern"],
            "^[0-9]{4}-(0[1-9]|1[0-2])$"
        );
        // A path parameter bound to a nested field has that field's rule.
        let upsert = &doc["paths"]["/v1/procurement/catalogue/{item_code}"]["put"];
        assert!(
            upsert["parameters"][0]["schema"]["pattern"]
                .as_str()
                .is_some_and(|p| p.contains("X[A-Z0-9]{5}"))
        );
    }
}
