//! The policy document's JSON Schema (`policies/policy-schema.json`, copied to
//! `docs/policy-schema.json`) against the Rust types that parse `document_json`: every document
//! of the default bundle validates; on a document with every section present, each field the
//! schema requires is one the parser cannot do without and each optional one it can, every
//! schema enum value parses and nothing else does, unknown fields are refused by both, every
//! field is described; and a shape error of an upload names its field path.
//!
//! The validator here covers the keywords the schema uses (`$ref`, `anyOf`, `type`, `enum`,
//! `properties`, `required`, `additionalProperties`, `items`, `minItems`, `minimum`,
//! `maximum`, `minLength`); `pattern` and `format` are checked by the parser (region codes and
//! dates) and not here.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use yibao_settlement::domain::policy::{DeductibleBasis, LevelBasis, POLICY_SCHEMA_JSON};
use yibao_settlement::domain::{
    EncounterKind, InstitutionTier, LevelKey, PersonCategory, PolicyDocument, PolicyError, Scheme,
    default_bundle,
};

fn schema() -> Value {
    serde_json::from_str(POLICY_SCHEMA_JSON).unwrap_or_else(|e| panic!("schema: {e}"))
}

/// A place in a document the walk met: an object or an enum-valued string, by JSON pointer.
#[derive(Debug, Clone)]
struct Site {
    pointer: String,
    schema: Value,
}

struct Walk<'a> {
    root: &'a Value,
    errors: Vec<String>,
    sites: Vec<Site>,
    defs_seen: BTreeSet<String>,
}

