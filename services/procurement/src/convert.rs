//! Proto ⇄ domain mapping. Parsing functions name the field path of the request in their
//! errors (`listing.price_fen`, `records[3].item_code`), so a refusal says exactly what to fix.

use crate::domain::{
    BidStatus, CatalogueEntry, CompletionStatus, Finding, FindingKind, GroupOutcome,
    InsuranceClass, ItemCode, ItemKind, Movement, Period, QualifiedBy, ReferenceKind, RoundRules,
    ShareBand, StandardRules, WinnersBand, WinningReference,
};
use crate::error::ProcError;
use crate::store::{
    Audit, StoredGroup, StoredItem, StoredListing, StoredReference, StoredRound, StoredStandard,
};
use chrono::NaiveDate;
use yibao_core::{Bp, Fen, InstitutionCode, RegionCode};
use yibao_proto::common::v1 as common;
use yibao_proto::procurement::v1 as pb;

/// Parses a `YYYY-MM-DD` date.
pub fn date(field: &str, s: &str) -> Result<NaiveDate, ProcError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| ProcError::invalid(field, format!("`{s}` is not a date YYYY-MM-DD")))
}

/// Parses an optional date (empty: none).
pub fn opt_date(field: &str, s: &str) -> Result<Option<NaiveDate>, ProcError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        date(field, s).map(Some)
    }
}

/// Parses a period `from`..`to` (empty `to`: open-ended).
pub fn period(from_field: &str, from: &str, to_field: &str, to: &str) -> Result<Period, ProcError> {
    let from = date(from_field, from)?;
    match opt_date(to_field, to)? {
        None => Ok(Period::from(from)),
        Some(to) => Period::between(from, to)
            .ok_or_else(|| ProcError::invalid(to_field, format!("{to} is before {from}"))),
    }
}

/// Parses a region code.
pub fn region(field: &str, s: &str) -> Result<RegionCode, ProcError> {
    RegionCode::parse(s).map_err(|e| ProcError::invalid(field, e.to_string()))
}

/// Parses an institution code.
pub fn institution(field: &str, s: &str) -> Result<InstitutionCode, ProcError> {
    InstitutionCode::parse(s).map_err(|e| ProcError::invalid(field, e.to_string()))
}

/// Parses an item code whose kind its shape tells.
pub fn item_code(field: &str, s: &str) -> Result<ItemCode, ProcError> {
    ItemCode::parse_any(s)
        .map(|(_, c)| c)
        .map_err(|e| ProcError::invalid_code("PROCUREMENT_INVALID_ITEM_CODE", field, e.to_string()))
}

