//! Policies (upload, list, read).

use super::enums::scheme_of_pb;
use super::messages::policy_pb;
use super::{Reply, SettlementApi, auth, invalid, list_region, page, page_key, parse_region};
use tonic::{Request, Response, Status};
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
}
