//! Institution statements (with supervision's payment decision) and the ledger's
//! reconciliation.

use super::enums::scheme_pb;
use super::{Reply, SettlementApi, actor, auth, authorization, invalid, parse_month, parse_region};
use crate::app::upstream::PaymentDecision;
use tonic::{Request, Response};
use yibao_core::InstitutionCode;
use yibao_proto::settlement::v1 as pb;
use yibao_runtime::server::caller;

fn decision_pb(d: PaymentDecision) -> pb::PaymentDecision {
    match d {
        PaymentDecision::Unspecified => pb::PaymentDecision::Unspecified,
        PaymentDecision::Pay => pb::PaymentDecision::Pay,
        PaymentDecision::Hold => pb::PaymentDecision::Hold,
        PaymentDecision::Refuse => pb::PaymentDecision::Refuse,
    }
}

impl SettlementApi {
    pub(super) async fn statement_read(
        &self,
        req: Request<pb::GetInstitutionStatementRequest>,
    ) -> Reply<pb::GetInstitutionStatementResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let inst = InstitutionCode::parse(&r.institution_code)
            .map_err(|e| invalid("institution_code", e.to_string()))?;
        c.check_org("institution_code", inst.as_str())
            .map_err(auth)?;
        if c.role.is_region_scoped() && !c.covers_region(&inst.region()) {
            return Err(auth(yibao_runtime::auth::AuthError::OutsideRegion {
                field: "institution_code".into(),
                value: inst.as_str().to_string(),
                region: c
                    .region
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            }));
        }
        let month = parse_month("month", &r.month)?;
        let statement = self
            .app
            .statement(authorization(&req), &inst, &month)
            .await?;
        let totals = &statement.lines;
        Ok(Response::new(pb::GetInstitutionStatementResponse {
            institution_code: inst.as_str().to_string(),
            month,
            lines: totals
                .iter()
                .map(|(scheme, t)| pb::StatementLine {
                    scheme: scheme_pb(*scheme),
                    claims: t.claims,
                    reversals: t.reversals,
                    medfee_sumamt_fen: t.net.medfee_sumamt.0,
                    hifp_pay_fen: t.net.hifp_pay.0,
                    hifmi_pay_fen: t.net.hifmi_pay.0,
                    hifob_pay_fen: t.net.hifob_pay.0,
                    maf_pay_fen: t.net.maf_pay.0,
                    oth_pay_fen: t.net.oth_pay.0,
                    fund_pay_sumamt_fen: t.net.fund_pay_sumamt.0,
                    insurer_pay_fen: t.net.insurer_pay.0,
                    psn_cash_pay_fen: t.net.psn_cash_pay.0,
                })
                .collect(),
            generated_at: chrono::Utc::now().to_rfc3339(),
            payment_decision: decision_pb(statement.payment.decision) as i32,
            payment_reasons: statement.payment.reasons,
            credit_score: statement.payment.credit_score,
        }))
    }

    pub(super) async fn ledger_reconcile(
        &self,
        req: Request<pb::ReconcileLedgerRequest>,
    ) -> Reply<pb::ReconcileLedgerResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let region = parse_region("region_code", &r.region_code)?;
        c.check_region("region_code", region.as_str())
            .map_err(auth)?;
        let month = parse_month("month", &r.month)?;
        let rec = self
            .app
            .reconcile_ledger(region.as_str(), &month, &actor(&c))
            .await?;
        Ok(Response::new(pb::ReconcileLedgerResponse {
            run_id: rec.run_id.clone(),
            balanced: rec.balanced(),
            funds: rec
                .funds
                .iter()
                .map(|f| pb::LedgerFundTotal {
                    fund_pay_type: f.fund_pay_type.clone(),
                    claims_total_fen: f.claims_total,
                    ledger_total_fen: f.ledger_total,
                    difference_fen: f.difference,
                })
                .collect(),
            discrepancies: rec
                .discrepancies
                .iter()
                .map(|d| pb::LedgerDiscrepancy {
                    claim_id: d.claim_id.clone(),
                    fund_pay_type: d.fund_pay_type.clone(),
                    expected_fen: d.expected,
                    recorded_fen: d.recorded,
                })
                .collect(),
        }))
    }
}
