//! Schema of the settlement database. Portable DDL (PostgreSQL and SQLite): dates are ISO
//! `YYYY-MM-DD` text (which sorts as dates), months `YYYY-MM`, money is BIGINT fen, times are
//! RFC 3339 text, structured snapshots (a settlement, accumulators) are JSON text.

use yibao_runtime::db::SqlMigration;

yibao_runtime::migrator!(
    Migrator,
    "settlement_migrations",
    [
        INITIAL,
        yibao_runtime::outbox::MIGRATION,
        OUTBOX_TO_RUNTIME,
        yibao_runtime::outbox::SEQUENCE_MIGRATION,
        MONTH_PAGES,
        yibao_runtime::outbox::TRACE_MIGRATION,
        RETIRE_CATALOGUE,
        CARE_ENCOUNTERS
    ]
);

/// The schema as first released.
const INITIAL: SqlMigration = SqlMigration {
    name: "m20261123_000001_settlement_initial",
    up: UP,
    drop_tables: TABLES,
};

/// Moves the events the service's own outbox still held into the runtime's `event_outbox`
/// (the row id was the event id, a UUIDv7, so the order of writing is kept) and drops it.
const OUTBOX_TO_RUNTIME: SqlMigration = SqlMigration {
    name: "m20261201_000002_settlement_outbox_to_runtime",
    up: &[
        "INSERT INTO event_outbox (id, stream, event_id, payload_hex, created_at, attempts, published_at) \
         SELECT id, stream, id, payload_hex, created_at, attempts, published_at FROM outbox WHERE published_at IS NULL \
         ON CONFLICT (event_id) DO NOTHING",
        "DROP TABLE outbox",
    ],
    drop_tables: &[],
};

/// Indexes that serve a month's keyset pages in key order (`store::months`): the claims of a
/// month by claim id (a region's reconciliation, an institution's statement), its reversals
/// and its ledger lines by claim id.
const MONTH_PAGES: SqlMigration = SqlMigration {
    name: "m20261210_000003_settlement_month_pages",
    up: &[
        "CREATE INDEX claims_month_claim ON claims (month, claim_id)",
        "CREATE INDEX claims_institution_month_claim ON claims (institution_code, month, claim_id)",
        "CREATE INDEX reversals_month_claim ON reversals (month, claim_id, institution_code, reversal_no)",
        "CREATE INDEX reversals_institution_month_claim ON reversals (institution_code, month, claim_id, reversal_no)",
        "CREATE INDEX ledger_month_claim ON ledger_lines (month, claim_id, id)",
    ],
    drop_tables: &[],
};

/// Settlement's own catalogue is retired: the class, payment standard and first self-pay share
/// of claim items come from procurement's catalogue (decision 0009).
const RETIRE_CATALOGUE: SqlMigration = SqlMigration {
    name: "m20261212_000004_settlement_retire_catalogue",
    up: &["DROP TABLE catalogue_items"],
    drop_tables: &[],
};

/// The encounter lifecycle the national interface drives (`store::care`): encounters opened by
/// registration or admission, their fee lines uploaded in parts, the settlements made of them,
/// and the requests undone by reference (2601). `care_` because `encounters` is the claims'
/// idempotency key.
const CARE_ENCOUNTERS: SqlMigration = SqlMigration {
    name: "m20261202_000005_settlement_care_encounters",
    up: &[
        "CREATE TABLE care_encounters (
            encounter_id TEXT PRIMARY KEY,
            institution_code TEXT NOT NULL,
            encounter_no TEXT NOT NULL,
            id_number TEXT NOT NULL,
            person_id TEXT NOT NULL,
            insured_region TEXT NOT NULL,
            kind TEXT NOT NULL,
            disease_code TEXT NOT NULL,
            start_date TEXT NOT NULL,
            end_date TEXT,
            diagnoses_json TEXT NOT NULL,
            physician_code TEXT NOT NULL,
            status TEXT NOT NULL,
            open_ref TEXT NOT NULL,
            opened_by TEXT NOT NULL,
            opened_role TEXT NOT NULL,
            opened_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (institution_code, encounter_no))",
        "CREATE INDEX care_encounters_person ON care_encounters (person_id, institution_code)",
        "CREATE INDEX care_encounters_ref ON care_encounters (institution_code, open_ref)",
        "CREATE TABLE care_fee_lines (
            encounter_id TEXT NOT NULL,
            feedetl_sn TEXT NOT NULL,
            seq INTEGER NOT NULL,
            fee_date TEXT NOT NULL,
            national_code TEXT NOT NULL,
            name TEXT NOT NULL,
            quantity BIGINT NOT NULL,
            unit_price_fen BIGINT NOT NULL,
            amount_fen BIGINT NOT NULL,
            charge_category TEXT NOT NULL,
            days_supply INTEGER,
            upload_ref TEXT NOT NULL,
            cancelled_at TEXT,
            PRIMARY KEY (encounter_id, feedetl_sn))",
        "CREATE INDEX care_fee_lines_ref ON care_fee_lines (upload_ref, encounter_id)",
        "CREATE TABLE care_settlements (
            claim_id TEXT PRIMARY KEY,
            encounter_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            institution_code TEXT NOT NULL,
            request_ref TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (encounter_id, seq))",
        "CREATE INDEX care_settlements_ref ON care_settlements (institution_code, request_ref)",
        "CREATE TABLE care_undone (
            institution_code TEXT NOT NULL,
            reversal_ref TEXT NOT NULL,
            request_ref TEXT NOT NULL,
            undone TEXT NOT NULL,
            encounter_id TEXT NOT NULL,
            claim_id TEXT NOT NULL,
            refund_json TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (institution_code, reversal_ref))",
    ],
    drop_tables: &[
        "care_undone",
        "care_settlements",
        "care_fee_lines",
        "care_encounters",
    ],
};

