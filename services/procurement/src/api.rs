//! gRPC mapping of the procurement service. Each handler takes the caller, re-checks tenancy
//! (manufacturers and hospitals their own organisation, operators and auditors their region),
//! parses its request at the edge (errors name the field; nothing is written), calls the
//! domain and the store, and maps the result back.

use crate::convert::{self as cv, date, item_code, positive, region, text};
use crate::domain::{
    self, CompletionInput, CompletionRules, InstitutionSavingsInput, InventoryRecord,
    InventoryRules, ListedPrice, NonWinningProduct, OpeningStock, Outcome, PaymentStandard,
    PaymentStandardIndex, PriceCutInput, ReferencePrice, SavingsLine, SavingsPurchase,
    SavingsRules,
};
use crate::error::ProcError;
use crate::outbox::{inventory_event, relay_once};
use crate::standards::StandardCache;
use crate::store::{Actor, Audit, RoundStatus, Store, StoredGroup, StoredRound, Written, kind_str};
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};
use tonic::{Request, Response, Status};
use yibao_core::{Bp, Fen};
use yibao_proto::common::v1 as common;
use yibao_proto::procurement::v1 as pb;
use yibao_runtime::server::{ServiceDeps, caller};
use yibao_runtime::{Caller, Role};

/// Most items in one payment-standard look-up.
const MAX_LOOKUP_ITEMS: usize = 1000;

/// The ProcurementService implementation.
#[derive(Debug, Clone)]
pub struct ProcurementApi {
    store: Store,
    standards: StandardCache,
    deps: ServiceDeps,
}

type Reply<T> = Result<Response<T>, Status>;

fn actor(c: &Caller) -> Actor {
    Actor {
        subject: c.subject.clone(),
        role: c.role.as_str().to_string(),
    }
}

fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

fn denied(e: yibao_runtime::auth::AuthError) -> Status {
    yibao_runtime::ApiError::from(e).into()
}

/// Region-scoped callers must cover `region` (field `field`).
fn check_region(c: &Caller, field: &str, region: &str) -> Result<(), Status> {
    c.check_region(field, region).map_err(denied)
}

/// Organisation-scoped callers must own `org` (field `field`).
fn check_org(c: &Caller, field: &str, org: &str) -> Result<(), Status> {
    c.check_org(field, org).map_err(denied)
}

/// Region-scoped callers must cover the round's region.
fn check_round(c: &Caller, round: &StoredRound) -> Result<(), Status> {
    check_region(c, "round_id", &round.region)
}

fn selected(round: &StoredRound) -> Result<(), ProcError> {
    if round.status != RoundStatus::Selected {
        return Err(ProcError::precondition(
            "PROCUREMENT_ROUND_NOT_SELECTED",
            format!("round `{}` has not been selected yet", round.id),
        ));
    }
    Ok(())
}

