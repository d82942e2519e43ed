//! The receive half: the reassembly buffer (RFC 9293 §3.10.7.4 seventh).
mod rxbuf;

pub use rxbuf::{Insert, RecvBuffer, RecvRanges, MAX_RANGES};

pub(crate) use rxbuf::valid_size;