const UP: &[&str] = &[
    // Versioned policy documents (data, not code).
    "CREATE TABLE policies (
        policy_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        name TEXT NOT NULL,
        region_code TEXT NOT NULL,
        year INTEGER NOT NULL,
        scheme TEXT NOT NULL,
        effective_from TEXT NOT NULL,
        document_json TEXT NOT NULL,
        uploaded_by TEXT NOT NULL,
        uploaded_role TEXT NOT NULL,
        uploaded_at TEXT NOT NULL,
        PRIMARY KEY (policy_id, version))",
    "CREATE INDEX policies_lookup ON policies (scheme, year, region_code)",
    // Catalogue entries of a region with their payment standard by date.
    "CREATE TABLE catalogue_items (
        region_code TEXT NOT NULL,
        national_code TEXT NOT NULL,
        effective_from TEXT NOT NULL,
        name TEXT NOT NULL,
        item_class TEXT NOT NULL,
        payment_standard_fen BIGINT,
        preselfpay_share_bp BIGINT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (region_code, national_code, effective_from))",
    // The current claim of an encounter: the idempotency key of Settle.
    "CREATE TABLE encounters (
        institution_code TEXT NOT NULL,
        encounter_no TEXT NOT NULL,
        claim_id TEXT NOT NULL,
        PRIMARY KEY (institution_code, encounter_no))",
    "CREATE TABLE claims (
        claim_id TEXT PRIMARY KEY,
        institution_code TEXT NOT NULL,
        encounter_no TEXT NOT NULL,
        id_number TEXT NOT NULL,
        person_id TEXT NOT NULL,
        insured_region TEXT NOT NULL,
        treatment_region TEXT NOT NULL,
        kind TEXT NOT NULL,
        scheme TEXT NOT NULL,
        year INTEGER NOT NULL,
        settled_on TEXT NOT NULL,
        month TEXT NOT NULL,
        status TEXT NOT NULL,
        medfee_sumamt_fen BIGINT NOT NULL,
        fund_pay_sumamt_fen BIGINT NOT NULL,
        psn_part_amt_fen BIGINT NOT NULL,
        insurer_pay_fen BIGINT NOT NULL,
        claim_json TEXT NOT NULL,
        eligibility_json TEXT NOT NULL,
        settlement_json TEXT NOT NULL,
        current_json TEXT,
        superseded_by TEXT,
        corrects TEXT,
        settled_by TEXT NOT NULL,
        settled_role TEXT NOT NULL,
        settled_at TEXT NOT NULL)",
    "CREATE INDEX claims_institution_month ON claims (institution_code, month)",
    "CREATE INDEX claims_region_month ON claims (insured_region, month)",
    "CREATE TABLE claim_items (
        claim_id TEXT NOT NULL,
        item_index INTEGER NOT NULL,
        national_code TEXT NOT NULL,
        name TEXT NOT NULL,
        item_class TEXT NOT NULL,
        quantity BIGINT NOT NULL,
        unit_price_fen BIGINT NOT NULL,
        amount_fen BIGINT NOT NULL,
        payment_standard_fen BIGINT,
        fulamt_ownpay_amt_fen BIGINT NOT NULL,
        overlmt_selfpay_fen BIGINT NOT NULL,
        preselfpay_amt_fen BIGINT NOT NULL,
        inscp_scp_amt_fen BIGINT NOT NULL,
        PRIMARY KEY (claim_id, item_index))",
    // One explanation per amount of a settlement (or of a re-settlement after a refund).
    "CREATE TABLE breakdown_lines (
        claim_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        field TEXT NOT NULL,
        rule TEXT NOT NULL,
        amount_fen BIGINT NOT NULL,
        base_fen BIGINT NOT NULL,
        less_fen BIGINT NOT NULL,
        rate_bp BIGINT,
        limit_fen BIGINT,
        text TEXT NOT NULL,
        PRIMARY KEY (claim_id, revision, seq))",
    "CREATE TABLE reversals (
        claim_id TEXT NOT NULL,
        institution_code TEXT NOT NULL,
        reversal_no TEXT NOT NULL,
        month TEXT NOT NULL,
        item_indexes TEXT NOT NULL,
        refund_json TEXT NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (institution_code, reversal_no))",
    "CREATE INDEX reversals_claim ON reversals (claim_id)",
    // Annual counters of a person × year × insured region; `version` increments per change.
    "CREATE TABLE accumulators (
        id_number TEXT NOT NULL,
        year INTEGER NOT NULL,
        region_code TEXT NOT NULL,
        version BIGINT NOT NULL,
        data_json TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (id_number, year, region_code))",
    // Double-entry fund ledger: each posting debits the fund and credits the institution's
    // payable with the same amount; reversals post the opposite signs.
    "CREATE TABLE ledger_lines (
        id TEXT PRIMARY KEY,
        posting_id TEXT NOT NULL,
        claim_id TEXT NOT NULL,
        month TEXT NOT NULL,
        region_code TEXT NOT NULL,
        institution_code TEXT NOT NULL,
        scheme TEXT NOT NULL,
        fund_pay_type TEXT NOT NULL,
        account TEXT NOT NULL,
        debit_fen BIGINT NOT NULL,
        credit_fen BIGINT NOT NULL,
        created_at TEXT NOT NULL)",
    "CREATE INDEX ledger_region_month ON ledger_lines (region_code, month)",
    "CREATE INDEX ledger_claim ON ledger_lines (claim_id)",
    "CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        stream TEXT NOT NULL,
        claim_id TEXT NOT NULL,
        payload_hex TEXT NOT NULL,
        created_at TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        published_at TEXT)",
    "CREATE INDEX outbox_unpublished ON outbox (published_at, id)",
    "CREATE TABLE supplement_members (
        product_code TEXT NOT NULL,
        insurer_code TEXT NOT NULL,
        id_number TEXT NOT NULL,
        year INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (product_code, id_number, year))",
    "CREATE TABLE insurer_claims (
        claim_id TEXT NOT NULL,
        product_code TEXT NOT NULL,
        insurer_code TEXT NOT NULL,
        institution_code TEXT NOT NULL,
        region_code TEXT NOT NULL,
        settled_on TEXT NOT NULL,
        month TEXT NOT NULL,
        id_number_masked TEXT NOT NULL,
        covered_base_fen BIGINT NOT NULL,
        deductible_fen BIGINT NOT NULL,
        rate_bp BIGINT NOT NULL,
        insurer_pay_fen BIGINT NOT NULL,
        status TEXT NOT NULL,
        disputed_fen BIGINT NOT NULL,
        dispute_reason TEXT NOT NULL,
        PRIMARY KEY (claim_id, product_code))",
    "CREATE INDEX insurer_claims_month ON insurer_claims (insurer_code, month)",
    "CREATE TABLE disputes (
        id TEXT PRIMARY KEY,
        claim_id TEXT NOT NULL,
        product_code TEXT NOT NULL,
        insurer_code TEXT NOT NULL,
        amount_fen BIGINT NOT NULL,
        reason TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL)",
    "CREATE TABLE reconciliation_runs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        scope TEXT NOT NULL,
        month TEXT NOT NULL,
        result_json TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL)",
];

const TABLES: &[&str] = &[
    "reconciliation_runs",
    "disputes",
    "insurer_claims",
    "supplement_members",
    "outbox",
    "ledger_lines",
    "accumulators",
    "reversals",
    "breakdown_lines",
    "claim_items",
    "claims",
    "encounters",
    "catalogue_items",
    "policies",
];