/// A required non-empty text of at most `max` characters.
pub fn text(field: &str, s: &str, max: usize) -> Result<String, ProcError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ProcError::invalid(field, "is required"));
    }
    if t.chars().count() > max {
        return Err(ProcError::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(t.to_string())
}

/// A positive price.
pub fn positive(field: &str, v: i64) -> Result<Fen, ProcError> {
    if v <= 0 {
        return Err(ProcError::invalid(field, "must be positive"));
    }
    Ok(Fen(v))
}

/// A rate of at most 100%.
pub fn share(field: &str, v: u32) -> Result<Bp, ProcError> {
    Bp::share(v).map_err(|_| ProcError::invalid(field, "must be at most 10000 bp"))
}

/// Audit of a stored record.
pub fn audit(a: &Audit) -> common::Audit {
    common::Audit {
        actor: a.actor.clone(),
        role: a.role.clone(),
        at: a.at.clone(),
    }
}

/// Item kind from the proto.
pub fn kind_of(field: &str, v: i32) -> Result<ItemKind, ProcError> {
    match pb::ItemKind::try_from(v) {
        Ok(pb::ItemKind::WesternDrug) => Ok(ItemKind::WesternDrug),
        Ok(pb::ItemKind::ChinesePatentMedicine) => Ok(ItemKind::ChinesePatentMedicine),
        Ok(pb::ItemKind::Consumable) => Ok(ItemKind::Consumable),
        Ok(pb::ItemKind::Reagent) => Ok(ItemKind::Reagent),
        Ok(pb::ItemKind::ServiceItem) => Ok(ItemKind::ServiceItem),
        _ => Err(ProcError::invalid(
            field,
            "must be an ItemKind other than UNSPECIFIED",
        )),
    }
}

fn kind_pb(k: ItemKind) -> pb::ItemKind {
    match k {
        ItemKind::WesternDrug => pb::ItemKind::WesternDrug,
        ItemKind::ChinesePatentMedicine => pb::ItemKind::ChinesePatentMedicine,
        ItemKind::Consumable => pb::ItemKind::Consumable,
        ItemKind::Reagent => pb::ItemKind::Reagent,
        ItemKind::ServiceItem => pb::ItemKind::ServiceItem,
    }
}

fn class_of(field: &str, v: i32) -> Result<InsuranceClass, ProcError> {
    match pb::InsuranceClass::try_from(v) {
        Ok(pb::InsuranceClass::A) => Ok(InsuranceClass::A),
        Ok(pb::InsuranceClass::B) => Ok(InsuranceClass::B),
        Ok(pb::InsuranceClass::C) => Ok(InsuranceClass::C),
        _ => Err(ProcError::invalid(
            field,
            "must be INSURANCE_CLASS_A, _B or _C",
        )),
    }
}

fn class_pb(c: InsuranceClass) -> pb::InsuranceClass {
    match c {
        InsuranceClass::A => pb::InsuranceClass::A,
        InsuranceClass::B => pb::InsuranceClass::B,
        InsuranceClass::C => pb::InsuranceClass::C,
    }
}

/// A catalogue entry from the proto, checked (code format of its kind, required fields,
/// dates); every problem names its field under `item.`.
pub fn catalogue_entry(item: &pb::CatalogueItem) -> Result<CatalogueEntry, ProcError> {
    let kind = kind_of("item.kind", item.kind)?;
    let code = ItemCode::parse(kind, &item.code).map_err(|e| {
        ProcError::invalid_code("PROCUREMENT_INVALID_ITEM_CODE", "item.code", e.to_string())
    })?;
    let entry = CatalogueEntry {
        code,
        kind,
        generic_name: item.generic_name.trim().to_string(),
        dosage_form: item.dosage_form.trim().to_string(),
        specification: item.specification.trim().to_string(),
        manufacturer: item.manufacturer.trim().to_string(),
        class: class_of("item.insurance_class", item.insurance_class)?,
        negotiated: item.negotiated,
        valid_from: date("item.valid_from_date", &item.valid_from_date)?,
        valid_to: opt_date("item.valid_to_date", &item.valid_to_date)?,
    };
    entry.validate().map_err(|problems| {
        let p = &problems[0];
        let field = match p.field {
            "valid_to" => "valid_to_date".to_string(),
            f => f.to_string(),
        };
        ProcError::invalid(format!("item.{field}"), p.reason.clone())
    })?;
    Ok(entry)
}

/// A stored catalogue entry as proto.
pub fn catalogue_pb(s: &StoredItem) -> pb::CatalogueItem {
    let e = &s.entry;
    pb::CatalogueItem {
        code: e.code.to_string(),
        kind: kind_pb(e.kind) as i32,
        generic_name: e.generic_name.clone(),
        dosage_form: e.dosage_form.clone(),
        specification: e.specification.clone(),
        manufacturer: e.manufacturer.clone(),
        insurance_class: class_pb(e.class) as i32,
        negotiated: e.negotiated,
        valid_from_date: e.valid_from.to_string(),
        valid_to_date: e.valid_to.map(|d| d.to_string()).unwrap_or_default(),
        updated: Some(audit(&s.updated)),
    }
}

/// Round rules from the proto, validated by the domain.
pub fn round_rules(r: &pb::RoundRules) -> Result<RoundRules, ProcError> {
    let rules = RoundRules {
        max_ratio_to_lowest: Bp(r.max_ratio_to_lowest_bp),
        min_cut_alternative: r.min_cut_alternative_bp.map(Bp),
        low_price_alternative: r.low_price_alternative_fen.map(Fen),
        winners_by_qualified: r
            .winners_by_qualified
            .iter()
            .map(|b| WinnersBand {
                min_qualified: b.min_qualified,
                max_winners: b.max_winners,
            })
            .collect(),
        agreed_share_by_winners: r
            .agreed_share_by_winners
            .iter()
            .map(|b| ShareBand {
                min_winners: b.min_winners,
                share: Bp(b.share_bp),
            })
            .collect(),
    };
    if rules.low_price_alternative.is_some_and(|f| f.0 <= 0) {
        return Err(ProcError::invalid(
            "round.rules.low_price_alternative_fen",
            "must be positive",
        ));
    }
    rules
        .validate()
        .map_err(|e| ProcError::invalid_code(e.code(), "round.rules", e.to_string()))?;
    Ok(rules)
}

fn rules_pb(r: &RoundRules) -> pb::RoundRules {
    pb::RoundRules {
        max_ratio_to_lowest_bp: r.max_ratio_to_lowest.0,
        min_cut_alternative_bp: r.min_cut_alternative.map(|b| b.0),
        low_price_alternative_fen: r.low_price_alternative.map(|f| f.0),
        winners_by_qualified: r
            .winners_by_qualified
            .iter()
            .map(|b| pb::WinnersBand {
                min_qualified: b.min_qualified,
                max_winners: b.max_winners,
            })
            .collect(),
        agreed_share_by_winners: r
            .agreed_share_by_winners
            .iter()
            .map(|b| pb::ShareBand {
                min_winners: b.min_winners,
                share_bp: b.share.0,
            })
            .collect(),
    }
}

/// A stored round as proto.
pub fn round_pb(r: &StoredRound) -> pb::Round {
    pb::Round {
        round_id: r.id.clone(),
        region_code: r.region.clone(),
        name: r.name.clone(),
        rules: Some(rules_pb(&r.rules)),
        contract_start_date: r.contract_start.to_string(),
        contract_end_date: r.contract_end.to_string(),
        // A selected round is closed once its contract period has ended.
        status: match r.status {
            crate::store::RoundStatus::Open => pb::RoundStatus::Open,
            crate::store::RoundStatus::Selected
                if chrono::Utc::now().date_naive() > r.contract_end =>
            {
                pb::RoundStatus::Closed
            }
            crate::store::RoundStatus::Selected => pb::RoundStatus::Selected,
        } as i32,
        created: Some(audit(&r.created)),
    }
}

/// A stored group as proto.
pub fn group_pb(g: &StoredGroup) -> pb::Group {
    pb::Group {
        group_id: g.group.id.clone(),
        generic_name: g.group.generic_name.clone(),
        specification: g.group.specification.clone(),
        highest_valid_price_fen: g.group.highest_valid_price.0,
        category: g.category.clone(),
    }
}

fn qualified_pb(q: QualifiedBy) -> pb::QualifiedBy {
    match q {
        QualifiedBy::PriceRatio => pb::QualifiedBy::PriceRatio,
        QualifiedBy::DeepCut => pb::QualifiedBy::DeepCut,
        QualifiedBy::LowPrice => pb::QualifiedBy::LowPrice,
    }
}

/// A group's outcome as proto (with the stored group for its highest price and category).
pub fn group_outcome_pb(o: &GroupOutcome, group: Option<&StoredGroup>) -> pb::GroupOutcome {
    let bids = o
        .bids
        .iter()
        .map(|b| {
            let (status, by, rank, slots) = match b.status {
                BidStatus::Invalid => (pb::BidStatus::Invalid, None, 0, 0),
                BidStatus::NotQualified => (pb::BidStatus::NotQualified, None, 0, 0),
                BidStatus::NotSelected { by, rank } => {
                    (pb::BidStatus::NotSelected, Some(by), rank, 0)
                }
                BidStatus::Won { by, slot, of } => (pb::BidStatus::Won, Some(by), slot, of),
            };
            pb::BidResult {
                manufacturer_code: b.manufacturer.clone(),
                item_code: b.item_code.to_string(),
                unit_price_fen: b.unit_price.0,
                declared_price_fen: b.declared_price.0,
                status: status as i32,
                qualified_by: by.map_or(pb::QualifiedBy::Unspecified, qualified_pb) as i32,
                rank,
                slots,
                explanation: b.explanation.clone(),
            }
        })
        .collect();
    pb::GroupOutcome {
        group: Some(group.map(group_pb).unwrap_or_else(|| pb::Group {
            group_id: o.group_id.clone(),
            generic_name: o.generic_name.clone(),
            specification: o.specification.clone(),
            ..Default::default()
        })),
        lowest_unit_price_fen: o.lowest_unit_price.map_or(0, |f| f.0),
        qualified_count: o.qualified,
        winners: o
            .winners
            .iter()
            .map(|w| pb::Winner {
                slot: w.slot,
                manufacturer_code: w.manufacturer.clone(),
                item_code: w.item_code.to_string(),
                unit_price_fen: w.unit_price.0,
                declared_price_fen: w.declared_price.0,
            })
            .collect(),
        bids,
        total_demand: o.total_demand,
        agreed_share_bp: o.agreed_share.0,
        agreed_volume: o.agreed_volume,
        allocations: o
            .allocations
            .iter()
            .map(|a| pb::Allocation {
                institution_code: a.institution.to_string(),
                demand_quantity: a.demand,
                agreed_volume: a.agreed_volume,
            })
            .collect(),
    }
}

/// Reference kind from the proto.
pub fn reference_kind_of(field: &str, v: i32) -> Result<ReferenceKind, ProcError> {
    match pb::ReferenceKind::try_from(v) {
        Ok(pb::ReferenceKind::Ceiling) => Ok(ReferenceKind::Ceiling),
        Ok(pb::ReferenceKind::Guide) => Ok(ReferenceKind::Guide),
        _ => Err(ProcError::invalid(
            field,
            "must be REFERENCE_KIND_CEILING or REFERENCE_KIND_GUIDE",
        )),
    }
}

/// A stored reference as proto.
pub fn reference_pb(r: &StoredReference) -> pb::ReferencePrice {
    pb::ReferencePrice {
        item_code: r.reference.item_code.to_string(),
        region_code: r.region.clone(),
        kind: match r.reference.kind {
            ReferenceKind::Ceiling => pb::ReferenceKind::Ceiling,
            ReferenceKind::Guide => pb::ReferenceKind::Guide,
        } as i32,
        price_fen: r.reference.price.0,
        valid_from_date: r.reference.period.from.to_string(),
        valid_to_date: r
            .reference
            .period
            .to
            .map(|d| d.to_string())
            .unwrap_or_default(),
        updated: Some(audit(&r.updated)),
    }
}

/// A stored listing as proto.
pub fn listing_pb(l: &StoredListing) -> pb::ListedPrice {
    pb::ListedPrice {
        item_code: l.listing.item_code.to_string(),
        region_code: l.region.clone(),
        manufacturer_code: l.manufacturer.clone(),
        price_fen: l.listing.price.0,
        valid_from_date: l.listing.period.from.to_string(),
        valid_to_date: l
            .listing
            .period
            .to
            .map(|d| d.to_string())
            .unwrap_or_default(),
        updated: Some(audit(&l.updated)),
    }
}

/// A stored payment standard as proto.
pub fn standard_pb(s: &StoredStandard) -> pb::PaymentStandard {
    pb::PaymentStandard {
        item_code: s.standard.item_code.to_string(),
        region_code: s.region.clone(),
        amount_fen: s.standard.amount.0,
        valid_from_date: s.standard.period.from.to_string(),
        valid_to_date: s
            .standard
            .period
            .to
            .map(|d| d.to_string())
            .unwrap_or_default(),
        basis: s.standard.basis.clone(),
        updated: Some(audit(&s.updated)),
    }
}

/// Derivation rules from the proto (absent: 2×, −30%, highest winning price).
pub fn standard_rules(r: Option<&pb::StandardRules>) -> Result<StandardRules, ProcError> {
    let Some(r) = r else {
        return Ok(StandardRules::national_default());
    };
    if r.non_winner_multiple_bp < 10_000 {
        return Err(ProcError::invalid(
            "rules.non_winner_multiple_bp",
            "must be at least 10000 bp (1×)",
        ));
    }
    Ok(StandardRules {
        non_winner_multiple: Bp(r.non_winner_multiple_bp),
        above_multiple_cut: share("rules.above_multiple_cut_bp", r.above_multiple_cut_bp)?,
        reference: match pb::WinningReference::try_from(r.reference) {
            Ok(pb::WinningReference::Lowest) => WinningReference::LowestWinning,
            Ok(pb::WinningReference::Highest) | Ok(pb::WinningReference::Unspecified) => {
                WinningReference::HighestWinning
            }
            Err(_) => {
                return Err(ProcError::invalid(
                    "rules.reference",
                    "must be a WinningReference",
                ));
            }
        },
    })
}

/// Movement from the proto.
pub fn movement_of(field: &str, v: i32) -> Result<Movement, ProcError> {
    match pb::Movement::try_from(v) {
        Ok(pb::Movement::Purchase) => Ok(Movement::Purchase),
        Ok(pb::Movement::Sale) => Ok(Movement::Sale),
        _ => Err(ProcError::invalid(
            field,
            "must be MOVEMENT_PURCHASE or MOVEMENT_SALE",
        )),
    }
}

/// A finding as proto.
pub fn finding_pb(f: &Finding) -> pb::Finding {
    pb::Finding {
        kind: match f.kind {
            FindingKind::UnlistedPurchase => pb::FindingKind::UnlistedPurchase,
            FindingKind::PurchaseAboveListedPrice => pb::FindingKind::PurchaseAboveListedPrice,
            FindingKind::MarkUp => pb::FindingKind::MarkUp,
            FindingKind::SaleWithoutStock => pb::FindingKind::SaleWithoutStock,
        } as i32,
        code: f.kind.code().to_string(),
        institution_code: f.institution.to_string(),
        item_code: f.item_code.to_string(),
        record_no: f.record_no.clone(),
        date: f.date.to_string(),
        purchase_date: f.purchase_date.map(|d| d.to_string()).unwrap_or_default(),
        quantity: f.quantity,
        purchase_price_fen: f.purchase_price.map(|p| p.0),
        sale_price_fen: f.sale_price.map(|p| p.0),
        listed_price_fen: f.listed_price.map(|p| p.0),
        amount_fen: f.amount.0,
        explanation: f.explanation.clone(),
    }
}

/// Completion status as proto.
pub fn completion_status_pb(s: CompletionStatus) -> pb::CompletionStatus {
    match s {
        CompletionStatus::Completed => pb::CompletionStatus::Completed,
        CompletionStatus::OnPace => pb::CompletionStatus::OnPace,
        CompletionStatus::Behind => pb::CompletionStatus::Behind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: ProcError) -> (&'static str, String) {
        match e {
            ProcError::Invalid { code, field, .. } => (code, field),
            other => panic!("expected an input error, got {other:?}"),
        }
    }

    fn drug() -> pb::CatalogueItem {
        pb::CatalogueItem {
            code: "XC10AAA123A000000000001".into(),
            kind: pb::ItemKind::WesternDrug as i32,
            generic_name: "阿托伐他汀钙片".into(),
            dosage_form: "片剂".into(),
            specification: "20mg".into(),
            manufacturer: "药企".into(),
            insurance_class: pb::InsuranceClass::B as i32,
            valid_from_date: "2025-01-01".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_catalogue_entry_is_refused_naming_the_field_under_item() {
        assert!(catalogue_entry(&drug()).is_ok());
        let no_form = pb::CatalogueItem {
            dosage_form: String::new(),
            ..drug()
        };
        assert_eq!(
            field_of(catalogue_entry(&no_form).unwrap_err()),
            (crate::error::INVALID_ARGUMENT, "item.dosage_form".into())
        );
        let consumable_code = pb::CatalogueItem {
            code: "C0101010010000000001".into(),
            ..drug()
        };
        assert_eq!(
            field_of(catalogue_entry(&consumable_code).unwrap_err()),
            ("PROCUREMENT_INVALID_ITEM_CODE", "item.code".into())
        );
        let backwards = pb::CatalogueItem {
            valid_to_date: "2024-12-31".into(),
            ..drug()
        };
        assert_eq!(
            field_of(catalogue_entry(&backwards).unwrap_err()).1,
            "item.valid_to_date"
        );
        let no_class = pb::CatalogueItem {
            insurance_class: 0,
            ..drug()
        };
        assert_eq!(
            field_of(catalogue_entry(&no_class).unwrap_err()).1,
            "item.insurance_class"
        );
    }

    #[test]
    fn round_rules_are_validated_by_the_domain() {
        let rules = pb::RoundRules {
            max_ratio_to_lowest_bp: 18_000,
            min_cut_alternative_bp: Some(5_000),
            low_price_alternative_fen: Some(10),
            winners_by_qualified: vec![pb::WinnersBand {
                min_qualified: 1,
                max_winners: 1,
            }],
            agreed_share_by_winners: vec![pb::ShareBand {
                min_winners: 1,
                share_bp: 5_000,
            }],
        };
        let parsed = round_rules(&rules).unwrap();
        assert_eq!(parsed.max_ratio_to_lowest, Bp(18_000));
        let gap = pb::RoundRules {
            winners_by_qualified: vec![pb::WinnersBand {
                min_qualified: 2,
                max_winners: 1,
            }],
            ..rules.clone()
        };
        assert_eq!(
            field_of(round_rules(&gap).unwrap_err()),
            ("PROCUREMENT_INVALID_ROUND_RULES", "round.rules".into())
        );
        let free = pb::RoundRules {
            low_price_alternative_fen: Some(0),
            ..rules
        };
        assert_eq!(
            field_of(round_rules(&free).unwrap_err()).1,
            "round.rules.low_price_alternative_fen"
        );
    }

    #[test]
    fn periods_and_defaults_of_standard_rules() {
        assert_eq!(
            period("f", "2026-01-01", "t", "").unwrap(),
            Period::from(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
        );
        assert_eq!(
            field_of(period("f", "2026-01-01", "t", "2025-12-31").unwrap_err()).1,
            "t"
        );
        assert_eq!(
            field_of(period("f", "2026-02-30", "t", "").unwrap_err()).1,
            "f"
        );
        assert_eq!(
            standard_rules(None).unwrap(),
            StandardRules::national_default()
        );
        let low = pb::StandardRules {
            non_winner_multiple_bp: 9_000,
            above_multiple_cut_bp: 3_000,
            reference: 0,
        };
        assert_eq!(
            field_of(standard_rules(Some(&low)).unwrap_err()).1,
            "rules.non_winner_multiple_bp"
        );
    }
}
