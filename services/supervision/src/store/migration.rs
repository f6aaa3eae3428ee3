//! Schema of the supervision database. Portable DDL (PostgreSQL and SQLite): dates are ISO
//! `YYYY-MM-DD` text and times RFC 3339 (or `YYYY-MM-DDTHH:MM:SS` local event time) text, which
//! sort as they should; money is BIGINT fen. Domain records whose shape is owned by the pure
//! domain (a finding's evidence, a review with its steps, a case, a credit record, a draw) are
//! kept as JSON documents beside the columns that are filtered, sorted or summed.

use yibao_runtime::db::SqlMigration;

yibao_runtime::migrator!(
    Migrator,
    "supervision_migrations",
    [
        SqlMigration {
            name: "m20261123_000001_supervision_initial",
            up: UP,
            drop_tables: TABLES,
        },
        EVENT_SEQUENCE,
        yibao_runtime::inbox::MIGRATION,
        STAYS,
        // The sanctions supervision publishes (`yibao.supervision.sanctions`) go through the
        // runtime's outbox.
        yibao_runtime::outbox::MIGRATION,
        yibao_runtime::outbox::SEQUENCE_MIGRATION,
        yibao_runtime::outbox::TRACE_MIGRATION
    ]
);

/// The counter that numbers stored events across replicas (each batch takes its numbers in
/// its own transaction), started after the highest number already stored.
const EVENT_SEQUENCE: SqlMigration = SqlMigration {
    name: "m20261202_000001_supervision_event_sequence",
    up: &[
        "CREATE TABLE IF NOT EXISTS event_sequence (name TEXT PRIMARY KEY, last_seq BIGINT NOT NULL)",
        "INSERT INTO event_sequence (name, last_seq) SELECT 'events', COALESCE(MAX(seq), 0) FROM events",
    ],
    drop_tables: &["event_sequence"],
};

/// What the in-stay rules keep: each inpatient stay seen on settlement's encounter stream (its
/// person, institution, dates and status: open, discharged or cancelled) and the fees uploaded
/// per stay and fee date.
const STAYS: SqlMigration = SqlMigration {
    name: "m20261202_000002_supervision_stays",
    up: &[
        "CREATE TABLE stays (
            encounter_id TEXT PRIMARY KEY,
            person_key TEXT NOT NULL,
            institution_code TEXT NOT NULL,
            start_date TEXT NOT NULL,
            end_date TEXT,
            status TEXT NOT NULL,
            event_id TEXT NOT NULL,
            updated_at TEXT NOT NULL)",
        "CREATE INDEX stays_person ON stays (person_key, status)",
        "CREATE TABLE stay_fee_days (
            encounter_id TEXT NOT NULL,
            fee_date TEXT NOT NULL,
            amount_fen BIGINT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (encounter_id, fee_date))",
    ],
    drop_tables: &["stay_fee_days", "stays"],
};

