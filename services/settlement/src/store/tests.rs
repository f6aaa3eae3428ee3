//! Store tests on SQLite.
