//! 3201 reconciliation of totals (对总账) and 3202 of details (对明细账, answered inline): the
//! institution's settlements of an insurance type (and clearing type) over a period, counted
//! and summed from ListClaims, compared with what the HIS declares.

use super::input::Node;
use super::{Call, Output, Refusal};
use serde::Serialize;
use yibao_core::Fen;
use yibao_fsi::decimal::Yuan;
use yibao_proto::common::v1::{PageRequest, Scheme};
use yibao_proto::settlement::v1 as pb;
use yibao_proto::settlement::v1::settlement_service_client::SettlementServiceClient;

/// Totals on one side of a reconciliation.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// `medfee_sumamt`.
    pub medfee: i64,
    /// `fund_pay_sumamt` (with the insurers' layer, as in `setlinfo`).
    pub fund: i64,
    /// `acct_pay`.
    pub acct: i64,
    /// `fixmedins_setl_cnt`.
    pub count: i64,
}

/// What differs between the HIS's totals and Yibao's, in words; empty when they agree.
pub fn differences(his: &Totals, ours: &Totals) -> Vec<String> {
    let y = |f: i64| Yuan(Fen(f)).to_string();
    let mut out = Vec::new();
    for (name, a, b, money) in [
        ("medfee_sumamt", his.medfee, ours.medfee, true),
        ("fund_pay_sumamt", his.fund, ours.fund, true),
        ("acct_pay", his.acct, ours.acct, true),
        ("fixmedins_setl_cnt", his.count, ours.count, false),
    ] {
        if a != b {
            let (a, b) = if money {
                (y(a), y(b))
            } else {
                (a.to_string(), b.to_string())
            };
            out.push(format!("{name}: institution {a}, Yibao {b}"));
        }
    }
    out
}

