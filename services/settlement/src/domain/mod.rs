//! Pure rules of the settlement service: no I/O, no async.
