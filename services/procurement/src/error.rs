//! Every stable error code the procurement service answers with, declared once (the catalogue
//! `docs/errors.md` is generated from [`CODES`]). The runtime's own codes (authentication,
//! roles, tenancy, pages, `INTERNAL`) live in `yibao_runtime::error::codes`.
//!
//! The kind given here is the one a code is answered with; `PROCUREMENT_ITEM_NOT_FOUND` is
//! also the code of a bid or listing refused for naming an uncatalogued item (then
//! `INVALID_ARGUMENT`, with the field).

yibao_runtime::error_codes! {
    /// Bad input without a more specific code.
    INVALID_ARGUMENT = ("PROCUREMENT_INVALID_ARGUMENT", InvalidArgument, "a request field is missing or malformed; the field is named");
    /// A malformed national item code.
    INVALID_ITEM_CODE = ("PROCUREMENT_INVALID_ITEM_CODE", InvalidArgument, "an item code does not have the format of its kind (drug 23 characters, consumable 20, …)");
    /// No catalogue entry.
    ITEM_NOT_FOUND = ("PROCUREMENT_ITEM_NOT_FOUND", NotFound, "no catalogue entry of that code in the region (on that date); a bid or listing naming it is refused as INVALID_ARGUMENT");
    /// No such round.
    ROUND_NOT_FOUND = ("PROCUREMENT_ROUND_NOT_FOUND", NotFound, "no procurement round has this id");
    /// No such group in the round.
    GROUP_NOT_FOUND = ("PROCUREMENT_GROUP_NOT_FOUND", NotFound, "the round's outcome has no group of this id");
    /// The round's selection has run.
    ROUND_NOT_OPEN = ("PROCUREMENT_ROUND_NOT_OPEN", FailedPrecondition, "the round no longer takes groups, demand or bids: its selection has run");
    /// The round's selection has not run.
    ROUND_NOT_SELECTED = ("PROCUREMENT_ROUND_NOT_SELECTED", FailedPrecondition, "outcomes, price cuts, standards, completion and savings need the round's selection first");
    /// A group id reused with other content.
    DUPLICATE_GROUP = ("PROCUREMENT_DUPLICATE_GROUP", AlreadyExists, "a group of this id exists in the round with other content");
    /// A group the round does not have.
    UNKNOWN_GROUP = ("PROCUREMENT_UNKNOWN_GROUP", InvalidArgument, "demand or a bid names a group the round does not have");
    /// Two bids of one manufacturer in a group.
    DUPLICATE_BID = ("PROCUREMENT_DUPLICATE_BID", FailedPrecondition, "the selection found two bids of one manufacturer in a group");
    /// A group the selection cannot run on.
    INVALID_GROUP = ("PROCUREMENT_INVALID_GROUP", FailedPrecondition, "a group's data does not allow a selection (e.g. no highest valid price)");
    /// Round rules that contradict themselves.
    INVALID_ROUND_RULES = ("PROCUREMENT_INVALID_ROUND_RULES", InvalidArgument, "the round's rules have gaps or overlaps in their bands, or ratios out of range");
    /// A listing above a ceiling or guide price.
    PRICE_ABOVE_REFERENCE = ("PROCUREMENT_PRICE_ABOVE_REFERENCE", InvalidArgument, "the listed price is above a ceiling or guide price in force on a day of its period; the reference is named");
    /// A period overlapping a closed one.
    PERIOD_OVERLAP = ("PROCUREMENT_PERIOD_OVERLAP", InvalidArgument, "a new reference, listing, payment standard or catalogue version overlaps a period of the history that it cannot end");
    /// A price that is zero or negative.
    NON_POSITIVE_PRICE = ("PROCUREMENT_NON_POSITIVE_PRICE", InvalidArgument, "a price must be positive");
    /// A period that ends before it starts.
    INVALID_PERIOD = ("PROCUREMENT_INVALID_PERIOD", InvalidArgument, "a period ends before it starts");
    /// Amounts beyond what money holds.
    MONEY_OVERFLOW = ("PROCUREMENT_MONEY_OVERFLOW", InvalidArgument, "amounts of the request are too large to compute");
    /// A rate above 100%.
    RATE_ABOVE_FULL = ("PROCUREMENT_RATE_ABOVE_FULL", InvalidArgument, "a rate is above 10000 bp");
    /// A negative price in a savings computation.
    NEGATIVE_PRICE = ("PROCUREMENT_NEGATIVE_PRICE", InvalidArgument, "a price in a savings computation is negative");
    /// An inventory record the check cannot use.
    INVALID_INVENTORY_RECORD = ("PROCUREMENT_INVALID_INVENTORY_RECORD", InvalidArgument, "an inventory record contradicts the stock (the record is named)");
    /// A record number reused for other content.
    RECORD_NO_REUSED = ("PROCUREMENT_RECORD_NO_REUSED", AlreadyExists, "the institution's record number is stored with other content; the whole upload is refused");
    /// A write that lost a race.
    CONCURRENT_CHANGE = ("PROCUREMENT_CONCURRENT_CHANGE", Aborted, "a concurrent request changed the same record; retry");
    /// Finding: a purchase of an unlisted item.
    UNLISTED_PURCHASE = ("PROCUREMENT_UNLISTED_PURCHASE", InvalidArgument, "inventory finding (in the response, not an error): a purchase of an item with no listing in force");
    /// Finding: a purchase above the listed price.
    PURCHASE_ABOVE_LISTED_PRICE = ("PROCUREMENT_PURCHASE_ABOVE_LISTED_PRICE", InvalidArgument, "inventory finding (in the response, not an error): a purchase above the listed price");
    /// Finding: a sale above purchase price plus the allowed mark-up.
    MARK_UP = ("PROCUREMENT_MARK_UP", InvalidArgument, "inventory finding (in the response and on the stream): a sale above the lot's purchase price plus the allowed mark-up");
    /// Finding: a sale without stock.
    SALE_WITHOUT_STOCK = ("PROCUREMENT_SALE_WITHOUT_STOCK", InvalidArgument, "inventory finding (in the response and on the stream): a sale of more than the stock held");
}