impl ProcurementApi {
    /// Builds the API over a migrated database (reads the cache namespace from it).
    pub async fn new(
        db: sea_orm::DatabaseConnection,
        deps: ServiceDeps,
    ) -> Result<Self, ProcError> {
        let store = Store::new(db);
        let namespace = store.cache_namespace().await?;
        let standards = StandardCache::new(deps.cache.clone(), namespace);
        Ok(Self {
            store,
            standards,
            deps,
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    async fn outcome_of(
        &self,
        round: &StoredRound,
    ) -> Result<(Outcome, Vec<StoredGroup>), ProcError> {
        let groups = self.store.groups(&round.id).await?;
        let outcome = Outcome {
            round_id: round.id.clone(),
            groups: self.store.outcome(&round.id).await?,
        };
        Ok((outcome, groups))
    }

    fn outcome_pb(
        round: &StoredRound,
        outcome: &Outcome,
        groups: &[StoredGroup],
    ) -> pb::RoundOutcome {
        pb::RoundOutcome {
            round_id: round.id.clone(),
            groups: outcome
                .groups
                .iter()
                .map(|g| cv::group_outcome_pb(g, groups.iter().find(|s| s.group.id == g.group_id)))
                .collect(),
            selected: round.selected.as_ref().map(cv::audit),
        }
    }

    /// Winning item codes per group, and the same-generic item codes of each group.
    async fn group_items(
        &self,
        round: &StoredRound,
        outcome: &Outcome,
    ) -> Result<BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>, ProcError> {
        let mut out = BTreeMap::new();
        for g in &outcome.groups {
            let winners: BTreeSet<String> =
                g.winners.iter().map(|w| w.item_code.to_string()).collect();
            let mut all: BTreeSet<String> = self
                .store
                .codes_of_generic(&round.region, &g.generic_name)
                .await?
                .into_iter()
                .collect();
            all.extend(winners.iter().cloned());
            all.extend(g.bids.iter().map(|b| b.item_code.to_string()));
            out.insert(g.group_id.clone(), (winners, all));
        }
        Ok(out)
    }
}

#[tonic::async_trait]
impl pb::procurement_service_server::ProcurementService for ProcurementApi {
    async fn upsert_catalogue_item(
        &self,
        req: Request<pb::UpsertCatalogueItemRequest>,
    ) -> Reply<pb::UpsertCatalogueItemResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let reg = region("region_code", &r.region_code)?;
        check_region(&c, "region_code", reg.as_str())?;
        let item = r
            .item
            .ok_or_else(|| ProcError::invalid("item", "is required"))?;
        let entry = cv::catalogue_entry(&item)?;
        let created = self
            .store
            .upsert_catalogue(reg.as_str(), std::slice::from_ref(&entry), &actor(&c))
            .await?;
        let stored = self
            .store
            .catalogue_item(reg.as_str(), entry.code.as_str())
            .await?
            .ok_or_else(|| ProcError::Corrupt("catalogue entry vanished after upsert".into()))?;
        Ok(Response::new(pb::UpsertCatalogueItemResponse {
            item: Some(cv::catalogue_pb(&stored)),
            created: created.first().copied().unwrap_or(false),
        }))
    }

    async fn import_catalogue(
        &self,
        req: Request<pb::ImportCatalogueRequest>,
    ) -> Reply<pb::ImportCatalogueResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let reg = region("region_code", &r.region_code)?;
        check_region(&c, "region_code", reg.as_str())?;
        if r.csv_text.trim().is_empty() {
            return Err(ProcError::invalid("csv_text", "is empty").into());
        }
        let import = domain::parse_catalogue_csv(&r.csv_text);
        if !r.dry_run && !import.entries.is_empty() {
            self.store
                .upsert_catalogue(reg.as_str(), &import.entries, &actor(&c))
                .await?;
        }
        Ok(Response::new(pb::ImportCatalogueResponse {
            imported_count: u32::try_from(import.entries.len()).unwrap_or(u32::MAX),
            errors: import
                .errors
                .iter()
                .map(|e| pb::RowError {
                    line: u32::try_from(e.line).unwrap_or(u32::MAX),
                    field: e.field.clone(),
                    reason: e.reason.clone(),
                })
                .collect(),
        }))
    }

    async fn get_catalogue_item(
        &self,
        req: Request<pb::GetCatalogueItemRequest>,
    ) -> Reply<pb::GetCatalogueItemResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let reg = region("region_code", &r.region_code)?;
        check_region(&c, "region_code", reg.as_str())?;
        let code = item_code("code", &r.code)?;
        let on = cv::opt_date("on_date", &r.on_date)?;
        let not_found = || {
            ProcError::not_found(
                "PROCUREMENT_ITEM_NOT_FOUND",
                format!(
                    "catalogue entry `{code}` of region {reg}{}",
                    on.map(|d| format!(" valid on {d}")).unwrap_or_default()
                ),
            )
        };
        let stored = self
            .store
            .catalogue_item(reg.as_str(), code.as_str())
            .await?
            .ok_or_else(not_found)?;
        if let Some(d) = on
            && !stored.entry.is_valid_on(d)
        {
            return Err(not_found().into());
        }
        Ok(Response::new(pb::GetCatalogueItemResponse {
            item: Some(cv::catalogue_pb(&stored)),
        }))
    }

