//! Specifications of the settlement domain.
