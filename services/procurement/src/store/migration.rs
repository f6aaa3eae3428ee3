//! Schema of the procurement database. Portable DDL (PostgreSQL and SQLite): dates are ISO
//! `YYYY-MM-DD` text (which sorts as dates), money is BIGINT fen, rates BIGINT basis points,
//! quantities BIGINT, flags BIGINT 0/1, times RFC 3339 text. Rules and outcomes that are read
//! whole are JSON text; everything queried by key has its own columns.

use yibao_runtime::db::SqlMigration;

yibao_runtime::migrator!(
    Migrator,
    "procurement_migrations",
    [
        INITIAL,
        yibao_runtime::outbox::MIGRATION,
        OUTBOX_TO_RUNTIME,
        yibao_runtime::outbox::SEQUENCE_MIGRATION,
        CATALOGUE_VERSIONS,
        yibao_runtime::outbox::TRACE_MIGRATION
    ]
);

/// The service's own tables.
const INITIAL: SqlMigration = SqlMigration {
    name: "m20261123_000001_procurement_initial",
    up: UP,
    drop_tables: TABLES,
};

/// Moves the events the service's own `outbox` table still holds unpublished into the
/// runtime's `event_outbox` (same event ids, so nothing is published twice; ids that sort
/// before every UUIDv7 and among themselves in the old order), then drops the old table.
const OUTBOX_TO_RUNTIME: SqlMigration = SqlMigration {
    name: "m20261201_000002_procurement_outbox_to_event_outbox",
    up: &[
        "INSERT INTO event_outbox (id, stream, event_id, payload_hex, created_at, attempts, published_at) \
         SELECT '0000-' || created_at || '-' || event_id, stream, event_id, payload_hex, created_at, 0, NULL \
         FROM outbox WHERE published_at IS NULL ON CONFLICT (event_id) DO NOTHING",
        "DROP TABLE outbox",
    ],
    drop_tables: &[],
};

/// The catalogue becomes the one medical-insurance catalogue (decision 0009): versions per
/// region and first day with the first self-pay share, the payment standard and the payment
/// restrictions, and the trail of every change. The entries of `catalogue_items` carry over as
/// versions without share, standard or restrictions, then the old table goes.
const CATALOGUE_VERSIONS: SqlMigration = SqlMigration {
    name: "m20261210_000003_procurement_catalogue_versions",
    up: &[
        "CREATE TABLE catalogue_entries (
            region_code TEXT NOT NULL,
            code TEXT NOT NULL,
            valid_from TEXT NOT NULL,
            valid_to TEXT,
            kind TEXT NOT NULL,
            generic_name TEXT NOT NULL,
            dosage_form TEXT NOT NULL,
            specification TEXT NOT NULL,
            manufacturer TEXT NOT NULL,
            insurance_class TEXT NOT NULL,
            negotiated BIGINT NOT NULL,
            preselfpay_share_bp BIGINT,
            payment_standard_fen BIGINT,
            restrict_sex TEXT,
            restrict_min_age BIGINT,
            restrict_max_age BIGINT,
            restrict_min_grade BIGINT,
            indication TEXT NOT NULL,
            indication_diagnoses TEXT NOT NULL,
            max_days_supply BIGINT,
            updated_by TEXT NOT NULL,
            updated_role TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (region_code, code, valid_from))",
        "CREATE INDEX catalogue_entries_code ON catalogue_entries (code)",
        "CREATE INDEX catalogue_entries_generic ON catalogue_entries (region_code, generic_name)",
        "INSERT INTO catalogue_entries (region_code, code, valid_from, valid_to, kind, generic_name, \
         dosage_form, specification, manufacturer, insurance_class, negotiated, indication, \
         indication_diagnoses, updated_by, updated_role, updated_at) \
         SELECT region_code, code, valid_from, valid_to, kind, generic_name, dosage_form, \
         specification, manufacturer, insurance_class, negotiated, '', '', updated_by, \
         updated_role, updated_at FROM catalogue_items",
        "DROP TABLE catalogue_items",
        // Who changed which version, when, from what to what (JSON of the domain's entry).
        "CREATE TABLE catalogue_changes (
            id TEXT PRIMARY KEY,
            region_code TEXT NOT NULL,
            code TEXT NOT NULL,
            valid_from TEXT NOT NULL,
            change_kind TEXT NOT NULL,
            before_json TEXT,
            after_json TEXT NOT NULL,
            source TEXT NOT NULL,
            changed_by TEXT NOT NULL,
            changed_role TEXT NOT NULL,
            changed_at TEXT NOT NULL)",
        "CREATE INDEX catalogue_changes_region ON catalogue_changes (region_code, id)",
        "CREATE INDEX catalogue_changes_code ON catalogue_changes (code, id)",
    ],
    drop_tables: &["catalogue_changes", "catalogue_entries"],
};