    async fn list_catalogue(
        &self,
        req: Request<pb::ListCatalogueRequest>,
    ) -> Reply<pb::ListCatalogueResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let reg = region("region_code", &r.region_code)?;
        check_region(&c, "region_code", reg.as_str())?;
        let kind = if r.kind == 0 {
            None
        } else {
            Some(cv::kind_of("kind", r.kind)?)
        };
        let on = cv::opt_date("on_date", &r.on_date)?;
        let page = r.page.unwrap_or_default();
        let limit = if page.page_size <= 0 {
            100
        } else {
            page.page_size.min(1000)
        } as u64;
        let items = self
            .store
            .list_catalogue(
                reg.as_str(),
                kind,
                r.generic_name.trim(),
                on,
                &page.page_token,
                limit,
            )
            .await?;
        let next = if items.len() as u64 == limit {
            items
                .last()
                .map(|i| i.entry.code.to_string())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListCatalogueResponse {
            items: items.iter().map(cv::catalogue_pb).collect(),
            page: Some(common::PageResponse {
                next_page_token: next,
            }),
        }))
    }

    async fn create_round(
        &self,
        req: Request<pb::CreateRoundRequest>,
    ) -> Reply<pb::CreateRoundResponse> {
        let c = caller(&req)?;
        let r = req
            .into_inner()
            .round
            .ok_or_else(|| ProcError::invalid("round", "is required"))?;
        let reg = region("round.region_code", &r.region_code)?;
        check_region(&c, "round.region_code", reg.as_str())?;
        let name = text("round.name", &r.name, 200)?;
        let rules = cv::round_rules(
            r.rules
                .as_ref()
                .ok_or_else(|| ProcError::invalid("round.rules", "is required"))?,
        )?;
        let start = date("round.contract_start_date", &r.contract_start_date)?;
        let end = date("round.contract_end_date", &r.contract_end_date)?;
        if end < start {
            return Err(ProcError::invalid(
                "round.contract_end_date",
                format!("{end} is before the contract start {start}"),
            )
            .into());
        }
        let round = StoredRound {
            id: uuid::Uuid::now_v7().to_string(),
            region: reg.to_string(),
            name,
            rules,
            contract_start: start,
            contract_end: end,
            status: RoundStatus::Open,
            created: Audit {
                actor: c.subject.clone(),
                role: c.role.as_str().to_string(),
                at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            },
            selected: None,
        };
        self.store.create_round(&round).await?;
        Ok(Response::new(pb::CreateRoundResponse {
            round: Some(cv::round_pb(&round)),
        }))
    }

    async fn add_group(&self, req: Request<pb::AddGroupRequest>) -> Reply<pb::AddGroupResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let round = self.store.round(&r.round_id).await?;
        check_round(&c, &round)?;
        let g = r
            .group
            .ok_or_else(|| ProcError::invalid("group", "is required"))?;
        let group = StoredGroup {
            group: domain::Group {
                id: text("group.group_id", &g.group_id, 64)?,
                generic_name: text("group.generic_name", &g.generic_name, 200)?,
                specification: text("group.specification", &g.specification, 200)?,
                highest_valid_price: positive(
                    "group.highest_valid_price_fen",
                    g.highest_valid_price_fen,
                )?,
            },
            category: g.category.trim().to_string(),
        };
        let stored = self.store.add_group(&round.id, &group).await?.into_inner();
        Ok(Response::new(pb::AddGroupResponse {
            group: Some(cv::group_pb(&stored)),
        }))
    }

    async fn report_demand(
        &self,
        req: Request<pb::ReportDemandRequest>,
    ) -> Reply<pb::ReportDemandResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let inst = cv::institution("institution_code", &r.institution_code)?;
        check_org(&c, "institution_code", inst.as_str())?;
        let round = self.store.round(&r.round_id).await?;
        check_round(&c, &round)?;
        let round_region = region("round_id", &round.region)?;
        if !round_region.covers(&inst.region()) {
            return Err(ProcError::invalid(
                "institution_code",
                format!("{inst} is not in the round's region {round_region}"),
            )
            .into());
        }
        if r.lines.is_empty() {
            return Err(ProcError::invalid("lines", "at least one line is required").into());
        }
        let mut seen = BTreeSet::new();
        let mut lines = Vec::with_capacity(r.lines.len());
        for (i, l) in r.lines.iter().enumerate() {
            let group = text(&format!("lines[{i}].group_id"), &l.group_id, 64)?;
            if !seen.insert(group.clone()) {
                return Err(ProcError::invalid(
                    format!("lines[{i}].group_id"),
                    format!("group `{group}` appears twice"),
                )
                .into());
            }
            if i64::try_from(l.quantity).is_err() {
                return Err(
                    ProcError::invalid(format!("lines[{i}].quantity"), "is too large").into(),
                );
            }
            lines.push((group, l.quantity));
        }
        self.store
            .report_demand(&round.id, inst.as_str(), &lines)
            .await?;
        Ok(Response::new(pb::ReportDemandResponse {
            accepted_count: u32::try_from(lines.len()).unwrap_or(u32::MAX),
        }))
    }

    async fn submit_bid(&self, req: Request<pb::SubmitBidRequest>) -> Reply<pb::SubmitBidResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let manufacturer = text("manufacturer_code", &r.manufacturer_code, 64)?;
        check_org(&c, "manufacturer_code", &manufacturer)?;
        let round = self.store.round(&r.round_id).await?;
        let code = item_code("item_code", &r.item_code)?;
        if self
            .store
            .catalogue_item_in_chain(&round.region, code.as_str())
            .await?
            .is_none()
        {
            return Err(ProcError::invalid_code(
                "PROCUREMENT_ITEM_NOT_FOUND",
                "item_code",
                format!("{code} is not in the catalogue of region {}", round.region),
            )
            .into());
        }
        let bid = domain::Bid {
            group_id: text("group_id", &r.group_id, 64)?,
            manufacturer,
            item_code: code,
            unit_price: positive("unit_price_fen", r.unit_price_fen)?,
            declared_price: positive("declared_price_fen", r.declared_price_fen)?,
        };
        let (id, replaced) = self.store.submit_bid(&round.id, &bid).await?;
        Ok(Response::new(pb::SubmitBidResponse {
            bid_id: id.into_inner(),
            replaced,
        }))
    }

    async fn run_selection(
        &self,
        req: Request<pb::RunSelectionRequest>,
    ) -> Reply<pb::RunSelectionResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let mut round = self.store.round(&r.round_id).await?;
        check_round(&c, &round)?;
        if round.status == RoundStatus::Open {
            let groups = self.store.groups(&round.id).await?;
            let input = domain::Round {
                id: round.id.clone(),
                rules: round.rules.clone(),
                groups: groups.iter().map(|g| g.group.clone()).collect(),
                bids: self
                    .store
                    .bids(&round.id)
                    .await?
                    .into_iter()
                    .map(|b| b.bid)
                    .collect(),
                demands: self.store.demands(&round.id).await?,
            };
            let outcome = domain::select(&input)
                .map_err(|e| ProcError::precondition(e.code(), e.to_string()))?;
            // A concurrent run that finished first wins; both read the same outcome below.
            self.store
                .save_selection(&round.id, &outcome.groups, &actor(&c))
                .await?;
            round = self.store.round(&round.id).await?;
        }
        let (outcome, groups) = self.outcome_of(&round).await?;
        Ok(Response::new(pb::RunSelectionResponse {
            outcome: Some(Self::outcome_pb(&round, &outcome, &groups)),
        }))
    }

    async fn get_round_outcome(
        &self,
        req: Request<pb::GetRoundOutcomeRequest>,
    ) -> Reply<pb::GetRoundOutcomeResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let round = self.store.round(&r.round_id).await?;
        check_round(&c, &round)?;
        selected(&round)?;
        let (mut outcome, groups) = self.outcome_of(&round).await?;
        if !r.group_id.is_empty() {
            outcome.groups.retain(|g| g.group_id == r.group_id);
            if outcome.groups.is_empty() {
                return Err(ProcError::not_found(
                    "PROCUREMENT_GROUP_NOT_FOUND",
                    format!("group `{}` of round `{}`", r.group_id, round.id),
                )
                .into());
            }
        }
        match c.role {
            // A manufacturer sees the groups it bid in, its own bids' results and the winners.
            Role::Manufacturer => {
                outcome
                    .groups
                    .retain(|g| g.bids.iter().any(|b| b.manufacturer == c.org));
                for g in &mut outcome.groups {
                    g.bids.retain(|b| b.manufacturer == c.org);
                    g.allocations.clear();
                }
            }
            // A hospital sees the groups it was allocated, its allocation and the winners.
            Role::Hospital => {
                outcome.groups.retain(|g| {
                    g.allocations
                        .iter()
                        .any(|a| a.institution.as_str() == c.org)
                });
                for g in &mut outcome.groups {
                    g.allocations.retain(|a| a.institution.as_str() == c.org);
                    g.bids.clear();
                }
            }
            _ => {}
        }
        Ok(Response::new(pb::GetRoundOutcomeResponse {
            outcome: Some(Self::outcome_pb(&round, &outcome, &groups)),
        }))
    }

    async fn set_listed_price(
        &self,
        req: Request<pb::SetListedPriceRequest>,
    ) -> Reply<pb::SetListedPriceResponse> {
        let c = caller(&req)?;
        let l = req
            .into_inner()
            .listing
            .ok_or_else(|| ProcError::invalid("listing", "is required"))?;
        let reg = region("listing.region_code", &l.region_code)?;
        check_region(&c, "listing.region_code", reg.as_str())?;
        let manufacturer = text("listing.manufacturer_code", &l.manufacturer_code, 64)?;
        check_org(&c, "listing.manufacturer_code", &manufacturer)?;
        let code = item_code("listing.item_code", &l.item_code)?;
        if self
            .store
            .catalogue_item_in_chain(reg.as_str(), code.as_str())
            .await?
            .is_none()
        {
            return Err(ProcError::invalid_code(
                "PROCUREMENT_ITEM_NOT_FOUND",
                "listing.item_code",
                format!("{code} is not in the catalogue of region {reg}"),
            )
            .into());
        }
        let listing = ListedPrice {
            item_code: code,
            price: positive("listing.price_fen", l.price_fen)?,
            period: cv::period(
                "listing.valid_from_date",
                &l.valid_from_date,
                "listing.valid_to_date",
                &l.valid_to_date,
            )?,
        };
        let stored = self
            .store
            .set_listing(reg.as_str(), &manufacturer, &listing, &actor(&c))
            .await?
            .into_inner();
        Ok(Response::new(pb::SetListedPriceResponse {
            listing: Some(cv::listing_pb(&stored)),
        }))
    }

    async fn set_reference_price(
        &self,
        req: Request<pb::SetReferencePriceRequest>,
    ) -> Reply<pb::SetReferencePriceResponse> {
        let c = caller(&req)?;
        let p = req
            .into_inner()
            .reference
            .ok_or_else(|| ProcError::invalid("reference", "is required"))?;
        let reg = region("reference.region_code", &p.region_code)?;
        check_region(&c, "reference.region_code", reg.as_str())?;
        let reference = ReferencePrice {
            item_code: item_code("reference.item_code", &p.item_code)?,
            kind: cv::reference_kind_of("reference.kind", p.kind)?,
            price: positive("reference.price_fen", p.price_fen)?,
            period: cv::period(
                "reference.valid_from_date",
                &p.valid_from_date,
                "reference.valid_to_date",
                &p.valid_to_date,
            )?,
        };
        let (stored, previous, above) = self
            .store
            .set_reference(reg.as_str(), &reference, &actor(&c))
            .await?;
        Ok(Response::new(pb::SetReferencePriceResponse {
            reference: Some(cv::reference_pb(&stored.into_inner())),
            previous: previous.as_ref().map(cv::reference_pb),
            listings_above: above.iter().map(cv::listing_pb).collect(),
        }))
    }

    async fn get_price_cut_statistics(
        &self,
        req: Request<pb::GetPriceCutStatisticsRequest>,
    ) -> Reply<pb::GetPriceCutStatisticsResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let round = self.store.round(&r.round_id).await?;
        check_round(&c, &round)?;
        selected(&round)?;
        let (outcome, groups) = self.outcome_of(&round).await?;
        // Before: the group's highest valid declared price; after: the winning unit price;
        // each winner weighted by its group's agreed volume.
        let mut inputs = Vec::new();
        for g in &outcome.groups {
            let stored = groups
                .iter()
                .find(|s| s.group.id == g.group_id)
                .ok_or_else(|| {
                    ProcError::Corrupt(format!("outcome of unknown group {}", g.group_id))
                })?;
            for w in &g.winners {
                let category = if stored.category.is_empty() {
                    domain::ItemCode::parse_any(w.item_code.as_str())
                        .map(|(k, _)| kind_str(k).to_string())
                        .unwrap_or_default()
                } else {
                    stored.category.clone()
                };
                inputs.push(PriceCutInput {
                    round_id: round.id.clone(),
                    category,
                    item_code: w.item_code.clone(),
                    before: stored.group.highest_valid_price,
                    after: w.unit_price,
                    quantity: g.agreed_volume,
                });
            }
        }
        let cuts =
            domain::price_cut_statistics(&inputs).map_err(|e| ProcError::Corrupt(e.to_string()))?;
        Ok(Response::new(pb::GetPriceCutStatisticsResponse {
            categories: cuts
                .iter()
                .map(|k| pb::CategoryCut {
                    category: k.category.clone(),
                    item_count: k.items,
                    average_cut_bp: k.average_cut_bp,
                    weighted_cut_bp: k.weighted_cut_bp,
                    before_total_fen: k.before_total.0,
                    after_total_fen: k.after_total.0,
                })
                .collect(),
        }))
    }

    async fn set_payment_standard(
        &self,
        req: Request<pb::SetPaymentStandardRequest>,
    ) -> Reply<pb::SetPaymentStandardResponse> {
        let c = caller(&req)?;
        let p = req
            .into_inner()
            .standard
            .ok_or_else(|| ProcError::invalid("standard", "is required"))?;
        let reg = region("standard.region_code", &p.region_code)?;
        check_region(&c, "standard.region_code", reg.as_str())?;
        let code = item_code("standard.item_code", &p.item_code)?;
        let basis = if p.basis.trim().is_empty() {
            format!("set by {} {}", c.role.as_str(), c.subject)
        } else {
            p.basis.trim().to_string()
        };
        let standard = PaymentStandard {
            item_code: code.clone(),
            amount: positive("standard.amount_fen", p.amount_fen)?,
            period: cv::period(
                "standard.valid_from_date",
                &p.valid_from_date,
                "standard.valid_to_date",
                &p.valid_to_date,
            )?,
            basis,
        };
        let mut written = self
            .store
            .set_standards(
                reg.as_str(),
                &[(standard, "standard.valid_from_date".to_string())],
                &actor(&c),
            )
            .await?;
        let (stored, previous) = written
            .pop()
            .ok_or_else(|| ProcError::Corrupt("no standard written".into()))?;
        if let Written::New(_) = stored {
            self.standards.invalidate(&[code.to_string()]).await;
        }
        Ok(Response::new(pb::SetPaymentStandardResponse {
            standard: Some(cv::standard_pb(&stored.into_inner())),
            previous: previous.as_ref().map(cv::standard_pb),
        }))
    }

    async fn derive_payment_standards(
        &self,
        req: Request<pb::DerivePaymentStandardsRequest>,
    ) -> Reply<pb::DerivePaymentStandardsResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let round = self.store.round(&r.round_id).await?;
        check_round(&c, &round)?;
        let reg = region("region_code", &r.region_code)?;
        check_region(&c, "region_code", reg.as_str())?;
        let effective = date("effective_from_date", &r.effective_from_date)?;
        let rules = cv::standard_rules(r.rules.as_ref())?;
        selected(&round)?;
        let mut non_winners = Vec::with_capacity(r.non_winners.len());
        for (i, p) in r.non_winners.iter().enumerate() {
            non_winners.push(NonWinningProduct {
                item_code: item_code(&format!("non_winners[{i}].item_code"), &p.item_code)?,
                generic_name: text(
                    &format!("non_winners[{i}].generic_name"),
                    &p.generic_name,
                    200,
                )?,
                unit_price: positive(
                    &format!("non_winners[{i}].unit_price_fen"),
                    p.unit_price_fen,
                )?,
            });
        }
        let (outcome, _) = self.outcome_of(&round).await?;
        let items: Vec<String> = non_winners
            .iter()
            .map(|p| p.item_code.to_string())
            .collect();
        let mut previous = PaymentStandardIndex::new();
        for s in self
            .store
            .standards_of_items(&items)
            .await?
            .into_iter()
            .filter(|s| s.region == reg.as_str())
        {
            previous
                .set(s.standard)
                .map_err(|e| ProcError::Corrupt(e.to_string()))?;
        }
        let derived =
            domain::derive_standards(&outcome, &non_winners, &previous, effective, &rules)
                .map_err(|e| crate::store::pricing_error(e, "non_winners"))?;
        let mut out: Vec<pb::DerivedStandard> = Vec::with_capacity(derived.len());
        if r.dry_run {
            for d in &derived {
                let stored = crate::store::StoredStandard {
                    id: String::new(),
                    region: reg.to_string(),
                    standard: d.standard.clone(),
                    closed_id: None,
                    updated: Audit::default(),
                };
                out.push(pb::DerivedStandard {
                    standard: Some(cv::standard_pb(&stored)),
                    winner: d.winner,
                });
            }
        } else {
            let batch: Vec<(PaymentStandard, String)> = derived
                .iter()
                .map(|d| {
                    (
                        d.standard.clone(),
                        format!("effective_from_date ({})", d.standard.item_code),
                    )
                })
                .collect();
            let written = self
                .store
                .set_standards(reg.as_str(), &batch, &actor(&c))
                .await?;
            let codes: Vec<String> = derived
                .iter()
                .map(|d| d.standard.item_code.to_string())
                .collect();
            self.standards.invalidate(&codes).await;
            for (d, (stored, _)) in derived.iter().zip(written) {
                out.push(pb::DerivedStandard {
                    standard: Some(cv::standard_pb(&stored.into_inner())),
                    winner: d.winner,
                });
            }
        }
        Ok(Response::new(pb::DerivePaymentStandardsResponse {
            standards: out,
        }))
    }

    async fn get_payment_standards(
        &self,
        req: Request<pb::GetPaymentStandardsRequest>,
    ) -> Reply<pb::GetPaymentStandardsResponse> {
        caller(&req)?;
        let r = req.into_inner();
        // Published data: no region check (a claim treated elsewhere is priced by that region).
        let reg = region("region_code", &r.region_code)?;
        let on = date("on_date", &r.on_date)?;
        if r.item_codes.is_empty() {
            return Err(
                ProcError::invalid("item_codes", "at least one item code is required").into(),
            );
        }
        if r.item_codes.len() > MAX_LOOKUP_ITEMS {
            return Err(ProcError::invalid(
                "item_codes",
                format!("at most {MAX_LOOKUP_ITEMS} items per look-up"),
            )
            .into());
        }
        // A code that is not a national code is refused, or, for a caller pricing a claim that
        // also carries local codes, answered as not found.
        let mut national = Vec::with_capacity(r.item_codes.len());
        for (i, code) in r.item_codes.iter().enumerate() {
            match item_code(&format!("item_codes[{i}]"), code) {
                Ok(_) => national.push(code.clone()),
                Err(_) if r.skip_non_national_codes => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut found = if national.is_empty() {
            Vec::new()
        } else {
            self.standards
                .lookup(&self.store, reg.as_str(), &national, on)
                .await?
        }
        .into_iter();
        let mut national = national.into_iter().peekable();
        let results = r
            .item_codes
            .into_iter()
            .map(|item_code| {
                let standard = if national.next_if_eq(&item_code).is_some() {
                    found.next().flatten()
                } else {
                    None
                };
                pb::PaymentStandardLookup {
                    item_code,
                    found: standard.is_some(),
                    standard,
                }
            })
            .collect();
        Ok(Response::new(pb::GetPaymentStandardsResponse { results }))
    }

    async fn upload_inventory_records(
        &self,
        req: Request<pb::UploadInventoryRecordsRequest>,
    ) -> Reply<pb::UploadInventoryRecordsResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let inst = cv::institution("institution_code", &r.institution_code)?;
        check_org(&c, "institution_code", inst.as_str())?;
        if !c.covers_region(&inst.region()) {
            return Err(denied(yibao_runtime::auth::AuthError::OutsideRegion {
                field: "institution_code".into(),
                value: inst.to_string(),
                region: c.region.as_ref().map(|r| r.to_string()).unwrap_or_default(),
            }));
        }
        if r.records.is_empty() && r.opening.is_empty() {
            return Err(ProcError::invalid(
                "records",
                "at least one record or opening stock is required",
            )
            .into());
        }
        let mut records = Vec::with_capacity(r.records.len());
        let mut numbers: BTreeMap<String, usize> = BTreeMap::new();
        for (i, x) in r.records.iter().enumerate() {
            let f = |name: &str| format!("records[{i}].{name}");
            let record_no = text(&f("record_no"), &x.record_no, 64)?;
            let record = InventoryRecord {
                institution: inst.clone(),
                item_code: item_code(&f("item_code"), &x.item_code)?,
                date: date(&f("date"), &x.date)?,
                movement: cv::movement_of(&f("movement"), x.movement)?,
                quantity: if x.quantity == 0 || i64::try_from(x.quantity).is_err() {
                    return Err(ProcError::invalid(f("quantity"), "must be positive").into());
                } else {
                    x.quantity
                },
                unit_price: if x.unit_price_fen < 0 {
                    return Err(
                        ProcError::invalid(f("unit_price_fen"), "must not be negative").into(),
                    );
                } else {
                    Fen(x.unit_price_fen)
                },
                record_no: record_no.clone(),
            };
            if let Some(first) = numbers.insert(record_no.clone(), i)
                && records.get(first) != Some(&record)
            {
                return Err(ProcError::invalid(
                    f("record_no"),
                    format!("`{record_no}` is also records[{first}] with other content"),
                )
                .into());
            }
            records.push(record);
        }
        let mut opening = Vec::with_capacity(r.opening.len());
        for (i, o) in r.opening.iter().enumerate() {
            let f = |name: &str| format!("opening[{i}].{name}");
            if i64::try_from(o.quantity).is_err() {
                return Err(ProcError::invalid(f("quantity"), "is too large").into());
            }
            if o.unit_cost_fen < 0 {
                return Err(ProcError::invalid(f("unit_cost_fen"), "must not be negative").into());
            }
            opening.push(OpeningStock {
                institution: inst.clone(),
                item_code: item_code(&f("item_code"), &o.item_code)?,
                quantity: o.quantity,
                unit_cost: Fen(o.unit_cost_fen),
                as_of: date(&f("as_of_date"), &o.as_of_date)?,
            });
        }
        let rules = InventoryRules {
            allowed_markup: Bp(r.allowed_markup_bp.unwrap_or(0)),
        };
        let mut items: Vec<String> = records
            .iter()
            .map(|x| x.item_code.to_string())
            .chain(opening.iter().map(|o| o.item_code.to_string()))
            .collect();
        items.sort();
        items.dedup();
        let book = self
            .store
            .listings_for(inst.region().as_str(), &items)
            .await?;
        let uploaded: BTreeSet<String> = records.iter().map(|x| x.record_no.clone()).collect();
        let check = self
            .store
            .upload_inventory(inst.as_str(), &records, &opening, |all, open| {
                let check =
                    domain::check_inventory(all, open, &book, &rules).map_err(|e| match e {
                        domain::InventoryError::InvalidRecord { record_no, reason } => {
                            ProcError::invalid_code(
                                "PROCUREMENT_INVALID_INVENTORY_RECORD",
                                "records",
                                format!("record {record_no}: {reason}"),
                            )
                        }
                        domain::InventoryError::Overflow(_) => ProcError::invalid_code(
                            "PROCUREMENT_MONEY_OVERFLOW",
                            "records",
                            "amounts are too large",
                        ),
                    })?;
                let mut ordinal: BTreeMap<&str, usize> = BTreeMap::new();
                let mut events = Vec::new();
                for f in &check.findings {
                    let n = ordinal.entry(f.record_no.as_str()).or_insert(0);
                    if let Some(e) = inventory_event(f, *n) {
                        events.push(e);
                    }
                    *n += 1;
                }
                Ok((check, events))
            })
            .await?;
        relay_once(&self.store, self.deps.bus.as_ref()).await;
        Ok(Response::new(pb::UploadInventoryRecordsResponse {
            accepted_count: u32::try_from(records.len()).unwrap_or(u32::MAX),
            findings: check
                .findings
                .iter()
                .filter(|f| uploaded.contains(&f.record_no))
                .map(cv::finding_pb)
                .collect(),
            closing: check
                .closing
                .iter()
                .map(|p| pb::StockPosition {
                    item_code: p.item_code.to_string(),
                    quantity: p.quantity,
                    value_fen: p.value.0,
                })
                .collect(),
        }))
    }

    async fn get_volume_completion(
        &self,
        req: Request<pb::GetVolumeCompletionRequest>,
    ) -> Reply<pb::GetVolumeCompletionResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let round = self.store.round(&r.round_id).await?;
        check_round(&c, &round)?;
        let institution = if r.institution_code.is_empty() {
            if c.role.is_org_scoped() {
                return Err(ProcError::invalid(
                    "institution_code",
                    "is required: name your own institution",
                )
                .into());
            }
            None
        } else {
            let inst = cv::institution("institution_code", &r.institution_code)?;
            check_org(&c, "institution_code", inst.as_str())?;
            Some(inst)
        };
        let as_of = match cv::opt_date("as_of_date", &r.as_of_date)? {
            Some(d) => d,
            None => today(),
        };
        let rules = CompletionRules {
            alert_share_of_time_progress: Bp(r.alert_share_of_time_progress_bp.unwrap_or(8_000)),
        };
        selected(&round)?;
        let (outcome, _) = self.outcome_of(&round).await?;
        let allocations = self
            .store
            .allocations(&round.id, institution.as_ref().map(|i| i.as_str()))
            .await?;
        let items = self.group_items(&round, &outcome).await?;
        let winning: Vec<String> = items
            .values()
            .flat_map(|(w, _)| w.iter().cloned())
            .collect();
        let institutions: Vec<String> = allocations
            .iter()
            .map(|a| a.institution.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let until = as_of.min(round.contract_end);
        let purchases = if as_of < round.contract_start {
            Vec::new()
        } else {
            self.store
                .purchases(&institutions, &winning, round.contract_start, until)
                .await?
        };
        let mut inputs = Vec::with_capacity(allocations.len());
        for a in &allocations {
            let winners = items
                .get(&a.group_id)
                .map(|(w, _)| w.clone())
                .unwrap_or_default();
            let purchased = purchases
                .iter()
                .filter(|p| p.institution == a.institution && winners.contains(&p.item_code))
                .fold(0u64, |acc, p| acc.saturating_add(p.quantity));
            inputs.push(CompletionInput {
                institution: cv::institution("institution_code", &a.institution)?,
                group_id: a.group_id.clone(),
                agreed_volume: a.agreed_volume,
                purchased_volume: purchased,
            });
        }
        let completions = domain::volume_completion(
            &inputs,
            round.contract_start,
            round.contract_end,
            as_of,
            &rules,
        );
        Ok(Response::new(pb::GetVolumeCompletionResponse {
            completions: completions
                .iter()
                .map(|v| pb::VolumeCompletion {
                    institution_code: v.institution.to_string(),
                    group_id: v.group_id.clone(),
                    agreed_volume: v.agreed_volume,
                    purchased_volume: v.purchased_volume,
                    completion_bp: v.completion.0,
                    time_progress_bp: v.time_progress.0,
                    status: cv::completion_status_pb(v.status) as i32,
                    explanation: v.explanation.clone(),
                })
                .collect(),
        }))
    }

    async fn compute_retained_savings(
        &self,
        req: Request<pb::ComputeRetainedSavingsRequest>,
    ) -> Reply<pb::ComputeRetainedSavingsResponse> {
        let c = caller(&req)?;
        let r = req.into_inner();
        let round = self.store.round(&r.round_id).await?;
        check_round(&c, &round)?;
        let rules = SavingsRules {
            retention_rate: cv::share("retention_rate_bp", r.retention_rate_bp)?,
            require_completion: r.require_completion,
        };
        if r.institutions.is_empty() {
            return Err(
                ProcError::invalid("institutions", "at least one institution is required").into(),
            );
        }
        selected(&round)?;
        let (outcome, groups) = self.outcome_of(&round).await?;
        let mut pre: BTreeMap<String, Fen> = BTreeMap::new();
        for (i, p) in r.pre_procurement_prices.iter().enumerate() {
            if !groups.iter().any(|g| g.group.id == p.group_id) {
                return Err(ProcError::invalid(
                    format!("pre_procurement_prices[{i}].group_id"),
                    format!("group `{}` is not in round `{}`", p.group_id, round.id),
                )
                .into());
            }
            if pre
                .insert(
                    p.group_id.clone(),
                    positive(
                        &format!("pre_procurement_prices[{i}].unit_price_fen"),
                        p.unit_price_fen,
                    )?,
                )
                .is_some()
            {
                return Err(ProcError::invalid(
                    format!("pre_procurement_prices[{i}].group_id"),
                    format!("group `{}` appears twice", p.group_id),
                )
                .into());
            }
        }
        let allocations = self.store.allocations(&round.id, None).await?;
        let items = self.group_items(&round, &outcome).await?;
        let mut seen = BTreeSet::new();
        let mut params = Vec::with_capacity(r.institutions.len());
        for (i, p) in r.institutions.iter().enumerate() {
            let f = |name: &str| format!("institutions[{i}].{name}");
            let inst = cv::institution(&f("institution_code"), &p.institution_code)?;
            if !seen.insert(inst.clone()) {
                return Err(ProcError::invalid(
                    f("institution_code"),
                    format!("{inst} appears twice"),
                )
                .into());
            }
            if !allocations.iter().any(|a| a.institution == inst.as_str()) {
                return Err(ProcError::invalid(
                    f("institution_code"),
                    format!("{inst} has no agreed volume in round `{}`", round.id),
                )
                .into());
            }
            params.push((
                inst,
                cv::share(&f("fund_payment_rate_bp"), p.fund_payment_rate_bp)?,
                cv::share(&f("assessment_coefficient_bp"), p.assessment_coefficient_bp)?,
            ));
        }
        let all_items: Vec<String> = items
            .values()
            .flat_map(|(_, a)| a.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let institutions: Vec<String> = params.iter().map(|(i, _, _)| i.to_string()).collect();
        let purchases = self
            .store
            .purchases(
                &institutions,
                &all_items,
                round.contract_start,
                round.contract_end,
            )
            .await?;
        let mut results = Vec::with_capacity(params.len());
        for (inst, fund_rate, coefficient) in params {
            let mut lines = Vec::new();
            for a in allocations
                .iter()
                .filter(|a| a.institution == inst.as_str())
            {
                let price = *pre.get(&a.group_id).ok_or_else(|| {
                    ProcError::invalid(
                        "pre_procurement_prices",
                        format!("group `{}` needs a pre-procurement price", a.group_id),
                    )
                })?;
                let (winners, all) = items.get(&a.group_id).cloned().unwrap_or_default();
                let bought = purchases
                    .iter()
                    .filter(|p| p.institution == inst.as_str() && all.contains(&p.item_code))
                    .map(|p| SavingsPurchase {
                        quantity: p.quantity,
                        unit_price: p.unit_price,
                        winning: winners.contains(&p.item_code),
                    })
                    .collect();
                lines.push(SavingsLine {
                    group_id: a.group_id.clone(),
                    agreed_volume: a.agreed_volume,
                    pre_procurement_price: price,
                    purchases: bought,
                });
            }
            let input = InstitutionSavingsInput {
                institution: inst,
                fund_payment_rate: fund_rate,
                assessment_coefficient: coefficient,
                lines,
            };
            results.push(
                domain::retained_savings(&input, &rules).map_err(|e| {
                    ProcError::invalid_code(e.code(), "institutions", e.to_string())
                })?,
            );
        }
        results.sort_by(|a, b| a.institution.cmp(&b.institution));
        let total = domain::total_retained(&results).map_err(|_| {
            ProcError::invalid_code(
                "PROCUREMENT_MONEY_OVERFLOW",
                "institutions",
                "amounts are too large",
            )
        })?;
        if !r.dry_run {
            self.store
                .save_savings(&round.id, &results, &actor(&c))
                .await?;
        }
        Ok(Response::new(pb::ComputeRetainedSavingsResponse {
            institutions: results
                .iter()
                .map(|s| pb::RetainedSavings {
                    institution_code: s.institution.to_string(),
                    budget_spending_fen: s.budget_spending.0,
                    budget_fen: s.budget.0,
                    actual_spending_fen: s.actual_spending.0,
                    actual_fen: s.actual.0,
                    saving_fen: s.saving.0,
                    completed: s.completed,
                    retained_fen: s.retained.0,
                    explanation: s.explanation.clone(),
                })
                .collect(),
            total_retained_fen: total.0,
        }))
    }
}
