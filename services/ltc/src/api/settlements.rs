//! Monthly settlement: settle an institution's month, reverse a run, read a run, statistics.

use super::Reply;
use super::error::refused;
use super::fields::{audit, authorization, institution, invalid, level_pb, text_field};
use crate::app::{Ltc, region_scope};
use crate::domain::Month;
use crate::domain::stats::growth_bp;
use crate::store::settlements::{LineRow, SettlementRow};
use std::collections::BTreeMap;
use tonic::{Request, Response, Status};
use yibao_proto::ltc::v1 as pb;
use yibao_runtime::server::caller;

fn line_pb(l: &LineRow) -> pb::SettlementLine {
    pb::SettlementLine {
        line_id: l.id.clone(),
        beneficiary_id: l.beneficiary_id.clone(),
        kind: if l.reversal {
            pb::LineKind::Reversal as i32
        } else {
            pb::LineKind::Settled as i32
        },
        reverses_line_id: l.reverses_line_id.clone().unwrap_or_default(),
        level: level_pb(l.level),
        units: u32::try_from(l.figures.units.unsigned_abs()).unwrap_or(u32::MAX),
        billed_fen: l.figures.billed.get(),
        fund_before_cap_fen: l.figures.fund_before_cap.get(),
        fund_fen: l.figures.fund.get(),
        person_fen: l.figures.person.get(),
        capped_fen: l.figures.capped.get(),
        period_start: l.figures.period_start.to_string(),
        period_end: l.figures.period_end.to_string(),
    }
}

fn settlement_pb(s: &SettlementRow) -> pb::Settlement {
    pb::Settlement {
        settlement_id: s.id.clone(),
        institution_code: s.institution_code.clone(),
        month: s.month.clone(),
        lines: s.lines.iter().map(line_pb).collect(),
        billed_fen: s.billed,
        fund_fen: s.fund,
        person_fen: s.person,
        reversed: s.reversed,
        audit: audit(&s.actor, &s.role, &s.at),
    }
}

pub(super) async fn settle(
    ltc: &Ltc,
    req: Request<pb::SettleMonthRequest>,
) -> Reply<pb::SettleMonthResponse> {
    let c = caller(&req)?;
    let auth = authorization(&req);
    let r = req.into_inner();
    let inst = institution("institution_code", &r.institution_code)?;
    let month = Month::parse("month", &r.month).map_err(refused)?;
    let request_id = text_field("request_id", &r.request_id, 128)?;
    if month.first_day() > chrono::Utc::now().date_naive() {
        return Err(invalid("month", "must not be in the future"));
    }
    let (run, replayed) = ltc
        .settle_month(&c, &auth, &inst, month, &request_id)
        .await?;
    Ok(Response::new(pb::SettleMonthResponse {
        settlement: Some(settlement_pb(&run)),
        replayed,
    }))
}

pub(super) async fn reverse(
    ltc: &Ltc,
    req: Request<pb::ReverseSettlementRequest>,
) -> Reply<pb::ReverseSettlementResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let request_id = text_field("request_id", &r.request_id, 128)?;
    let reason = text_field("reason", &r.reason, 500)?;
    let (run, replayed) = ltc
        .reverse_settlement(&c, &r.settlement_id, &request_id, &reason)
        .await?;
    Ok(Response::new(pb::ReverseSettlementResponse {
        reversal: Some(settlement_pb(&run)),
        replayed,
    }))
}

pub(super) async fn get(
    ltc: &Ltc,
    req: Request<pb::GetSettlementRequest>,
) -> Reply<pb::GetSettlementResponse> {
    let c = caller(&req)?;
    let s = ltc.settlement(&c, &req.get_ref().settlement_id).await?;
    Ok(Response::new(pb::GetSettlementResponse {
        settlement: Some(settlement_pb(&s)),
    }))
}

pub(super) async fn statistics(
    ltc: &Ltc,
    req: Request<pb::GetStatisticsRequest>,
) -> Reply<pb::GetStatisticsResponse> {
    let c = caller(&req)?;
    let r = req.into_inner();
    let month = Month::parse("month", &r.month).map_err(refused)?;
    let reg = region_scope(&c, "region_code", &r.region_code)
        .map_err(Status::from)?
        .ok_or_else(|| invalid("region_code", "must not be empty"))?;
    let s = ltc.statistics(&reg, month).await?;
    let counts = |m: &BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, v)| pb::Count {
                key: k.clone(),
                count: *v,
            })
            .collect::<Vec<_>>()
    };
    Ok(Response::new(pb::GetStatisticsResponse {
        beneficiaries: s.beneficiaries,
        by_level: counts(&s.by_level),
        by_care_type: counts(&s.by_care_type),
        by_region: counts(&s.by_region),
        previous_month: s.previous_month,
        growth_month_on_month_bp: growth_bp(s.previous_month, s.beneficiaries),
        same_month_last_year: s.same_month_last_year,
        growth_year_on_year_bp: growth_bp(s.same_month_last_year, s.beneficiaries),
        institutions: s.institutions,
        fund_paid_fen: s.fund_paid,
    }))
}
