//! The rule library: `ListRules`, `UpdateRule`.

use super::input::{non_empty, own_region};
use super::{Res, map};
use crate::app::{Supervision, audit};
use crate::domain::RuleUpdate;
use crate::error;
use tonic::{Request, Response};
use yibao_proto::supervision::v1 as pb;
use yibao_runtime::server::caller;

pub(super) async fn list_rules(
    app: &Supervision,
    req: Request<pb::ListRulesRequest>,
) -> Res<pb::ListRulesResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let region = own_region(&caller, "region_code", &r.region_code)?;
    let (set, made) = app.rule_set(&region, r.version).await?;
    Ok(Response::new(pb::ListRulesResponse {
        rule_set: Some(map::rule_set(&set, Some(&made))),
    }))
}

pub(super) async fn update_rule(
    app: &Supervision,
    req: Request<pb::UpdateRuleRequest>,
) -> Res<pb::UpdateRuleResponse> {
    let caller = caller(&req)?;
    let r = req.into_inner();
    let region = own_region(&caller, "region_code", &r.region_code)?;
    let code = map::rule_code_in("rule_code", r.rule_code)?
        .ok_or_else(|| error::RULE_UNKNOWN.invalid("rule_code", "is required"))?;
    let change = RuleUpdate {
        code,
        enabled: r.enabled,
        severity: map::severity_update(r.severity)?,
        params: map::params_in(r.params.as_ref())?,
    };
    if change.enabled.is_none() && change.severity.is_none() && change.params.is_none() {
        return Err(error::RULE_NO_CHANGE
            .invalid("enabled", "give a new switch, severity or parameters")
            .into());
    }
    let reason = non_empty("reason", &r.reason)?;
    let made = audit(&caller);
    let next = app
        .update_rule(&made, &region, &change, &reason, r.expected_version)
        .await?;
    Ok(Response::new(pb::UpdateRuleResponse {
        rule_set: Some(map::rule_set(&next, Some(&made))),
    }))
}
