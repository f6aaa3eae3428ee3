//! The route catalogue, read from the contracts' descriptors: every method's
//! `google.api.http` binding and `yibao.common.v1.access` rule. Nothing here is written per
//! route by hand: adding an RPC with annotations to a proto adds its REST route, its access
//! rule and its OpenAPI operation.

use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor, Value};
use std::collections::HashMap;

pub use yibao_runtime::access::Access;

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A literal.
    Literal(String),
    /// A variable bound to a request field path.
    Var(String),
}

/// A REST binding of a method.
#[derive(Debug, Clone)]
pub struct HttpBinding {
    /// HTTP method.
    pub verb: http::Method,
    /// The template as written, e.g. `/v1/persons/{person_id}:correct`.
    pub template: String,
    /// Segments of the path before the custom verb.
    pub segments: Vec<Segment>,
    /// Custom verb after the last `:` (e.g. `check` in `/v1/eligibility:check`).
    pub custom_verb: Option<String>,
    /// `*`, a field name, or empty (no body).
    pub body: String,
}

/// A method the gateway can reach.
#[derive(Debug, Clone)]
pub struct Route {
    /// The method descriptor.
    pub method: MethodDescriptor,
    /// gRPC path `/package.Service/Method`.
    pub grpc_path: String,
    /// The access rule; `None` means not exposed (deny by default).
    pub access: Option<Access>,
    /// REST bindings.
    pub http: Vec<HttpBinding>,
    /// Upstream service key: `enrollment`, `settlement`, …
    pub upstream: String,
}

/// A matched REST request: the binding, its method's route, and the path variables.
pub type RestMatch<'a> = (&'a HttpBinding, &'a Route, Vec<(String, String)>);

/// All routes.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The descriptor pool.
    pub pool: DescriptorPool,
    /// Routes by gRPC path.
    pub by_path: HashMap<String, Route>,
    /// REST routes in declaration order.
    pub rest: Vec<(HttpBinding, String)>,
}

fn parse_template(t: &str) -> Result<(Vec<Segment>, Option<String>), String> {
    let path = t
        .strip_prefix('/')
        .ok_or_else(|| format!("template `{t}` must start with /"))?;
    // A custom verb follows the last ':' that is outside braces.
    let (mut depth, mut split) = (0, None);
    for (i, ch) in path.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ':' if depth == 0 => split = Some(i),
            _ => {}
        }
    }
    let (path, verb) = match split {
        Some(i) => (&path[..i], Some(path[i + 1..].to_string())),
        None => (path, None),
    };
    let segments = path
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(var) => Segment::Var(var.split('=').next().unwrap_or(var).to_string()),
                None => Segment::Literal(s.to_string()),
            },
        )
        .collect();
    Ok((segments, verb))
}

fn http_bindings(rule: &DynamicMessage) -> Result<Vec<HttpBinding>, String> {
    let mut out = Vec::new();
    let body = rule
        .get_field_by_name("body")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    for (field, verb) in [
        ("get", http::Method::GET),
        ("post", http::Method::POST),
        ("put", http::Method::PUT),
        ("delete", http::Method::DELETE),
        ("patch", http::Method::PATCH),
    ] {
        if let Some(t) = rule
            .get_field_by_name(field)
            .and_then(|v| v.as_str().map(str::to_string))
            .filter(|t| !t.is_empty())
        {
            let (segments, custom_verb) = parse_template(&t)?;
            out.push(HttpBinding {
                verb,
                template: t,
                segments,
                custom_verb,
                body: body.clone(),
            });
        }
    }
    if let Some(Value::List(extra)) = rule
        .get_field_by_name("additional_bindings")
        .map(|v| v.into_owned())
    {
        for v in extra {
            if let Value::Message(m) = v {
                out.extend(http_bindings(&m)?);
            }
        }
    }
    Ok(out)
}

impl Catalog {
    /// Reads the catalogue from an encoded descriptor set.
    pub fn from_descriptor_set(bytes: &[u8]) -> Result<Catalog, String> {
        let pool = DescriptorPool::decode(bytes).map_err(|e| format!("descriptor set: {e}"))?;
        let http_ext = pool
            .get_extension_by_name("google.api.http")
            .ok_or("google.api.http extension missing")?;
        let mut by_path = HashMap::new();
        let mut rest = Vec::new();
        for service in pool.services() {
            let Some(upstream) = service
                .full_name()
                .strip_prefix("yibao.")
                .and_then(|s| s.split('.').next())
                .map(str::to_string)
            else {
                continue;
            };
            for method in service.methods() {
                let options = method.options();
                let access = Access::of_method(&method);
                let http = if options.has_extension(&http_ext) {
                    match options.get_extension(&http_ext).as_message() {
                        Some(rule) => http_bindings(rule)?,
                        None => Vec::new(),
                    }
                } else {
                    Vec::new()
                };
                let grpc_path = format!("/{}/{}", service.full_name(), method.name());
                for b in &http {
                    rest.push((b.clone(), grpc_path.clone()));
                }
                by_path.insert(
                    grpc_path.clone(),
                    Route {
                        method: method.clone(),
                        grpc_path,
                        access,
                        http,
                        upstream: upstream.clone(),
                    },
                );
            }
        }
        Ok(Catalog {
            pool,
            by_path,
            rest,
        })
    }

