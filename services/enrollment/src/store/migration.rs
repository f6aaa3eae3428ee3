//! Schema of the enrollment database. Portable DDL (PostgreSQL and SQLite): dates are ISO
//! `YYYY-MM-DD` text (which sorts as dates), money is BIGINT fen, times are RFC 3339 text.

use yibao_runtime::db::SqlMigration;

yibao_runtime::migrator!(
    Migrator,
    "enrollment_migrations",
    [
        INITIAL,
        CACHE_EPOCHS,
        REGISTRY,
        CERTIFICATIONS,
        INTERFACE_CREDENTIALS,
        // The consumer of supervision's sanctions keeps its inbox state here.
        yibao_runtime::inbox::MIGRATION
    ]
);

/// Institutions' national-interface credentials (`store::credentials`), in portable SQL: every
/// credential issued, the replaced ones with their revocation; the partial unique index keeps
/// one in force per institution.
const INTERFACE_CREDENTIALS: SqlMigration = SqlMigration {
    name: "m20261216_000005_enrollment_interface_credentials",
    up: &[
        "CREATE TABLE interface_credentials (
        paasid TEXT PRIMARY KEY,
        paas_token TEXT NOT NULL,
        institution_code TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        issued_by TEXT NOT NULL,
        issued_role TEXT NOT NULL,
        revoked_at TEXT,
        revoked_by TEXT,
        revoked_role TEXT)",
        "CREATE UNIQUE INDEX interface_credentials_in_force ON interface_credentials (institution_code) WHERE revoked_at IS NULL",
    ],
    drop_tables: &["interface_credentials"],
};

/// A person's chronic/special-disease certifications and cross-region filings
/// (`store::certifications`), in portable SQL.
const CERTIFICATIONS: SqlMigration = SqlMigration {
    name: "m20261215_000004_enrollment_certifications",
    up: &[
        "CREATE TABLE chronic_certifications (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        disease_code TEXT NOT NULL,
        certifying_institution_code TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT,
        status TEXT NOT NULL,
        revoke_reason TEXT NOT NULL,
        revoked_at TEXT,
        created_at TEXT NOT NULL,
        actor TEXT NOT NULL)",
        "CREATE INDEX chronic_certifications_person ON chronic_certifications (person_id, disease_code)",
        "CREATE TABLE cross_region_filings (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        destination_region_code TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT,
        status TEXT NOT NULL,
        revoke_reason TEXT NOT NULL,
        revoked_at TEXT,
        created_at TEXT NOT NULL,
        actor TEXT NOT NULL)",
        "CREATE INDEX cross_region_filings_person ON cross_region_filings (person_id)",
    ],
    drop_tables: &["cross_region_filings", "chronic_certifications"],
};

/// The designated-institution registry (`store::registry`) and insurance physicians
/// (`store::physicians`), in portable SQL.
const REGISTRY: SqlMigration = SqlMigration {
    name: "m20261215_000003_enrollment_registry",
    up: &[
        "CREATE TABLE institutions (
        code TEXT PRIMARY KEY,
        region_code TEXT NOT NULL,
        kind TEXT NOT NULL,
        created_at TEXT NOT NULL)",
        "CREATE INDEX institutions_region ON institutions (region_code, code)",
        "CREATE TABLE institution_versions (
        code TEXT NOT NULL,
        effective_from TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        grade TEXT NOT NULL,
        tier TEXT NOT NULL,
        region_code TEXT NOT NULL,
        beds BIGINT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (code, effective_from))",
        "CREATE TABLE institution_agreements (
        code TEXT NOT NULL,
        agreement_no TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT NOT NULL,
        schemes TEXT NOT NULL,
        service_kinds TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (code, agreement_no))",
        "CREATE TABLE institution_status_changes (
        code TEXT NOT NULL,
        seq BIGINT NOT NULL,
        status TEXT NOT NULL,
        effective_on TEXT NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (code, seq))",
        "CREATE TABLE institution_history (
        id TEXT PRIMARY KEY,
        code TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail_json TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        at TEXT NOT NULL)",
        "CREATE INDEX institution_history_code ON institution_history (code, id)",
        "CREATE TABLE physicians (
        code TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        institution_code TEXT NOT NULL,
        status TEXT NOT NULL,
        status_reason TEXT NOT NULL,
        updated_at TEXT NOT NULL)",
        "CREATE INDEX physicians_institution ON physicians (institution_code, code)",
    ],
    drop_tables: &[
        "physicians",
        "institution_history",
        "institution_status_changes",
        "institution_agreements",
        "institution_versions",
        "institutions",
    ],
};

