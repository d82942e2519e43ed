//! The reference binaries of the user-space TCP stack, `tcp-server` and
//! `tcp-client`, and what they share. Each reads whole Ethernet frames from
//! an AF_PACKET socket ([`rawnet`]) -- or, with `--tun`, bare IP packets
//! from a TUN device ([`link::Link`]) -- runs the sans-IO core
//! ([`tcpcore`]) on them and writes the answering frames.
//!
//! stdout carries the connection's payload alone; everything else goes to
//! stderr. Errors are one line, `tcp-server: <error>` or
//! `tcp-client: <error>`, never a backtrace. This library is the binaries'
//! inside, not an API.
#![deny(unsafe_code)]

pub mod cli;
pub mod client;
pub mod link;
pub mod pcap;
pub mod render;
pub mod server;
pub mod sys;
pub mod worker;

/// The workspace README's Rust examples (the embedding of `tcpcore`),
/// compiled and run as doctests so that they stay true. They live here, not
/// in `tcpcore`, so that the published `tcpcore` crate does not reach
/// outside its own directory.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
