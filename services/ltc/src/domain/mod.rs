//! Pure rules of the ltc service: no I/O, no async.