/// The months `YYYY-MM` from `begin` to `end` (dates), inclusive.
pub fn months(begin: chrono::NaiveDate, end: chrono::NaiveDate) -> Vec<String> {
    use chrono::Datelike;
    let mut out = Vec::new();
    let (mut y, mut m) = (begin.year(), begin.month());
    while (y, m) <= (end.year(), end.month()) {
        out.push(format!("{y:04}-{m:02}"));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

#[derive(Serialize)]
struct StmtInfo {
    setl_optins: String,
    stmt_rslt: &'static str,
    stmt_rslt_dscr: String,
}

/// The period and the settlements a reconciliation covers.
struct Period {
    scheme: Scheme,
    inpatient: Option<bool>,
    begin: chrono::NaiveDate,
    end: chrono::NaiveDate,
}

fn period(d: &Node) -> Result<Period, Refusal> {
    let insutype = d.req("insutype")?;
    let scheme = match insutype.as_str() {
        "390" => Scheme::Resident,
        "310" => Scheme::Employee,
        other => {
            return Err(Refusal::field(
                d.at("insutype"),
                format!("`{other}` is not an insurance type Yibao settles (310, 390)"),
            ));
        }
    };
    let inpatient = match d.text("clr_type")?.as_deref() {
        None => None,
        Some("21") => Some(true),
        Some("11") => Some(false),
        Some(other) => {
            return Err(Refusal::field(
                d.at("clr_type"),
                format!("must be 11 (outpatient) or 21 (inpatient), got `{other}`"),
            ));
        }
    };
    let date = |f: &str| -> Result<chrono::NaiveDate, Refusal> {
        let t = d
            .date(f)?
            .ok_or_else(|| Refusal::field(d.at(f), "is required"))?;
        chrono::NaiveDate::parse_from_str(&t, "%Y-%m-%d")
            .map_err(|e| Refusal::field(d.at(f), e.to_string()))
    };
    let (begin, end) = (date("stmt_begndate")?, date("stmt_enddate")?);
    if end < begin || (end - begin).num_days() > 366 {
        return Err(Refusal::field(
            d.at("stmt_enddate"),
            "must be on or after stmt_begndate, at most a year later",
        ));
    }
    Ok(Period {
        scheme,
        inpatient,
        begin,
        end,
    })
}

/// The HIS's declared totals.
fn declared(d: &Node) -> Result<Totals, Refusal> {
    Ok(Totals {
        medfee: d.req_yuan("medfee_sumamt")?.fen().get(),
        fund: d.req_yuan("fund_pay_sumamt")?.fen().get(),
        acct: d.yuan("acct_pay")?.unwrap_or_default().fen().get(),
        count: d
            .req("fixmedins_setl_cnt")?
            .parse()
            .map_err(|_| Refusal::field(d.at("fixmedins_setl_cnt"), "must be a whole number"))?,
    })
}

/// The institution's settlements in force of the period (not reversed, not superseded).
async fn settlements(c: &Call<'_>, p: &Period) -> Result<Vec<pb::ClaimSummary>, Refusal> {
    let mut out = Vec::new();
    for month in months(p.begin, p.end) {
        let mut token = String::new();
        loop {
            let msg = pb::ListClaimsRequest {
                institution_code: c.institution.clone(),
                region_code: String::new(),
                month: month.clone(),
                status: 0,
                page: Some(PageRequest {
                    page_size: 200,
                    page_token: token.clone(),
                }),
            };
            let page = c
                .rpc("settlement", "ListClaims", msg, &[], |ch, r| async move {
                    SettlementServiceClient::new(ch).list_claims(r).await
                })
                .await?;
            for cl in page.claims {
                let in_period = chrono::NaiveDate::parse_from_str(&cl.settled_on, "%Y-%m-%d")
                    .is_ok_and(|on| on >= p.begin && on <= p.end);
                let live = !matches!(
                    pb::ClaimStatus::try_from(cl.status),
                    Ok(pb::ClaimStatus::Reversed | pb::ClaimStatus::Superseded)
                );
                let kind_ok = p
                    .inpatient
                    .is_none_or(|i| (cl.kind == pb::EncounterKind::Inpatient as i32) == i);
                if in_period && live && kind_ok && cl.scheme == p.scheme as i32 {
                    out.push(cl);
                }
            }
            token = page.page.map(|p| p.next_page_token).unwrap_or_default();
            if token.is_empty() {
                break;
            }
        }
    }
    Ok(out)
}

/// What a claim counts for: its bill, and the funds with the insurers' layer (as `setlinfo`).
fn amounts(cl: &pb::ClaimSummary) -> (i64, i64) {
    (
        cl.medfee_sumamt_fen,
        cl.fund_pay_sumamt_fen + cl.insurer_pay_fen,
    )
}

fn sum(claims: &[pb::ClaimSummary]) -> Totals {
    let mut t = Totals::default();
    for cl in claims {
        let (medfee, fund) = amounts(cl);
        t.medfee += medfee;
        t.fund += fund;
        t.count += 1;
    }
    t
}

fn stmtinfo(c: &Call<'_>, d: &Node, his: &Totals, ours: &Totals) -> Result<StmtInfo, Refusal> {
    let diff = differences(his, ours);
    let dscr = if diff.is_empty() {
        format!(
            "agreed: {} settlements, medfee_sumamt {}, fund_pay_sumamt {}",
            ours.count,
            Yuan(Fen(ours.medfee)),
            Yuan(Fen(ours.fund))
        )
    } else {
        diff.join("; ")
    };
    Ok(StmtInfo {
        setl_optins: d
            .text("setl_optins")?
            .or_else(|| c.req.insuplc_admdvs.clone())
            .unwrap_or_default(),
        stmt_rslt: if diff.is_empty() { "0" } else { "1" },
        stmt_rslt_dscr: dscr,
    })
}

/// 3201.
pub async fn totals(c: &Call<'_>) -> Result<Output, Refusal> {
    let d = Node::of(&c.req.input, "data")?;
    let p = period(&d)?;
    let his = declared(&d)?;
    let ours = sum(&settlements(c, &p).await?);
    #[derive(Serialize)]
    struct Out {
        stmtinfo: StmtInfo,
    }
    Output::of(&Out {
        stmtinfo: stmtinfo(c, &d, &his, &ours)?,
    })
}

#[derive(Serialize)]
struct DetailRow {
    setl_id: String,
    setl_time: String,
    medfee_sumamt: Yuan,
    fund_pay_sumamt: Yuan,
    acct_pay: Yuan,
    refd_setl_flag: &'static str,
    stmt_rslt: &'static str,
    memo: String,
}

/// 3202, answered inline: the national platform exchanges the detail as files (9101/9102),
/// which Yibao does not serve, so the HIS may send its rows in `input.details[]`
/// (`setl_id`, `medfee_sumamt`, `fund_pay_sumamt`) and the answer carries `stmtinfo` for the
/// totals and `details[]`, one row per settlement in force of the period (`stmt_rslt` 0 when
/// the HIS's row agrees, 1 when it differs or is missing) plus the HIS's rows Yibao does not
/// know (1).
pub async fn details(c: &Call<'_>) -> Result<Output, Refusal> {
    let d = Node::of(&c.req.input, "data")?;
    let p = period(&d)?;
    let his = declared(&d)?;
    let mut sent = Vec::new();
    for n in Node::list(&c.req.input, "details")? {
        let claim = n.id("setl_id")?;
        sent.push((
            claim,
            n.req("setl_id")?.to_uppercase(),
            n.req_yuan("medfee_sumamt")?.fen().get(),
            n.req_yuan("fund_pay_sumamt")?.fen().get(),
        ));
    }
    let claims = settlements(c, &p).await?;
    let ours = sum(&claims);
    let y = |f: i64| Yuan(Fen(f));
    let mut rows = Vec::new();
    for cl in &claims {
        let (medfee, fund) = amounts(cl);
        let theirs = sent.iter().find(|s| s.0 == cl.claim_id);
        let (rslt, memo) = match theirs {
            None => ("1", "not in the institution's detail".to_string()),
            Some(s) if s.2 == medfee && s.3 == fund => ("0", String::new()),
            Some(s) => (
                "1",
                differences(
                    &Totals {
                        medfee: s.2,
                        fund: s.3,
                        ..Totals::default()
                    },
                    &Totals {
                        medfee,
                        fund,
                        ..Totals::default()
                    },
                )
                .join("; "),
            ),
        };
        rows.push(DetailRow {
            setl_id: super::encounter::id_of(&cl.claim_id)?,
            setl_time: cl.settled_on.clone(),
            medfee_sumamt: y(medfee),
            fund_pay_sumamt: y(fund),
            acct_pay: y(0),
            refd_setl_flag: if cl.status == pb::ClaimStatus::PartiallyRefunded as i32 {
                "1"
            } else {
                "0"
            },
            stmt_rslt: rslt,
            memo,
        });
    }
    for s in sent
        .iter()
        .filter(|s| !claims.iter().any(|cl| cl.claim_id == s.0))
    {
        rows.push(DetailRow {
            setl_id: s.1.clone(),
            setl_time: String::new(),
            medfee_sumamt: y(s.2),
            fund_pay_sumamt: y(s.3),
            acct_pay: y(0),
            refd_setl_flag: "0",
            stmt_rslt: "1",
            memo: "no settlement of Yibao in force in the period".into(),
        });
    }
    #[derive(Serialize)]
    struct Out {
        stmtinfo: StmtInfo,
        details: Vec<DetailRow>,
    }
    Output::of(&Out {
        stmtinfo: stmtinfo(c, &d, &his, &ours)?,
        details: rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_each_field() {
        let his = Totals {
            medfee: 150_000,
            fund: 100_000,
            acct: 0,
            count: 2,
        };
        assert!(differences(&his, &his).is_empty());
        let ours = Totals {
            count: 1,
            fund: 99_999,
            ..his
        };
        assert_eq!(
            differences(&his, &ours),
            [
                "fund_pay_sumamt: institution 1000.00, Yibao 999.99",
                "fixmedins_setl_cnt: institution 2, Yibao 1"
            ]
        );
    }

    #[test]
    fn months_span_the_period() {
        let d = |s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            months(d("2026-11-15"), d("2027-02-01")),
            ["2026-11", "2026-12", "2027-01", "2027-02"]
        );
        assert_eq!(months(d("2026-06-01"), d("2026-06-30")), ["2026-06"]);
    }
}