impl Walk<'_> {
    fn resolve(&mut self, s: &Value) -> Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/$defs/");
                self.defs_seen.insert(name.to_string());
                let mut target = self.root["$defs"][name].clone();
                assert!(!target.is_null(), "unresolved {r}");
                if let Some(d) = s.get("description") {
                    target["description"] = d.clone();
                }
                self.resolve(&target)
            }
            None => s.clone(),
        }
    }

    fn check(&mut self, s: &Value, v: &Value, at: &str) {
        let s = self.resolve(s);
        if let Some(branches) = s.get("anyOf").and_then(Value::as_array) {
            for b in branches {
                let (errors, sites) = (self.errors.len(), self.sites.len());
                self.check(b, v, at);
                if self.errors.len() == errors {
                    return;
                }
                self.errors.truncate(errors);
                self.sites.truncate(sites);
            }
            self.errors.push(format!("{at}: matches no anyOf branch"));
            return;
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            let ok = types.iter().any(|t| match *t {
                "integer" => v.is_i64() || v.is_u64(),
                "string" => v.is_string(),
                "boolean" => v.is_boolean(),
                "array" => v.is_array(),
                "object" => v.is_object(),
                "null" => v.is_null(),
                _ => false,
            });
            if !ok {
                self.errors.push(format!("{at}: not of type {t}"));
                return;
            }
        }
        if let Some(values) = s.get("enum").and_then(Value::as_array) {
            if !values.contains(v) {
                self.errors.push(format!("{at}: {v} not in {values:?}"));
            }
            self.sites.push(Site {
                pointer: at.to_string(),
                schema: s.clone(),
            });
        }
        if let Some(n) = v.as_f64() {
            if s.get("minimum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n < m)
            {
                self.errors.push(format!("{at}: below minimum"));
            }
            if s.get("maximum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n > m)
            {
                self.errors.push(format!("{at}: above maximum"));
            }
        }
        if let (Some(t), Some(m)) = (v.as_str(), s.get("minLength").and_then(Value::as_u64))
            && (t.chars().count() as u64) < m
        {
            self.errors.push(format!("{at}: shorter than {m}"));
        }
        if let Some(items) = v.as_array() {
            if s.get("minItems")
                .and_then(Value::as_u64)
                .is_some_and(|m| (items.len() as u64) < m)
            {
                self.errors.push(format!("{at}: fewer items than minItems"));
            }
            if let Some(item) = s.get("items") {
                for (i, x) in items.iter().enumerate() {
                    self.check(item, x, &format!("{at}/{i}"));
                }
            }
        }
        if let Some(obj) = v.as_object()
            && let Some(props) = s.get("properties").and_then(Value::as_object)
        {
            self.sites.push(Site {
                pointer: at.to_string(),
                schema: s.clone(),
            });
            for r in s["required"].as_array().into_iter().flatten() {
                if !obj.contains_key(r.as_str().unwrap_or_default()) {
                    self.errors.push(format!("{at}: missing required {r}"));
                }
            }
            for (k, x) in obj {
                match props.get(k) {
                    Some(p) => self.check(p, x, &format!("{at}/{k}")),
                    None if s["additionalProperties"] == json!(false) => {
                        self.errors.push(format!("{at}: unknown field {k}"));
                    }
                    None => {}
                }
            }
        }
    }
}

/// Validates `doc`: (errors, sites met, $defs used).
fn validate(doc: &Value) -> (Vec<String>, Vec<Site>, BTreeSet<String>) {
    let root = schema();
    let mut w = Walk {
        root: &root,
        errors: Vec::new(),
        sites: Vec::new(),
        defs_seen: BTreeSet::new(),
    };
    w.check(&root, doc, "");
    (w.errors, w.sites, w.defs_seen)
}

/// Whether serde takes the JSON as a document (shape only; the rules are `validate`'s).
fn parses(doc: &Value) -> bool {
    serde_json::from_value::<PolicyDocument>(doc.clone()).is_ok()
}

fn serialized(doc: &PolicyDocument) -> Value {
    let text = doc.to_json().unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// The seeded Huoqiu policy with every optional section and list filled (maternity, category
/// tilts, category deductibles and a commercial supplement taken from Zhongshan's policy), as
/// the Rust types serialize it — null for an absent option, every default written out.
fn full_document() -> Value {
    let bundle = default_bundle().unwrap_or_else(|e| panic!("{e}"));
    let doc = |id: &str| {
        bundle
            .policies
            .iter()
            .find(|p| p.id == id)
            .map(serialized)
            .unwrap_or_else(|| panic!("no {id} in the bundle"))
    };
    let mut full = doc("341522-2018-resident");
    let zhongshan = doc("442000-2022-resident");
    full["maternity"] = json!({"flat_amount": 300_000});
    full["basic"]["category_tilts"] = json!([{"category": "poverty_registered", "plus": 500}]);
    full["basic"]["deductibles"][0]["by_category"] =
        json!([{"category": "poverty_registered", "amount": 0}]);
    full["supplements"] = zhongshan["supplements"].clone();
    let parsed: PolicyDocument =
        serde_json::from_value(full.clone()).unwrap_or_else(|e| panic!("{e}"));
    parsed.validate().unwrap_or_else(|e| panic!("{e}"));
    serialized(&parsed)
}

#[test]
fn every_document_of_the_default_bundle_validates_against_the_schema() {
    let text = include_str!("../policies/default_bundle.json");
    let raw: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
    let bundle = default_bundle().unwrap_or_else(|e| panic!("{e}"));
    let docs = raw["policies"].as_array().cloned().unwrap_or_default();
    assert_eq!(docs.len(), bundle.policies.len());
    assert!(!docs.is_empty());
    for (as_written, parsed) in docs.iter().zip(&bundle.policies) {
        for form in [as_written.clone(), serialized(parsed)] {
            let (errors, _, _) = validate(&form);
            assert!(errors.is_empty(), "{}: {errors:?}", parsed.id);
        }
    }
    let (errors, _, defs) = validate(&full_document());
    assert!(errors.is_empty(), "{errors:?}");
    let all: BTreeSet<String> = schema()["$defs"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(defs, all, "the full document reaches every definition");
}

#[test]
fn the_docs_copy_is_the_schema_the_gateway_serves() {
    let docs = include_str!("../../../docs/policy-schema.json");
    assert_eq!(
        docs, POLICY_SCHEMA_JSON,
        "docs/policy-schema.json is stale: cp services/settlement/policies/policy-schema.json docs/"
    );
    let s = schema();
    assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
}

/// Removes the object member `key` at `pointer`.
fn without(doc: &Value, pointer: &str, key: &str) -> Value {
    let mut d = doc.clone();
    if let Some(Value::Object(m)) = d.pointer_mut(pointer) {
        m.remove(key);
    }
    d
}

#[test]
fn required_fields_are_exactly_those_the_parser_cannot_do_without() {
    let full = full_document();
    let (_, sites, _) = validate(&full);
    let mut checked = 0;
    for site in sites
        .iter()
        .filter(|s| s.schema.get("properties").is_some())
    {
        let required: BTreeSet<&str> = site.schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let props = site.schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let obj = full.pointer(&site.pointer).and_then(Value::as_object);
        for key in props.keys() {
            assert!(
                obj.is_some_and(|o| o.contains_key(key)),
                "{}/{key}: the serialized document writes every field",
                site.pointer
            );
            let accepted = parses(&without(&full, &site.pointer, key));
            assert_eq!(
                accepted,
                !required.contains(key.as_str()),
                "{}/{key}: the schema says required={}, the parser {} it missing",
                site.pointer,
                required.contains(key.as_str()),
                if accepted { "accepts" } else { "refuses" }
            );
            checked += 1;
        }
        // An unknown field is refused by both.
        let mut extra = full.clone();
        if let Some(Value::Object(m)) = extra.pointer_mut(&site.pointer) {
            m.insert("x_unknown".into(), json!(1));
        }
        assert!(!parses(&extra), "{}: unknown field parsed", site.pointer);
        assert!(
            !validate(&extra).0.is_empty(),
            "{}: unknown field valid",
            site.pointer
        );
    }
    assert!(checked > 60, "only {checked} fields checked");
}

#[test]
fn every_enum_value_of_the_schema_parses_and_nothing_else_does() {
    let full = full_document();
    let (_, sites, _) = validate(&full);
    let enums: Vec<&Site> = sites
        .iter()
        .filter(|s| s.schema.get("enum").is_some())
        .collect();
    assert!(enums.len() > 20, "{}", enums.len());
    for site in enums {
        for value in site.schema["enum"].as_array().into_iter().flatten() {
            let mut d = full.clone();
            if let Some(slot) = d.pointer_mut(&site.pointer) {
                *slot = value.clone();
            }
            assert!(parses(&d), "{} = {value} refused", site.pointer);
        }
        let mut d = full.clone();
        if let Some(slot) = d.pointer_mut(&site.pointer) {
            *slot = json!("not_a_value");
        }
        assert!(
            !parses(&d),
            "{}: a value outside the enum parsed",
            site.pointer
        );
    }
}

fn names<T: serde::Serialize>(values: &[T]) -> BTreeSet<String> {
    values
        .iter()
        .map(|v| {
            serde_json::to_value(v)
                .unwrap_or_default()
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn schema_enum(s: &Value) -> BTreeSet<String> {
    s["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// Every variant, by an exhaustive match (a new variant fails to compile here until listed).
fn level_keys() -> Vec<LevelKey> {
    use LevelKey::*;
    let all = vec![Township, County, City, Province, Grade1, Grade2, Grade3];
    for k in &all {
        match k {
            Township | County | City | Province | Grade1 | Grade2 | Grade3 => {}
        }
    }
    all
}

fn encounter_kinds() -> Vec<EncounterKind> {
    use EncounterKind::*;
    let all = vec![
        Inpatient,
        GeneralOutpatient,
        OutpatientChronic,
        Maternity,
        Pharmacy,
    ];
    for k in &all {
        match k {
            Inpatient | GeneralOutpatient | OutpatientChronic | Maternity | Pharmacy => {}
        }
    }
    all
}

#[test]
fn the_schema_enums_are_the_rust_variants() {
    let s = schema();
    let d = &s["$defs"];
    assert_eq!(schema_enum(&d["scheme"]), names(&Scheme::ALL));
    assert_eq!(
        schema_enum(&d["person_category"]),
        names(&PersonCategory::ALL)
    );
    assert_eq!(
        schema_enum(&d["institution_tier"]),
        names(&InstitutionTier::ALL)
    );
    assert_eq!(schema_enum(&d["level_key"]), names(&level_keys()));
    assert_eq!(schema_enum(&d["encounter_kind"]), names(&encounter_kinds()));
    assert_eq!(
        schema_enum(&s["properties"]["level_basis"]),
        names(&[LevelBasis::Tier, LevelBasis::Grade])
    );
    assert_eq!(
        schema_enum(&d["basic_pool"]["properties"]["deductible_basis"]),
        names(&[DeductibleBasis::PerAdmission, DeductibleBasis::Annual])
    );
}

#[test]
fn every_field_and_definition_is_described() {
    fn walk(s: &Value, at: &str, missing: &mut Vec<String>) {
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            for (k, p) in props {
                if p["description"].as_str().is_none_or(|d| d.trim().len() < 8) {
                    missing.push(format!("{at}.{k}"));
                }
                walk(p, &format!("{at}.{k}"), missing);
            }
        }
    }
    let s = schema();
    let mut missing = Vec::new();
    walk(&s, "", &mut missing);
    for (name, def) in s["$defs"].as_object().into_iter().flatten() {
        if def["description"]
            .as_str()
            .is_none_or(|d| d.trim().len() < 8)
        {
            missing.push(format!("$defs.{name}"));
        }
        walk(def, &format!("$defs.{name}"), &mut missing);
    }
    assert!(missing.is_empty(), "undescribed: {missing:?}");
}

#[test]
fn a_shape_error_of_an_upload_names_its_field_path() {
    let mut doc = full_document();
    doc["basic"]["rates"][1]["level"] = json!("capital");
    match PolicyDocument::from_json(&doc.to_string()) {
        Err(PolicyError::Shape(f)) => {
            assert_eq!(f.path, "basic.rates[1].level", "{f:?}");
            assert!(f.message.contains("capital"), "{f:?}");
        }
        other => panic!("{other:?}"),
    }
    let doc = without(&full_document(), "/critical_illness", "threshold");
    match PolicyDocument::from_json(&doc.to_string()) {
        Err(PolicyError::Shape(f)) => {
            assert_eq!(f.path, "critical_illness", "{f:?}");
            assert!(f.message.contains("threshold"), "{f:?}");
        }
        other => panic!("{other:?}"),
    }
    let doc = without(&full_document(), "", "basic");
    match PolicyDocument::from_json(&doc.to_string()) {
        Err(PolicyError::Shape(f)) => {
            assert_eq!((f.path.as_str(), f.message.contains("basic")), ("", true))
        }
        other => panic!("{other:?}"),
    }
    // Syntax stays a parse error of the whole text.
    assert!(matches!(
        PolicyDocument::from_json("{\"id\": "),
        Err(PolicyError::Parse(_))
    ));
}

#[test]
fn the_example_of_docs_policy_format_is_the_seeded_huoqiu_policy() {
    let md = include_str!("../../../docs/policy-format.md");
    let block = md
        .split("```json\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .unwrap_or_else(|| panic!("no json block in docs/policy-format.md"));
    let example: Value = serde_json::from_str(block).unwrap_or_else(|e| panic!("{e}"));
    let raw: Value = serde_json::from_str(include_str!("../policies/default_bundle.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let seeded = raw["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["id"] == "341522-2018-resident")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        example, seeded,
        "docs/policy-format.md's example is not the bundle's Huoqiu policy"
    );
    let (errors, _, _) = validate(&example);
    assert!(errors.is_empty(), "{errors:?}");
    PolicyDocument::from_json(block).unwrap_or_else(|e| panic!("{e}"));
}
