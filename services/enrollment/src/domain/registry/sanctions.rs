//! What the registry does with supervision's sanctions (`yibao.supervision.sanctions`,
//! decision 0014), pure: given an institution's file and one sanction, the status change to
//! record, or why nothing changes.
//!
//! - **Blacklisted** (黑名单): an active institution is suspended from the sanction's day, the
//!   reason saying it is supervision's; one already suspended or terminated is left as it is.
//! - **Lifted**: the institution is active again from the sanction's day, but only when its
//!   latest status change is a suspension supervision made. An operator's suspension is never
//!   reinstated by a credit restoration, and a termination is final.
//! - A sanction already applied (its event id is in the reason of one of supervision's
//!   changes) changes nothing again, so a redelivery writes nothing.
//!
//! The first day is never before the latest status change's (nor the registration), the
//! rule every status change keeps ([`super::check_status_change`]).

use super::{InstitutionFile, InstitutionStatus, StatusChange};
use chrono::NaiveDate;

/// The actor supervision's changes are recorded under (the audit's subject).
pub const SUPERVISION_ACTOR: &str = "supervision";
/// The role supervision's changes are recorded under: no token carries it, so no caller's
/// change is ever taken for supervision's.
pub const SUPERVISION_ROLE: &str = "system";

/// Longest reason the registry keeps (as for an operator's change).
const MAX_REASON: usize = 500;

/// What supervision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SanctionAction {
    /// The institution's credit went below the blacklist threshold.
    Blacklisted,
    /// A restoration took it back to the threshold or above.
    Lifted,
}

/// One sanction as supervision published it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sanction<'a> {
    /// The event's id (recorded in the reason, so a redelivery is recognised).
    pub event_id: &'a str,
    /// Blacklisted or lifted.
    pub action: SanctionAction,
    /// The day of the deduction or restoration.
    pub effective_on: NaiveDate,
    /// The credit score after it.
    pub credit_score: u32,
    /// Supervision's reason (the violation or the restoration).
    pub reason: &'a str,
}

/// What to record for a sanction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SanctionOutcome {
    /// Record this status change under [`SUPERVISION_ACTOR`].
    Change {
        /// The new status.
        status: InstitutionStatus,
        /// Its first day.
        effective_on: NaiveDate,
        /// Why, as the registry keeps it.
        reason: String,
    },
    /// Nothing to record, and why (for the log).
    Unchanged(String),
}

/// True when supervision recorded the change.
pub fn made_by_supervision(c: &StatusChange) -> bool {
    c.actor == SUPERVISION_ACTOR && c.role == SUPERVISION_ROLE
}

fn event_tag(event_id: &str) -> String {
    format!(" [event {event_id}]")
}

/// The status change a sanction makes to `file`, or why it makes none.
pub fn sanction_outcome(file: &InstitutionFile, s: &Sanction<'_>) -> SanctionOutcome {
    let tag = event_tag(s.event_id);
    if file
        .status_changes
        .iter()
        .any(|c| made_by_supervision(c) && c.reason.ends_with(&tag))
    {
        return SanctionOutcome::Unchanged(format!("event {} is applied already", s.event_id));
    }
    let last = file.status_changes.last();
    let mut day = s.effective_on;
    if let Some(first) = file.versions.iter().map(|v| v.effective_from).min() {
        day = day.max(first);
    }
    if let Some(l) = last {
        day = day.max(l.effective_on);
    }
    let current = last.map_or(InstitutionStatus::Active, |c| c.status);
    let (status, words) = match (s.action, current, last) {
        (_, InstitutionStatus::Terminated, Some(l)) => {
            return SanctionOutcome::Unchanged(format!(
                "{} was terminated on {} ({}); termination is final",
                file.code, l.effective_on, l.reason
            ));
        }
        (SanctionAction::Blacklisted, InstitutionStatus::Suspended, Some(l)) => {
            return SanctionOutcome::Unchanged(format!(
                "{} is suspended already since {} by {} ({})",
                file.code, l.effective_on, l.actor, l.reason
            ));
        }
        (SanctionAction::Blacklisted, _, _) => (
            InstitutionStatus::Suspended,
            format!("supervision: blacklisted, credit score {}", s.credit_score),
        ),
        (SanctionAction::Lifted, InstitutionStatus::Suspended, Some(l))
            if made_by_supervision(l) =>
        {
            (
                InstitutionStatus::Active,
                format!(
                    "supervision: blacklist lifted, credit score {}",
                    s.credit_score
                ),
            )
        }
        (SanctionAction::Lifted, InstitutionStatus::Suspended, Some(l)) => {
            return SanctionOutcome::Unchanged(format!(
                "{} was suspended on {} by {} ({}), not by supervision: a credit restoration does not reinstate it",
                file.code, l.effective_on, l.actor, l.reason
            ));
        }
        (SanctionAction::Lifted, _, _) => {
            return SanctionOutcome::Unchanged(format!(
                "{} is active: no suspension of supervision's to lift",
                file.code
            ));
        }
    };
    SanctionOutcome::Change {
        status,
        effective_on: day,
        reason: reason_of(&words, s.reason, &tag),
    }
}