    /// Finds the REST route for a request: the binding, its method route, and path variables.
    pub fn match_rest(&self, verb: &http::Method, path: &str) -> Option<RestMatch<'_>> {
        let trimmed = path.strip_prefix('/')?;
        for (binding, grpc_path) in &self.rest {
            if binding.verb != *verb {
                continue;
            }
            let (body, verb_part) = match &binding.custom_verb {
                Some(v) => match trimmed.rsplit_once(':') {
                    Some((b, got)) if got == v => (b, Some(got)),
                    _ => continue,
                },
                None => (trimmed, None),
            };
            let _ = verb_part;
            let parts: Vec<&str> = body.split('/').collect();
            if parts.len() != binding.segments.len() {
                continue;
            }
            let mut vars = Vec::new();
            let ok = binding
                .segments
                .iter()
                .zip(&parts)
                .all(|(seg, part)| match seg {
                    Segment::Literal(l) => l == part,
                    Segment::Var(name) => {
                        if part.is_empty() {
                            return false;
                        }
                        vars.push((name.clone(), decode(part)));
                        true
                    }
                });
            if ok {
                let route = self.by_path.get(grpc_path)?;
                return Some((binding, route, vars));
            }
        }
        None
    }
}

/// Percent-decodes a URL component (invalid escapes are kept as they are).
pub(crate) fn decode(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let escaped = (b[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let Some(v) = escaped {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use yibao_runtime::Role;

    fn catalog() -> Catalog {
        Catalog::from_descriptor_set(yibao_proto::FILE_DESCRIPTOR_SET)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn routes_and_access_come_from_the_annotations() {
        let c = catalog();
        let (b, r, vars) = c
            .match_rest(&http::Method::POST, "/v1/eligibility:check")
            .unwrap_or_else(|| panic!("no route"));
        assert_eq!(b.body, "*");
        assert_eq!(
            r.grpc_path,
            "/yibao.enrollment.v1.EnrollmentService/CheckEligibility"
        );
        assert!(vars.is_empty());
        let access = r.access.clone().unwrap_or_default();
        assert!(access.roles.contains(&Role::Hospital) && !access.write);
        let (_, r, vars) = c
            .match_rest(&http::Method::POST, "/v1/persons/abc-1:correct")
            .unwrap_or_else(|| panic!("no route"));
        assert_eq!(r.method.name(), "CorrectPerson");
        assert_eq!(vars, vec![("person_id".to_string(), "abc-1".to_string())]);
        assert!(r.access.as_ref().is_some_and(|a| a.write));
    }

    #[test]
    fn unknown_paths_and_wrong_verbs_do_not_match() {
        let c = catalog();
        assert!(
            c.match_rest(&http::Method::GET, "/v1/eligibility:check")
                .is_none()
        );
        assert!(c.match_rest(&http::Method::POST, "/v1/nothing").is_none());
        assert!(
            c.match_rest(&http::Method::POST, "/v1/persons/x:erase")
                .is_none()
        );
    }

    #[test]
    fn templates_parse_variables_and_verbs() {
        let (segs, verb) = parse_template("/v1/claims/{claim_id}:reverse").unwrap_or_default();
        assert_eq!(
            segs,
            vec![
                Segment::Literal("v1".into()),
                Segment::Literal("claims".into()),
                Segment::Var("claim_id".into())
            ]
        );
        assert_eq!(verb.as_deref(), Some("reverse"));
        assert_eq!(decode("a%20b"), "a b");
    }

    #[test]
    fn a_path_variable_bound_to_a_nested_field_sets_that_field() {
        let c = catalog();
        let (b, r, vars) = c
            .match_rest(
                &http::Method::PUT,
                "/v1/procurement/catalogue/XA01AAA0001010101001",
            )
            .unwrap_or_else(|| panic!("no route"));
        assert_eq!(r.method.name(), "UpsertCatalogueItem");
        assert_eq!(
            vars,
            vec![("item.code".to_string(), "XA01AAA0001010101001".to_string())]
        );
        let msg = crate::transcode::bind_request(
            r.method.input(),
            b,
            &vars,
            None,
            br#"{"region_code":"341522","item":{"code":"other"}}"#,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            crate::transcode::get_path(&msg, "item.code").as_deref(),
            Some("XA01AAA0001010101001")
        );
        // The catalogue's other routes are not taken for it.
        let (_, r, _) = c
            .match_rest(&http::Method::POST, "/v1/procurement/catalogue:import")
            .unwrap_or_else(|| panic!("no route"));
        assert_eq!(r.method.name(), "ImportCatalogue");
        let (_, r, _) = c
            .match_rest(&http::Method::GET, "/v1/procurement/catalogue/XA01")
            .unwrap_or_else(|| panic!("no route"));
        assert_eq!(r.method.name(), "GetCatalogueItem");
    }
}
