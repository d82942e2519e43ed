//! The user-space relay between two veth pairs (reordering, duplication,
//! loss, fixed delay) lives in `rawnet::relay`, shared with the benches.
#![allow(unused_imports)]

pub use rawnet::relay::*;
