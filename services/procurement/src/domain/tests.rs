//! Specification tests of the procurement domain.
