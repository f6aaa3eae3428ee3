//! Who may call what, read from the contracts: every method's `yibao.common.v1.access` option
//! (roles, the tenancy fields, whether it writes), taken from the same descriptor set the
//! gateway transcodes with. The gateway checks it at the edge and every service port checks it
//! again in [`crate::server::AuthLayer`], so a token sent straight to a service gets no more
//! than the gateway would give it. Deny by default: a method without the option, or a role the
//! option does not list, is refused with `ROLE_NOT_ALLOWED`.

use crate::auth::{AuthError, Caller, Role};
use prost_reflect::{DescriptorPool, DynamicMessage, Value};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The access rule of a method (`yibao.common.v1.Access`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Roles allowed.
    pub roles: Vec<Role>,
    /// Request field holding the organisation code an organisation-scoped caller must own.
    pub org_field: String,
    /// Request field holding a region a region-scoped caller must cover.
    pub region_field: String,
    /// The method changes state (Idempotency-Key honoured).
    pub write: bool,
}

impl Access {
    /// Reads the rule from a method's options; `None` when the method has none.
    pub fn of_method(method: &prost_reflect::MethodDescriptor) -> Option<Access> {
        let ext = method
            .parent_pool()
            .get_extension_by_name("yibao.common.v1.access")?;
        let options = method.options();
        if !options.has_extension(&ext) {
            return None;
        }
        let value = options.get_extension(&ext);
        let msg = value.as_message()?;
        Some(Access::from_message(msg))
    }

    fn from_message(msg: &DynamicMessage) -> Access {
        let text = |name: &str| {
            msg.get_field_by_name(name)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        let roles = match msg.get_field_by_name("roles").map(|v| v.into_owned()) {
            Some(Value::List(list)) => list
                .iter()
                .filter_map(Value::as_enum_number)
                .filter_map(role_of)
                .collect(),
            _ => Vec::new(),
        };
        let write = msg
            .get_field_by_name("write")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        Access {
            roles,
            org_field: text("org_field"),
            region_field: text("region_field"),
            write,
        }
    }

    /// True when `role` may call the method.
    pub fn allows(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

fn role_of(n: i32) -> Option<Role> {
    Role::ALL.into_iter().find(|r| r.proto_number() == n)
}

/// The access rules of every method of the contracts, by gRPC path (`/package.Service/Method`).
#[derive(Debug, Clone, Default)]
pub struct AccessTable {
    by_path: HashMap<String, Option<Access>>,
}

impl AccessTable {
    /// Reads every service method of an encoded descriptor set.
    pub fn from_descriptor_set(
        bytes: &[u8],
    ) -> Result<AccessTable, prost_reflect::DescriptorError> {
        let pool = DescriptorPool::decode(bytes)?;
        Ok(AccessTable::from_pool(&pool))
    }

    /// Reads every service method of a descriptor pool.
    pub fn from_pool(pool: &DescriptorPool) -> AccessTable {
        let by_path = pool
            .services()
            .flat_map(|s| s.methods().collect::<Vec<_>>())
            .map(|m| {
                let path = format!("/{}/{}", m.parent_service().full_name(), m.name());
                (path, Access::of_method(&m))
            })
            .collect();
        AccessTable { by_path }
    }

    /// The table of Yibao's own contracts (built once).
    pub fn contracts() -> &'static AccessTable {
        static TABLE: OnceLock<AccessTable> = OnceLock::new();
        TABLE.get_or_init(|| {
            // The descriptor set is compiled into the binary by yibao-proto's build script; a
            // failure here is a build defect, and the empty table then denies every call.
            AccessTable::from_descriptor_set(yibao_proto::FILE_DESCRIPTOR_SET).unwrap_or_else(|e| {
                tracing::error!(error = %e, "contract descriptors do not decode");
                AccessTable::default()
            })
        })
    }

    /// The rule of a method: `None` for a method that is not in the contracts or has no rule.
    pub fn rule(&self, path: &str) -> Option<&Access> {
        self.by_path.get(path).and_then(Option::as_ref)
    }

    /// Every method path with its rule, sorted by path.
    pub fn methods(&self) -> Vec<(&str, Option<&Access>)> {
        let mut all: Vec<_> = self
            .by_path
            .iter()
            .map(|(p, a)| (p.as_str(), a.as_ref()))
            .collect();
        all.sort_by_key(|(p, _)| *p);
        all
    }

    /// Checks that `caller` may call the method at `path`: deny by default.
    pub fn check(&self, path: &str, caller: &Caller) -> Result<(), AuthError> {
        match self.rule(path) {
            Some(rule) if rule.allows(caller.role) => Ok(()),
            _ => Err(AuthError::RoleNotAllowed {
                role: caller.role.as_str(),
                method: path.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role) -> Caller {
        Caller {
            subject: "t".into(),
            role,
            org: "H34152200001".into(),
            region: yibao_core::RegionCode::parse("341522").ok(),
        }
    }

    #[test]
    fn the_rules_come_from_the_contract_annotations() {
        let t = AccessTable::contracts();
        let rule = t
            .rule("/yibao.enrollment.v1.EnrollmentService/CheckEligibility")
            .cloned()
            .unwrap_or_default();
        assert!(rule.allows(Role::Hospital) && rule.allows(Role::Operator));
        assert!(!rule.allows(Role::Insurer) && !rule.write);
        let upsert = "/yibao.procurement.v1.ProcurementService/UpsertCatalogueItem";
        assert!(t.check(upsert, &caller(Role::Operator)).is_ok());
        assert_eq!(
            t.check(upsert, &caller(Role::Hospital)),
            Err(AuthError::RoleNotAllowed {
                role: "hospital",
                method: upsert.into()
            })
        );
    }

    #[test]
    fn unknown_methods_are_denied_to_every_role() {
        let t = AccessTable::contracts();
        for role in Role::ALL {
            assert!(t.check("/yibao.nothing.v1.X/Y", &caller(role)).is_err());
        }
        assert!(t.methods().len() > 100, "every RPC of the five services");
    }
}
