//! Schema of the LTC database. Portable DDL (PostgreSQL and SQLite): dates are ISO
//! `YYYY-MM-DD` text (which sorts as dates), months `YYYY-MM`, money is BIGINT fen, times are
//! RFC 3339 text, score sheets and results JSON text. The outbox is the runtime's
//! (`event_outbox`).

use yibao_runtime::db::SqlMigration;

yibao_runtime::migrator!(
    Migrator,
    "ltc_migrations",
    [
        INITIAL,
        yibao_runtime::outbox::MIGRATION,
        OUTBOX_MOVED,
        yibao_runtime::outbox::SEQUENCE_MIGRATION,
        yibao_runtime::inbox::MIGRATION,
        yibao_runtime::outbox::TRACE_MIGRATION
    ]
);

/// The schema as first released.
const INITIAL: SqlMigration = SqlMigration {
    name: "m20261123_000001_ltc_initial",
    up: UP,
    drop_tables: TABLES,
};

/// The service's own outbox gives way to the runtime's `event_outbox`: events still waiting are
/// moved (same row ids, so the same order; same event ids), then the old table is dropped.
const OUTBOX_MOVED: SqlMigration = SqlMigration {
    name: "m20261201_000002_ltc_outbox_to_event_outbox",
    up: &[
        "INSERT INTO event_outbox (id, stream, event_id, payload_hex, created_at, attempts, published_at)
         SELECT id, stream, event_id, payload_hex, created_at, 0, NULL FROM ltc_outbox WHERE published_at IS NULL
         ON CONFLICT (event_id) DO NOTHING",
        "DROP TABLE ltc_outbox",
    ],
    drop_tables: &[],
};

