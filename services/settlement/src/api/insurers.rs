//! Supplementary insurers: their layers, the month's reconciliation, disputes and product
//! membership.

use super::enums::insurer_status_of_pb;
use super::messages::insurer_claim_pb;
use super::{
    Reply, SettlementApi, actor, auth, invalid, list_region, page, page_key, parse_id, parse_month,
    parse_region,
};
use crate::store::InsurerFilter;
use tonic::{Request, Response};
use yibao_proto::settlement::v1 as pb;
use yibao_runtime::server::caller;

impl SettlementApi {
    pub(super) async fn insurer_claim_list(
        &self,
        req: Request<pb::ListInsurerClaimsRequest>,
    ) -> Reply<pb::ListInsurerClaimsResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        if r.insurer_code.is_empty() {
            return Err(invalid("insurer_code", "required"));
        }
        c.check_org("insurer_code", &r.insurer_code).map_err(auth)?;
        let page = page(r.page.as_ref())?;
        let after = page_key(&page, 3)?.map(|k| (k[0].as_str(), k[1].as_str(), k[2].as_str()));
        let f = InsurerFilter {
            insurer_code: r.insurer_code.clone(),
            product_code: Some(r.product_code.clone()).filter(|p| !p.is_empty()),
            month: if r.month.is_empty() {
                None
            } else {
                Some(parse_month("month", &r.month)?)
            },
            status: insurer_status_of_pb(r.status).map(str::to_string),
            region_prefix: list_region(&c, "region_code", &r.region_code)?,
        };
        let rows = self.app.insurer_claims(&f, after, page.fetch()).await?;
        let (rows, next) = page.finish(rows, |x| {
            vec![
                x.settled_on.clone(),
                x.claim_id.clone(),
                x.product_code.clone(),
            ]
        });
        Ok(Response::new(pb::ListInsurerClaimsResponse {
            page: Some(next),
            claims: rows.iter().map(insurer_claim_pb).collect(),
        }))
    }

    pub(super) async fn insurer_reconcile(
        &self,
        req: Request<pb::ReconcileInsurerRequest>,
    ) -> Reply<pb::ReconcileInsurerResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        if r.insurer_code.is_empty() {
            return Err(invalid("insurer_code", "required"));
        }
        c.check_org("insurer_code", &r.insurer_code).map_err(auth)?;
        let month = parse_month("month", &r.month)?;
        let region = list_region(&c, "region_code", &r.region_code)?;
        let (run_id, totals) = self
            .app
            .reconcile_insurer(&r.insurer_code, &month, region.as_deref(), &actor(&c))
            .await?;
        Ok(Response::new(pb::ReconcileInsurerResponse {
            run_id,
            payable_fen: totals.payable,
            disputed_fen: totals.disputed,
            products: totals
                .products
                .iter()
                .map(|p| pb::InsurerProductTotal {
                    product_code: p.product_code.clone(),
                    claims: p.claims,
                    insurer_pay_fen: p.insurer_pay,
                    disputed_fen: p.disputed,
                })
                .collect(),
        }))
    }

    pub(super) async fn insurer_dispute(
        &self,
        req: Request<pb::DisputeInsurerClaimRequest>,
    ) -> Reply<pb::DisputeInsurerClaimResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        if r.insurer_code.is_empty() {
            return Err(invalid("insurer_code", "required"));
        }
        c.check_org("insurer_code", &r.insurer_code).map_err(auth)?;
        if r.claim_id.is_empty() {
            return Err(invalid("claim_id", "required"));
        }
        if r.product_code.is_empty() {
            return Err(invalid("product_code", "required"));
        }
        if r.reason.trim().is_empty() {
            return Err(invalid("reason", "required"));
        }
        let row = self
            .app
            .dispute(
                &r.insurer_code,
                &r.claim_id,
                &r.product_code,
                r.disputed_amount_fen,
                r.reason.trim(),
                &actor(&c),
            )
            .await?;
        Ok(Response::new(pb::DisputeInsurerClaimResponse {
            claim: Some(insurer_claim_pb(&row)),
        }))
    }

    pub(super) async fn insurer_resolve(
        &self,
        req: Request<pb::ResolveInsurerDisputeRequest>,
    ) -> Reply<pb::ResolveInsurerDisputeResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        for (field, value) in [
            ("insurer_code", &r.insurer_code),
            ("claim_id", &r.claim_id),
            ("product_code", &r.product_code),
        ] {
            if value.is_empty() {
                return Err(invalid(field, "required"));
            }
        }
        if r.resolution.trim().is_empty() {
            return Err(invalid("resolution", "required: the decision in words"));
        }
        let region = list_region(&c, "region_code", &r.region_code)?
            .map(|x| parse_region("region_code", &x))
            .transpose()?;
        let row = self
            .app
            .resolve_dispute(
                &r.insurer_code,
                &r.claim_id,
                &r.product_code,
                region.as_ref(),
                r.upheld,
                r.resolution.trim(),
                &actor(&c),
            )
            .await?;
        Ok(Response::new(pb::ResolveInsurerDisputeResponse {
            claim: Some(insurer_claim_pb(&row)),
        }))
    }

    pub(super) async fn member_register(
        &self,
        req: Request<pb::RegisterSupplementMemberRequest>,
    ) -> Reply<pb::RegisterSupplementMemberResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        if r.insurer_code.is_empty() {
            return Err(invalid("insurer_code", "required"));
        }
        c.check_org("insurer_code", &r.insurer_code).map_err(auth)?;
        let region = parse_region("region_code", &r.region_code)?;
        c.check_region("region_code", region.as_str())
            .map_err(auth)?;
        let id = parse_id("id_number", &r.id_number)?;
        if !(1900..=2999).contains(&r.year) {
            return Err(invalid("year", "required: the insurance year"));
        }
        if r.product_code.is_empty() {
            return Err(invalid("product_code", "required"));
        }
        let created = self
            .app
            .register_member(&region, r.year, &r.product_code, &r.insurer_code, &id)
            .await?;
        Ok(Response::new(pb::RegisterSupplementMemberResponse {
            product_code: r.product_code.clone(),
            id_number_masked: id.masked(),
            year: r.year,
            created,
        }))
    }
}