/// Dropped by `down`, newest first.
const TABLES: &[&str] = &[
    "outbox",
    "retained_savings",
    "opening_stocks",
    "inventory_records",
    "payment_standards",
    "listed_prices",
    "reference_prices",
    "allocations",
    "group_outcomes",
    "bids",
    "demands",
    "round_groups",
    "rounds",
    "catalogue_items",
    "service_meta",
];

const UP: &[&str] = &[
    // Facts about this database, e.g. the namespace of its cache keys.
    "CREATE TABLE service_meta (
        meta_key TEXT PRIMARY KEY,
        meta_value TEXT NOT NULL)",
    // Catalogue entries per region with their validity.
    "CREATE TABLE catalogue_items (
        region_code TEXT NOT NULL,
        code TEXT NOT NULL,
        kind TEXT NOT NULL,
        generic_name TEXT NOT NULL,
        dosage_form TEXT NOT NULL,
        specification TEXT NOT NULL,
        manufacturer TEXT NOT NULL,
        insurance_class TEXT NOT NULL,
        negotiated BIGINT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT,
        updated_by TEXT NOT NULL,
        updated_role TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (region_code, code))",
    "CREATE INDEX catalogue_items_generic ON catalogue_items (region_code, generic_name)",
    // Rounds with their rules as JSON (the domain's RoundRules).
    "CREATE TABLE rounds (
        id TEXT PRIMARY KEY,
        region_code TEXT NOT NULL,
        name TEXT NOT NULL,
        rules_json TEXT NOT NULL,
        contract_start TEXT NOT NULL,
        contract_end TEXT NOT NULL,
        status TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_role TEXT NOT NULL,
        created_at TEXT NOT NULL,
        selected_by TEXT,
        selected_role TEXT,
        selected_at TEXT)",
    "CREATE INDEX rounds_region ON rounds (region_code)",
    "CREATE TABLE round_groups (
        round_id TEXT NOT NULL,
        group_id TEXT NOT NULL,
        generic_name TEXT NOT NULL,
        specification TEXT NOT NULL,
        highest_valid_price_fen BIGINT NOT NULL,
        category TEXT NOT NULL,
        PRIMARY KEY (round_id, group_id))",
    // One report per institution and group; a repeat replaces it.
    "CREATE TABLE demands (
        round_id TEXT NOT NULL,
        group_id TEXT NOT NULL,
        institution_code TEXT NOT NULL,
        quantity BIGINT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (round_id, group_id, institution_code))",
    // One bid per manufacturer and group; a resubmission before selection replaces it.
    "CREATE TABLE bids (
        id TEXT PRIMARY KEY,
        round_id TEXT NOT NULL,
        group_id TEXT NOT NULL,
        manufacturer_code TEXT NOT NULL,
        item_code TEXT NOT NULL,
        unit_price_fen BIGINT NOT NULL,
        declared_price_fen BIGINT NOT NULL,
        submitted_at TEXT NOT NULL,
        UNIQUE (round_id, group_id, manufacturer_code))",
    // The outcome of each group (winners, every bid with its explanation, allocations) as
    // the domain's GroupOutcome JSON: written once by the selection, never changed.
    "CREATE TABLE group_outcomes (
        round_id TEXT NOT NULL,
        group_id TEXT NOT NULL,
        outcome_json TEXT NOT NULL,
        PRIMARY KEY (round_id, group_id))",
    // Agreed volumes per institution, queried by completion and savings.
    "CREATE TABLE allocations (
        round_id TEXT NOT NULL,
        group_id TEXT NOT NULL,
        institution_code TEXT NOT NULL,
        demand_quantity BIGINT NOT NULL,
        agreed_volume BIGINT NOT NULL,
        PRIMARY KEY (round_id, group_id, institution_code))",
    "CREATE INDEX allocations_institution ON allocations (institution_code, round_id)",
    // Ceilings and guide prices with effective periods; `closed_id` is the open-ended
    // reference this one ended (so a retried request answers as the first one did).
    "CREATE TABLE reference_prices (
        id TEXT PRIMARY KEY,
        region_code TEXT NOT NULL,
        item_code TEXT NOT NULL,
        kind TEXT NOT NULL,
        price_fen BIGINT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT,
        closed_id TEXT,
        updated_by TEXT NOT NULL,
        updated_role TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (region_code, item_code, kind, valid_from))",
    "CREATE TABLE listed_prices (
        id TEXT PRIMARY KEY,
        region_code TEXT NOT NULL,
        item_code TEXT NOT NULL,
        manufacturer_code TEXT NOT NULL,
        price_fen BIGINT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT,
        updated_by TEXT NOT NULL,
        updated_role TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (region_code, item_code, valid_from))",
    // Payment standards with their history: a change closes the open-ended standard the day
    // before (`closed_id`), nothing is overwritten.
    "CREATE TABLE payment_standards (
        id TEXT PRIMARY KEY,
        region_code TEXT NOT NULL,
        item_code TEXT NOT NULL,
        amount_fen BIGINT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_to TEXT,
        basis TEXT NOT NULL,
        closed_id TEXT,
        updated_by TEXT NOT NULL,
        updated_role TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (region_code, item_code, valid_from))",
    // Purchase-sale-inventory records, idempotent on the institution's record number.
    "CREATE TABLE inventory_records (
        institution_code TEXT NOT NULL,
        record_no TEXT NOT NULL,
        item_code TEXT NOT NULL,
        record_date TEXT NOT NULL,
        movement TEXT NOT NULL,
        quantity BIGINT NOT NULL,
        unit_price_fen BIGINT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (institution_code, record_no))",
    "CREATE INDEX inventory_records_item ON inventory_records (institution_code, item_code, record_date)",
    "CREATE TABLE opening_stocks (
        institution_code TEXT NOT NULL,
        item_code TEXT NOT NULL,
        as_of_date TEXT NOT NULL,
        quantity BIGINT NOT NULL,
        unit_cost_fen BIGINT NOT NULL,
        PRIMARY KEY (institution_code, item_code, as_of_date))",
    // Retained savings per round and institution (the last computation that was stored).
    "CREATE TABLE retained_savings (
        round_id TEXT NOT NULL,
        institution_code TEXT NOT NULL,
        budget_fen BIGINT NOT NULL,
        actual_fen BIGINT NOT NULL,
        saving_fen BIGINT NOT NULL,
        completed BIGINT NOT NULL,
        retained_fen BIGINT NOT NULL,
        result_json TEXT NOT NULL,
        computed_by TEXT NOT NULL,
        computed_at TEXT NOT NULL,
        PRIMARY KEY (round_id, institution_code))",
    // Events written in the same transaction as the records they come from; a relay
    // publishes them to the bus and marks them. Payload: protobuf bytes as hex.
    "CREATE TABLE outbox (
        event_id TEXT PRIMARY KEY,
        stream TEXT NOT NULL,
        payload_hex TEXT NOT NULL,
        created_at TEXT NOT NULL,
        published_at TEXT)",
    "CREATE INDEX outbox_unpublished ON outbox (published_at, created_at)",
];