/// `<words>: <supervision's reason> [event <id>]`, supervision's reason shortened so the whole
/// stays within [`MAX_REASON`] characters (the tag is always kept whole).
fn reason_of(words: &str, theirs: &str, tag: &str) -> String {
    let theirs = theirs.trim();
    let fixed = words.chars().count() + tag.chars().count() + 2;
    let room = MAX_REASON.saturating_sub(fixed);
    let theirs: String = if theirs.chars().count() > room {
        let mut t: String = theirs.chars().take(room.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        theirs.to_string()
    };
    if theirs.is_empty() {
        format!("{words}{tag}")
    } else {
        format!("{words}: {theirs}{tag}")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::{Grade, InstitutionKind, InstitutionVersion, Tier, check_status_change};
    use super::*;
    use yibao_core::{InstitutionCode, RegionCode};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn file(changes: Vec<StatusChange>) -> InstitutionFile {
        InstitutionFile {
            code: InstitutionCode::parse("H34152200001").unwrap(),
            versions: vec![InstitutionVersion {
                effective_from: d("2015-01-01"),
                name: "霍邱县第一人民医院".into(),
                kind: InstitutionKind::Hospital,
                grade: Grade::Grade2,
                tier: Tier::County,
                region: RegionCode::parse("341522").unwrap(),
                beds: 600,
            }],
            agreements: Vec::new(),
            status_changes: changes,
        }
    }

    fn change(status: InstitutionStatus, on: &str, actor: &str, role: &str) -> StatusChange {
        StatusChange {
            status,
            effective_on: d(on),
            reason: format!("{actor} said so"),
            actor: actor.into(),
            role: role.into(),
            at: format!("{on}T08:00:00Z"),
        }
    }

    fn sanction<'a>(event_id: &'a str, action: SanctionAction, on: &str) -> Sanction<'a> {
        Sanction {
            event_id,
            action,
            effective_on: d(on),
            credit_score: 58,
            reason: "overlapping_stay confirmed: F-1",
        }
    }

    /// The change the outcome records, as supervision's.
    fn recorded(outcome: SanctionOutcome) -> StatusChange {
        match outcome {
            SanctionOutcome::Change {
                status,
                effective_on,
                reason,
            } => StatusChange {
                status,
                effective_on,
                reason,
                actor: SUPERVISION_ACTOR.into(),
                role: SUPERVISION_ROLE.into(),
                at: String::new(),
            },
            SanctionOutcome::Unchanged(why) => panic!("expected a change, got: {why}"),
        }
    }

    fn unchanged(outcome: SanctionOutcome) -> String {
        match outcome {
            SanctionOutcome::Unchanged(why) => why,
            other => panic!("expected no change, got {other:?}"),
        }
    }

    #[test]
    fn a_blacklisted_active_institution_is_suspended_from_the_day_of_the_deduction() {
        let f = file(Vec::new());
        let out = sanction_outcome(
            &f,
            &sanction("e1", SanctionAction::Blacklisted, "2026-06-03"),
        );
        let c = recorded(out);
        assert_eq!(c.status, InstitutionStatus::Suspended);
        assert_eq!(c.effective_on, d("2026-06-03"));
        assert_eq!(
            c.reason,
            "supervision: blacklisted, credit score 58: overlapping_stay confirmed: F-1 [event e1]"
        );
        // What the registry checks of every change holds.
        check_status_change(&f, c.status, c.effective_on, &c.reason).unwrap();
    }

    #[test]
    fn a_redelivered_or_second_blacklisting_changes_nothing() {
        let f = file(Vec::new());
        let first = recorded(sanction_outcome(
            &f,
            &sanction("e1", SanctionAction::Blacklisted, "2026-06-03"),
        ));
        let f = file(vec![first]);
        let again = unchanged(sanction_outcome(
            &f,
            &sanction("e1", SanctionAction::Blacklisted, "2026-06-03"),
        ));
        assert!(again.contains("applied already"), "{again}");
        let second = unchanged(sanction_outcome(
            &f,
            &sanction("e2", SanctionAction::Blacklisted, "2026-06-05"),
        ));
        assert!(second.contains("suspended already"), "{second}");
    }

    #[test]
    fn an_operators_suspension_is_not_doubled_by_a_blacklisting() {
        let f = file(vec![change(
            InstitutionStatus::Suspended,
            "2026-05-01",
            "operator-341522",
            "operator",
        )]);
        let why = unchanged(sanction_outcome(
            &f,
            &sanction("e1", SanctionAction::Blacklisted, "2026-06-03"),
        ));
        assert!(why.contains("operator-341522"), "{why}");
    }

    #[test]
    fn a_lifting_reinstates_supervisions_own_suspension_from_the_day_of_the_restoration() {
        let suspended = recorded(sanction_outcome(
            &file(Vec::new()),
            &sanction("e1", SanctionAction::Blacklisted, "2026-06-03"),
        ));
        let f = file(vec![suspended]);
        let c = recorded(sanction_outcome(
            &f,
            &sanction("e2", SanctionAction::Lifted, "2026-06-20"),
        ));
        assert_eq!(c.status, InstitutionStatus::Active);
        assert_eq!(c.effective_on, d("2026-06-20"));
        assert!(
            c.reason
                .starts_with("supervision: blacklist lifted, credit score 58")
        );
        check_status_change(&f, c.status, c.effective_on, &c.reason).unwrap();
        // Redelivered: nothing more.
        let f = file(vec![f.status_changes[0].clone(), c]);
        unchanged(sanction_outcome(
            &f,
            &sanction("e2", SanctionAction::Lifted, "2026-06-20"),
        ));
    }

    #[test]
    fn a_lifting_never_reinstates_an_operators_suspension() {
        let f = file(vec![change(
            InstitutionStatus::Suspended,
            "2026-05-01",
            "operator-341522",
            "operator",
        )]);
        let why = unchanged(sanction_outcome(
            &f,
            &sanction("e2", SanctionAction::Lifted, "2026-06-20"),
        ));
        assert!(why.contains("not by supervision"), "{why}");
        // Nor one an operator made after supervision's, nor one by a caller whose token
        // subject happens to read "supervision".
        for later in [
            change(
                InstitutionStatus::Suspended,
                "2026-06-10",
                "operator-341522",
                "operator",
            ),
            change(
                InstitutionStatus::Suspended,
                "2026-06-10",
                SUPERVISION_ACTOR,
                "operator",
            ),
        ] {
            let ours = recorded(sanction_outcome(
                &file(Vec::new()),
                &sanction("e1", SanctionAction::Blacklisted, "2026-06-03"),
            ));
            let active = change(
                InstitutionStatus::Active,
                "2026-06-05",
                "operator-341522",
                "operator",
            );
            let f = file(vec![ours, active, later]);
            unchanged(sanction_outcome(
                &f,
                &sanction("e2", SanctionAction::Lifted, "2026-06-20"),
            ));
        }
    }

    #[test]
    fn a_terminated_institution_is_never_touched() {
        let f = file(vec![change(
            InstitutionStatus::Terminated,
            "2026-05-01",
            "operator-341522",
            "operator",
        )]);
        for action in [SanctionAction::Blacklisted, SanctionAction::Lifted] {
            let why = unchanged(sanction_outcome(&f, &sanction("e1", action, "2026-06-03")));
            assert!(why.contains("termination is final"), "{why}");
        }
    }

    #[test]
    fn a_lifting_of_an_active_institution_changes_nothing() {
        let why = unchanged(sanction_outcome(
            &file(Vec::new()),
            &sanction("e2", SanctionAction::Lifted, "2026-06-20"),
        ));
        assert!(why.contains("is active"), "{why}");
    }

    #[test]
    fn the_first_day_is_never_before_the_latest_change_and_the_reason_fits() {
        let f = file(vec![change(
            InstitutionStatus::Active,
            "2026-07-01",
            "operator-341522",
            "operator",
        )]);
        let long = "违".repeat(800);
        let s = Sanction {
            reason: &long,
            ..sanction("e1", SanctionAction::Blacklisted, "2026-06-03")
        };
        let c = recorded(sanction_outcome(&f, &s));
        assert_eq!(c.effective_on, d("2026-07-01"));
        assert_eq!(c.reason.chars().count(), 500);
        assert!(c.reason.ends_with(" [event e1]"));
        check_status_change(&f, c.status, c.effective_on, &c.reason).unwrap();
    }
}
