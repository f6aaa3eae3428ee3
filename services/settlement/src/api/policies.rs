//! Policies (upload, list, read) and the place of treatment's catalogue.

use super::enums::{class_pb, scheme_of_pb};
use super::messages::policy_pb;
use super::{
    Reply, SettlementApi, auth, invalid, list_region, page, page_key, parse_date, parse_region,
};
use crate::domain::{CatalogueEntry, ItemClass};
use crate::store;
use tonic::{Request, Response, Status};
use yibao_core::{Bp, Fen};
use yibao_proto::settlement::v1 as pb;
use yibao_runtime::page::PAGE_INVALID;
use yibao_runtime::server::caller;

impl SettlementApi {
    pub(super) async fn policy_upload(
        &self,
        req: Request<pb::UploadPolicyRequest>,
    ) -> Reply<pb::UploadPolicyResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let region = parse_region("region_code", &r.region_code)?;
        c.check_region("region_code", region.as_str())
            .map_err(auth)?;
        if r.document_json.trim().is_empty() {
            return Err(invalid("document_json", "required"));
        }
        let header = self
            .app
            .upload_policy(&c, &region, &r.document_json)
            .await?;
        Ok(Response::new(pb::UploadPolicyResponse {
            policy: Some(policy_pb(&header)),
        }))
    }

    pub(super) async fn policy_list(
        &self,
        req: Request<pb::ListPoliciesRequest>,
    ) -> Reply<pb::ListPoliciesResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let page = page(r.page.as_ref())?;
        let after = match page_key(&page, 2)? {
            Some(k) => Some((
                k[0].as_str(),
                k[1].parse::<i64>().map_err(|_| {
                    Status::from(
                        PAGE_INVALID
                            .invalid("page.page_token", "is not a token a previous page returned"),
                    )
                })?,
            )),
            None => None,
        };
        let region = list_region(&c, "region_code", &r.region_code)?.unwrap_or_default();
        let year = (r.year != 0).then_some(r.year);
        let rows = self
            .app
            .list_policies(&region, year, scheme_of_pb(r.scheme), after, page.fetch())
            .await?;
        let (rows, next) = page.finish(rows, |h| vec![h.policy_id.clone(), h.version.to_string()]);
        Ok(Response::new(pb::ListPoliciesResponse {
            page: Some(next),
            policies: rows.iter().map(policy_pb).collect(),
        }))
    }

    pub(super) async fn policy_read(
        &self,
        req: Request<pb::GetPolicyRequest>,
    ) -> Reply<pb::GetPolicyResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        if r.policy_id.is_empty() {
            return Err(invalid("policy_id", "required"));
        }
        let (h, doc) = self.app.get_policy(&c, &r.policy_id, r.version).await?;
        Ok(Response::new(pb::GetPolicyResponse {
            policy: Some(policy_pb(&h)),
            document_json: doc,
        }))
    }

    pub(super) async fn catalogue_upsert(
        &self,
        req: Request<pb::UpsertCatalogueItemRequest>,
    ) -> Reply<pb::UpsertCatalogueItemResponse> {
        let c = caller(&req)?;
        let r = req.get_ref();
        let region = parse_region("region_code", &r.region_code)?;
        c.check_region("region_code", region.as_str())
            .map_err(auth)?;
        let Some(it) = r.item.as_ref() else {
            return Err(invalid("item", "required"));
        };
        if it.national_code.trim().is_empty() {
            return Err(invalid("item.national_code", "required"));
        }
        let class = match pb::ItemClass::try_from(it.item_class) {
            Ok(pb::ItemClass::A) => ItemClass::A,
            Ok(pb::ItemClass::B) => ItemClass::B,
            Ok(pb::ItemClass::C) => ItemClass::C,
            _ => return Err(invalid("item.item_class", "required: A, B or C")),
        };
        if it.payment_standard_fen.is_some_and(|f| f < 0) {
            return Err(invalid("item.payment_standard_fen", "must not be negative"));
        }
        if it.preselfpay_share_bp.is_some_and(|s| s > 10_000) {
            return Err(invalid(
                "item.preselfpay_share_bp",
                "must not exceed 10000 bp (100%)",
            ));
        }
        let from = parse_date("item.effective_from", &it.effective_from)?;
        let row = store::CatalogueRow {
            region_code: region.to_string(),
            entry: CatalogueEntry {
                national_code: it.national_code.trim().to_string(),
                class,
                payment_standard: it.payment_standard_fen.map(Fen),
                preselfpay_share: it.preselfpay_share_bp.map(Bp),
            },
            name: it.name.clone(),
            effective_from: from,
        };
        let created = self.app.upsert_catalogue(&row).await?;
        Ok(Response::new(pb::UpsertCatalogueItemResponse {
            item: Some(pb::CatalogueItem {
                national_code: row.entry.national_code.clone(),
                name: row.name.clone(),
                item_class: class_pb(class),
                payment_standard_fen: row.entry.payment_standard.map(|f| f.0),
                preselfpay_share_bp: row.entry.preselfpay_share.map(|b| b.0),
                effective_from: from.to_string(),
            }),
            created,
        }))
    }
}