const UP: &[&str] = &[
    // Rule library: every version of every region's rule set, never overwritten.
    "CREATE TABLE rule_sets (
        region_code TEXT NOT NULL,
        version BIGINT NOT NULL,
        effective_from TEXT NOT NULL,
        doc TEXT NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (region_code, version))",
    // Every event observed, by id (the idempotency key), with its bus payload (protobuf, base64):
    // the history that rebuilds the detector's windows after a restart and that backfills replay.
    "CREATE TABLE events (
        event_id TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        stream TEXT NOT NULL,
        kind TEXT NOT NULL,
        region_code TEXT NOT NULL,
        at TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL,
        payload TEXT NOT NULL,
        received_at TEXT NOT NULL)",
    "CREATE INDEX events_region_at ON events (region_code, status, at, seq)",
    "CREATE TABLE findings (
        finding_id TEXT PRIMARY KEY,
        region_code TEXT NOT NULL,
        institution_code TEXT NOT NULL,
        rule_code TEXT NOT NULL,
        rule_version BIGINT NOT NULL,
        severity TEXT NOT NULL,
        event_id TEXT NOT NULL,
        observed_at TEXT NOT NULL,
        amount_at_risk_fen BIGINT NOT NULL,
        state TEXT NOT NULL,
        amount_to_recover_fen BIGINT NOT NULL,
        feedback_due_at TEXT NOT NULL,
        backfill_run_id TEXT,
        doc TEXT NOT NULL,
        review TEXT NOT NULL,
        version BIGINT NOT NULL,
        created_at TEXT NOT NULL)",
    "CREATE INDEX findings_region ON findings (region_code, observed_at)",
    "CREATE INDEX findings_institution ON findings (institution_code, observed_at)",
    // Every review step with who and when (also inside the review document).
    "CREATE TABLE review_steps (
        finding_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        caller_role TEXT NOT NULL,
        at TEXT NOT NULL,
        note TEXT NOT NULL,
        state_after TEXT NOT NULL,
        PRIMARY KEY (finding_id, seq))",
    "CREATE TABLE verification_tasks (
        task_id TEXT PRIMARY KEY,
        region_code TEXT NOT NULL,
        institution_code TEXT NOT NULL,
        kind TEXT NOT NULL,
        claim_id TEXT NOT NULL,
        amount_fen BIGINT NOT NULL,
        opened_at TEXT NOT NULL,
        completed BIGINT NOT NULL,
        doc TEXT NOT NULL)",
    "CREATE INDEX verification_tasks_region ON verification_tasks (region_code, completed, opened_at)",
    "CREATE TABLE tips (
        tip_id TEXT PRIMARY KEY,
        region_code TEXT NOT NULL,
        institution_code TEXT NOT NULL,
        description TEXT NOT NULL,
        whistleblower_contact TEXT NOT NULL,
        received_at TEXT NOT NULL,
        actor TEXT NOT NULL,
        case_id TEXT)",
    "CREATE TABLE cases (
        case_id TEXT PRIMARY KEY,
        region_code TEXT NOT NULL,
        institution_code TEXT NOT NULL,
        status TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        doc TEXT NOT NULL,
        version BIGINT NOT NULL)",
    "CREATE INDEX cases_region ON cases (region_code, opened_at)",
    // Findings already in a case: a finding is in at most one case.
    "CREATE TABLE case_findings (
        finding_id TEXT PRIMARY KEY,
        case_id TEXT NOT NULL)",
    // Request keys of money-moving calls: a retry returns the stored first response.
    "CREATE TABLE request_keys (
        request_id TEXT PRIMARY KEY,
        rpc TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        response TEXT NOT NULL,
        at TEXT NOT NULL)",
    "CREATE TABLE credit (
        subject_kind TEXT NOT NULL,
        subject_code TEXT NOT NULL,
        region_code TEXT NOT NULL,
        score BIGINT NOT NULL,
        blacklisted BIGINT NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (subject_kind, subject_code))",
    "CREATE INDEX credit_blacklist ON credit (blacklisted, region_code)",
    "CREATE TABLE budget_policies (
        region_code TEXT PRIMARY KEY,
        doc TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL)",
    "CREATE TABLE budgets (
        institution_code TEXT NOT NULL,
        year BIGINT NOT NULL,
        amount_fen BIGINT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (institution_code, year))",
    // Fund payments per institution and settlement month, from the claim stream.
    "CREATE TABLE spending (
        institution_code TEXT NOT NULL,
        year BIGINT NOT NULL,
        month BIGINT NOT NULL,
        amount_fen BIGINT NOT NULL,
        PRIMARY KEY (institution_code, year, month))",
    "CREATE TABLE warnings (
        year BIGINT NOT NULL,
        month BIGINT NOT NULL,
        institution_code TEXT NOT NULL,
        region_code TEXT NOT NULL,
        level TEXT NOT NULL,
        hold_year BIGINT NOT NULL,
        hold_month BIGINT NOT NULL,
        doc TEXT NOT NULL,
        evaluated_at TEXT NOT NULL,
        PRIMARY KEY (year, month, institution_code))",
    "CREATE INDEX warnings_hold ON warnings (institution_code, hold_year, hold_month)",
    "CREATE TABLE inspection_draws (
        draw_id TEXT PRIMARY KEY,
        region_code TEXT NOT NULL,
        doc TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL)",
    "CREATE TABLE backfill_runs (
        run_id TEXT PRIMARY KEY,
        region_code TEXT NOT NULL,
        rule_code TEXT NOT NULL,
        rule_version BIGINT NOT NULL,
        from_date TEXT NOT NULL,
        to_date TEXT NOT NULL,
        dry_run BIGINT NOT NULL,
        events_seen BIGINT NOT NULL,
        events_refused BIGINT NOT NULL,
        findings_raised BIGINT NOT NULL,
        amount_at_risk_fen BIGINT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL)",
];

const TABLES: &[&str] = &[
    "backfill_runs",
    "inspection_draws",
    "warnings",
    "spending",
    "budgets",
    "budget_policies",
    "credit",
    "request_keys",
    "case_findings",
    "cases",
    "tips",
    "verification_tasks",
    "review_steps",
    "findings",
    "events",
    "rule_sets",
];
