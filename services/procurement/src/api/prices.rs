//! Price RPCs: reference prices, listings, payment standards (set, derived from a round,
//! and the look-up settlement makes on every claim); the proto ⇄ price mapping.

use super::parse::{date, item_code, period, positive, region, share, text};
use super::{Reply, audit_pb, check_org, check_region, required};
use crate::app::standard_cache::wire;
use crate::app::standards::Derivation;
use crate::app::{AppError, Procurement, actor};
use crate::domain::{
    ListedPrice, NonWinningProduct, PaymentStandard, ReferenceKind, ReferencePrice, StandardRules,
    WinningReference,
};
use crate::store::{StoredListing, StoredReference};
use tonic::{Request, Response};
use yibao_core::Bp;
use yibao_proto::procurement::v1 as pb;
use yibao_runtime::server::caller;

/// Most items in one payment-standard look-up.
const MAX_LOOKUP_ITEMS: usize = 1000;

pub(super) async fn set_listed_price(
    app: &Procurement,
    req: Request<pb::SetListedPriceRequest>,
) -> Reply<pb::SetListedPriceResponse> {
    let c = caller(&req)?;
    let l = required("listing", req.into_inner().listing)?;
    let reg = region("listing.region_code", &l.region_code)?;
    check_region(&c, "listing.region_code", reg.as_str())?;
    let manufacturer = text("listing.manufacturer_code", &l.manufacturer_code, 64)?;
    check_org(&c, "listing.manufacturer_code", &manufacturer)?;
    let listing = ListedPrice {
        item_code: item_code("listing.item_code", &l.item_code)?,
        price: positive("listing.price_fen", l.price_fen)?,
        period: period(
            "listing.valid_from_date",
            &l.valid_from_date,
            "listing.valid_to_date",
            &l.valid_to_date,
        )?,
    };
    let stored = app
        .set_listing(reg.as_str(), &manufacturer, &listing, &actor(&c))
        .await?
        .into_inner();
    Ok(Response::new(pb::SetListedPriceResponse {
        listing: Some(listing_pb(&stored)),
    }))
}

pub(super) async fn set_reference_price(
    app: &Procurement,
    req: Request<pb::SetReferencePriceRequest>,
) -> Reply<pb::SetReferencePriceResponse> {
    let c = caller(&req)?;
    let p = required("reference", req.into_inner().reference)?;
    let reg = region("reference.region_code", &p.region_code)?;
    check_region(&c, "reference.region_code", reg.as_str())?;
    let reference = ReferencePrice {
        item_code: item_code("reference.item_code", &p.item_code)?,
        kind: reference_kind_of("reference.kind", p.kind)?,
        price: positive("reference.price_fen", p.price_fen)?,
        period: period(
            "reference.valid_from_date",
            &p.valid_from_date,
            "reference.valid_to_date",
            &p.valid_to_date,
        )?,
    };
    let (stored, previous, above) = app
        .set_reference(reg.as_str(), &reference, &actor(&c))
        .await?;
    Ok(Response::new(pb::SetReferencePriceResponse {
        reference: Some(reference_pb(&stored.into_inner())),
        previous: previous.as_ref().map(reference_pb),
        listings_above: above.iter().map(listing_pb).collect(),
    }))
}

pub(super) async fn set_payment_standard(
    app: &Procurement,
    req: Request<pb::SetPaymentStandardRequest>,
) -> Reply<pb::SetPaymentStandardResponse> {
    let c = caller(&req)?;
    let p = required("standard", req.into_inner().standard)?;
    let reg = region("standard.region_code", &p.region_code)?;
    check_region(&c, "standard.region_code", reg.as_str())?;
    let code = item_code("standard.item_code", &p.item_code)?;
    let basis = if p.basis.trim().is_empty() {
        format!("set by {} {}", c.role.as_str(), c.subject)
    } else {
        p.basis.trim().to_string()
    };
    let standard = PaymentStandard {
        item_code: code,
        amount: positive("standard.amount_fen", p.amount_fen)?,
        period: period(
            "standard.valid_from_date",
            &p.valid_from_date,
            "standard.valid_to_date",
            &p.valid_to_date,
        )?,
        basis,
    };
    let (stored, previous) = app
        .set_payment_standard(reg.as_str(), standard, &actor(&c))
        .await?;
    Ok(Response::new(pb::SetPaymentStandardResponse {
        standard: Some(wire(&stored.into_inner())),
        previous: previous.as_ref().map(wire),
    }))
}

pub(super) async fn derive_payment_standards(
    app: &Procurement,
    req: Request<pb::DerivePaymentStandardsRequest>,
) -> Reply<pb::DerivePaymentStandardsResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let reg = region("region_code", &r.region_code)?;
    check_region(&c, "region_code", reg.as_str())?;
    let effective_from = date("effective_from_date", &r.effective_from_date)?;
    let rules = standard_rules(r.rules.as_ref())?;
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
    let derivation = Derivation {
        region: reg.to_string(),
        effective_from,
        rules,
        non_winners,
        dry_run: r.dry_run,
    };
    let derived = app
        .derive_payment_standards(&c, &r.round_id, &derivation)
        .await?;
    Ok(Response::new(pb::DerivePaymentStandardsResponse {
        standards: derived
            .iter()
            .map(|(stored, winner)| pb::DerivedStandard {
                standard: Some(wire(stored)),
                winner: *winner,
            })
            .collect(),
    }))
}

/// Settlement calls this on every claim: parsing here, then one cache read per item.
pub(super) async fn get_payment_standards(
    app: &Procurement,
    req: Request<pb::GetPaymentStandardsRequest>,
) -> Reply<pb::GetPaymentStandardsResponse> {
    caller(&req)?;
    let r = req.into_inner();
    // Published data: no region check (a claim treated elsewhere is priced by that region).
    let reg = region("region_code", &r.region_code)?;
    let on = date("on_date", &r.on_date)?;
    if r.item_codes.is_empty() {
        return Err(AppError::invalid("item_codes", "at least one item code is required").into());
    }
    if r.item_codes.len() > MAX_LOOKUP_ITEMS {
        return Err(AppError::invalid(
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
        app.payment_standards(reg.as_str(), &national, on).await?
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

/// Reference kind from the proto.
pub fn reference_kind_of(field: &str, v: i32) -> Result<ReferenceKind, AppError> {
    match pb::ReferenceKind::try_from(v) {
        Ok(pb::ReferenceKind::Ceiling) => Ok(ReferenceKind::Ceiling),
        Ok(pb::ReferenceKind::Guide) => Ok(ReferenceKind::Guide),
        _ => Err(AppError::invalid(
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
        updated: Some(audit_pb(&r.updated)),
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
        updated: Some(audit_pb(&l.updated)),
    }
}

/// Derivation rules from the proto (absent: 2×, −30%, highest winning price).
pub fn standard_rules(r: Option<&pb::StandardRules>) -> Result<StandardRules, AppError> {
    let Some(r) = r else {
        return Ok(StandardRules::national_default());
    };
    if r.non_winner_multiple_bp < 10_000 {
        return Err(AppError::invalid(
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
                return Err(AppError::invalid(
                    "rules.reference",
                    "must be a WinningReference",
                ));
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::field_of;
    use crate::domain::Period;
    use chrono::NaiveDate;

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