/// The epoch of each cache, part of its keys (`store::cache_epochs`).
const CACHE_EPOCHS: SqlMigration = SqlMigration {
    name: "m20261210_000002_enrollment_cache_epochs",
    up: &["CREATE TABLE cache_epochs (
        name TEXT PRIMARY KEY,
        epoch BIGINT NOT NULL)"],
    drop_tables: &["cache_epochs"],
};

/// The tables of the service, as first released.
const INITIAL: SqlMigration = SqlMigration {
    name: "m20261123_000001_enrollment_initial",
    up: UP,
    drop_tables: TABLES,
};

const UP: &[&str] = &[
    "CREATE TABLE persons (
        id TEXT PRIMARY KEY,
        id_number TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        sex TEXT NOT NULL,
        birth_date TEXT NOT NULL,
        region_code TEXT NOT NULL,
        household_id TEXT,
        contact TEXT NOT NULL DEFAULT '',
        death_date TEXT,
        moved_out_of_province TEXT,
        suspensions_json TEXT NOT NULL DEFAULT '[]',
        version BIGINT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL)",
    "CREATE INDEX persons_region ON persons (region_code)",
    "CREATE INDEX persons_household ON persons (household_id)",
    "CREATE TABLE person_versions (
        person_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        snapshot_json TEXT NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (person_id, version))",
    "CREATE TABLE history (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail_json TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        at TEXT NOT NULL)",
    "CREATE INDEX history_person ON history (person_id, id)",
    "CREATE TABLE households (
        id TEXT PRIMARY KEY,
        region_code TEXT NOT NULL,
        address TEXT NOT NULL,
        head_person_id TEXT,
        created_at TEXT NOT NULL)",
    "CREATE TABLE categories (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        category TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT,
        created_at TEXT NOT NULL)",
    "CREATE INDEX categories_person ON categories (person_id)",
    "CREATE TABLE contribution_standards (
        region_code TEXT NOT NULL,
        year INTEGER NOT NULL,
        scheme TEXT NOT NULL,
        individual_amount_fen BIGINT NOT NULL,
        waiting_days INTEGER NOT NULL,
        PRIMARY KEY (region_code, year, scheme))",
    "CREATE TABLE enrolments (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        year INTEGER NOT NULL,
        scheme TEXT NOT NULL,
        region_code TEXT NOT NULL,
        enrolled_on TEXT NOT NULL,
        effective_from TEXT NOT NULL,
        effective_to TEXT NOT NULL,
        due_fen BIGINT NOT NULL,
        paid_fen BIGINT NOT NULL,
        subsidised_fen BIGINT NOT NULL,
        paid_on TEXT,
        end_reason TEXT,
        created_at TEXT NOT NULL)",
    "CREATE INDEX enrolments_person ON enrolments (person_id, year)",
    "CREATE INDEX enrolments_year_region ON enrolments (year, region_code)",
    "CREATE TABLE contributions (
        id TEXT PRIMARY KEY,
        enrolment_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        amount_fen BIGINT NOT NULL,
        paid_on TEXT NOT NULL,
        reference TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (enrolment_id, reference))",
    "CREATE TABLE status_events (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        effective_on TEXT NOT NULL,
        detail_json TEXT NOT NULL,
        created_at TEXT NOT NULL)",
    "CREATE INDEX status_events_person ON status_events (person_id)",
    "CREATE TABLE vouchers (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        revoked_at TEXT,
        revoke_reason TEXT)",
    "CREATE TABLE duplicate_tasks (
        id TEXT PRIMARY KEY,
        person_id TEXT NOT NULL,
        year INTEGER NOT NULL,
        kind TEXT NOT NULL,
        keep_enrolment_id TEXT NOT NULL,
        drop_enrolment_id TEXT NOT NULL,
        rationale TEXT NOT NULL,
        state TEXT NOT NULL,
        region_code TEXT NOT NULL,
        steps_json TEXT NOT NULL,
        UNIQUE (keep_enrolment_id, drop_enrolment_id))",
    "CREATE INDEX duplicate_tasks_region ON duplicate_tasks (region_code, state)",
    "CREATE TABLE coverage_targets (
        region_code TEXT NOT NULL,
        year INTEGER NOT NULL,
        scheme TEXT NOT NULL,
        category TEXT NOT NULL,
        target BIGINT NOT NULL,
        PRIMARY KEY (region_code, year, scheme, category))",
];

const TABLES: &[&str] = &[
    "coverage_targets",
    "duplicate_tasks",
    "vouchers",
    "status_events",
    "contributions",
    "enrolments",
    "contribution_standards",
    "categories",
    "households",
    "history",
    "person_versions",
    "persons",
];