const UP: &[&str] = &[
    // Benefit policy documents per region × year, versioned.
    "CREATE TABLE ltc_policies (
        region_code TEXT NOT NULL,
        year INTEGER NOT NULL,
        version INTEGER NOT NULL,
        document_json TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (region_code, year, version))",
    "CREATE TABLE ltc_applications (
        id TEXT PRIMARY KEY,
        institution_code TEXT NOT NULL,
        application_no TEXT NOT NULL,
        id_number TEXT NOT NULL,
        person_id TEXT NOT NULL,
        name TEXT NOT NULL,
        region_code TEXT NOT NULL,
        kind TEXT NOT NULL,
        medical_records_json TEXT NOT NULL,
        applied_on TEXT NOT NULL,
        status TEXT NOT NULL,
        level INTEGER,
        dementia INTEGER NOT NULL,
        rejection_reason TEXT NOT NULL,
        beneficiary_id TEXT,
        assessment_id TEXT,
        appeals INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (institution_code, application_no))",
    "CREATE INDEX ltc_applications_region ON ltc_applications (region_code, status)",
    "CREATE TABLE ltc_application_steps (
        application_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        status TEXT NOT NULL,
        note TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (application_id, seq))",
    "CREATE TABLE ltc_assessments (
        id TEXT PRIMARY KEY,
        application_id TEXT NOT NULL,
        region_code TEXT NOT NULL,
        assessors_json TEXT NOT NULL,
        scheduled_on TEXT NOT NULL,
        status TEXT NOT NULL,
        result_json TEXT,
        created_at TEXT NOT NULL)",
    "CREATE INDEX ltc_assessments_application ON ltc_assessments (application_id)",
    "CREATE TABLE ltc_assessment_assignees (
        assessment_id TEXT NOT NULL,
        assessor_code TEXT NOT NULL,
        PRIMARY KEY (assessor_code, assessment_id))",
    "CREATE TABLE ltc_score_sheets (
        assessment_id TEXT NOT NULL,
        assessor_code TEXT NOT NULL,
        items_json TEXT NOT NULL,
        dementia INTEGER NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (assessment_id, assessor_code))",
    "CREATE TABLE ltc_beneficiaries (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL UNIQUE,
        id_number TEXT NOT NULL,
        name TEXT NOT NULL,
        region_code TEXT NOT NULL,
        reassessment_due TEXT NOT NULL,
        created_at TEXT NOT NULL)",
    "CREATE INDEX ltc_beneficiaries_region ON ltc_beneficiaries (region_code, reassessment_due)",
    "CREATE TABLE ltc_levels (
        beneficiary_id TEXT NOT NULL,
        application_id TEXT NOT NULL,
        level INTEGER NOT NULL,
        dementia INTEGER NOT NULL,
        effective_from TEXT NOT NULL,
        decided_on TEXT NOT NULL,
        PRIMARY KEY (beneficiary_id, application_id))",
    "CREATE TABLE ltc_care_plans (
        id TEXT PRIMARY KEY,
        beneficiary_id TEXT NOT NULL,
        institution_code TEXT NOT NULL,
        care_type TEXT NOT NULL,
        start_date TEXT NOT NULL,
        end_date TEXT,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        at TEXT NOT NULL)",
    "CREATE INDEX ltc_care_plans_beneficiary ON ltc_care_plans (beneficiary_id, start_date)",
    "CREATE INDEX ltc_care_plans_institution ON ltc_care_plans (institution_code)",
    // Care-service records. `revision` comes from one counter, taken again by a correction: a
    // settled line remembers the highest revision and the count of the records it covered, so a
    // run re-settles exactly the beneficiaries whose records changed, without writing records.
    "CREATE TABLE ltc_records (
        institution_code TEXT NOT NULL,
        record_no TEXT NOT NULL,
        beneficiary_id TEXT NOT NULL,
        region_code TEXT NOT NULL,
        care_type TEXT NOT NULL,
        service_date TEXT NOT NULL,
        month TEXT NOT NULL,
        units BIGINT NOT NULL,
        amount_fen BIGINT NOT NULL,
        items_json TEXT NOT NULL,
        status TEXT NOT NULL,
        flag_code TEXT NOT NULL,
        revision BIGINT NOT NULL,
        uploaded_at TEXT NOT NULL,
        PRIMARY KEY (institution_code, record_no))",
    // Covers the monthly settlement's read: the month of an institution is read from the index
    // alone, in beneficiary order.
    "CREATE INDEX ltc_records_institution_month ON ltc_records (institution_code, month, status, beneficiary_id, care_type, units, amount_fen, service_date, revision)",
    "CREATE INDEX ltc_records_beneficiary_month ON ltc_records (beneficiary_id, month)",
    "CREATE TABLE ltc_counters (
        name TEXT PRIMARY KEY,
        value BIGINT NOT NULL)",
    "INSERT INTO ltc_counters (name, value) VALUES ('record_revision', 0)",
    // One row per institution × month, locked by each settlement run of it: concurrent runs of
    // the same month queue instead of settling the same records twice.
    "CREATE TABLE ltc_month_locks (
        institution_code TEXT NOT NULL,
        month TEXT NOT NULL,
        last_run_at TEXT NOT NULL,
        PRIMARY KEY (institution_code, month))",
    "CREATE TABLE ltc_record_corrections (
        institution_code TEXT NOT NULL,
        record_no TEXT NOT NULL,
        seq INTEGER NOT NULL,
        old_units BIGINT NOT NULL,
        old_amount_fen BIGINT NOT NULL,
        new_units BIGINT NOT NULL,
        new_amount_fen BIGINT NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (institution_code, record_no, seq))",
    "CREATE TABLE ltc_settlements (
        id TEXT PRIMARY KEY,
        request_id TEXT NOT NULL UNIQUE,
        institution_code TEXT NOT NULL,
        month TEXT NOT NULL,
        kind TEXT NOT NULL,
        reverses_id TEXT,
        reversed INTEGER NOT NULL,
        billed_fen BIGINT NOT NULL,
        fund_fen BIGINT NOT NULL,
        person_fen BIGINT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        at TEXT NOT NULL)",
    "CREATE INDEX ltc_settlements_institution ON ltc_settlements (institution_code, month)",
    "CREATE TABLE ltc_lines (
        id TEXT PRIMARY KEY,
        settlement_id TEXT NOT NULL,
        beneficiary_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        reverses_line_id TEXT,
        reversed_by TEXT,
        institution_code TEXT NOT NULL,
        region_code TEXT NOT NULL,
        month TEXT NOT NULL,
        level INTEGER NOT NULL,
        units BIGINT NOT NULL,
        billed_fen BIGINT NOT NULL,
        fund_before_cap_fen BIGINT NOT NULL,
        fund_fen BIGINT NOT NULL,
        person_fen BIGINT NOT NULL,
        capped_fen BIGINT NOT NULL,
        period_start TEXT NOT NULL,
        period_end TEXT NOT NULL,
        max_revision BIGINT NOT NULL,
        record_count BIGINT NOT NULL,
        UNIQUE (settlement_id, beneficiary_id, kind))",
    "CREATE INDEX ltc_lines_beneficiary_month ON ltc_lines (month, beneficiary_id)",
    "CREATE INDEX ltc_lines_region_month ON ltc_lines (month, region_code)",
    "CREATE INDEX ltc_lines_institution_month ON ltc_lines (institution_code, month, kind)",
    // Inpatient stays settled by settlement (consumed from `yibao.settlement.claims`).
    "CREATE TABLE ltc_hospital_stays (
        claim_id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        admitted TEXT NOT NULL,
        discharged TEXT NOT NULL,
        reversed INTEGER NOT NULL,
        event_id TEXT NOT NULL)",
    "CREATE INDEX ltc_hospital_stays_person ON ltc_hospital_stays (person_id)",
    "CREATE TABLE ltc_outbox (
        id TEXT PRIMARY KEY,
        stream TEXT NOT NULL,
        event_id TEXT NOT NULL,
        payload_hex TEXT NOT NULL,
        created_at TEXT NOT NULL,
        published_at TEXT)",
    "CREATE INDEX ltc_outbox_unpublished ON ltc_outbox (published_at, id)",
];

/// Dropped by `down`, in order.
const TABLES: &[&str] = &[
    "ltc_outbox",
    "ltc_hospital_stays",
    "ltc_lines",
    "ltc_settlements",
    "ltc_record_corrections",
    "ltc_month_locks",
    "ltc_counters",
    "ltc_records",
    "ltc_care_plans",
    "ltc_levels",
    "ltc_beneficiaries",
    "ltc_score_sheets",
    "ltc_assessment_assignees",
    "ltc_assessments",
    "ltc_application_steps",
    "ltc_applications",
    "ltc_policies",
];
