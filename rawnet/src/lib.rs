//! Linux AF_PACKET transport for a user-space TCP server: whole Ethernet
//! frames in (a TPACKET_V2 or V3 ring, see [`RingVersion`], filtered in the
//! kernel by classic BPF) and
//! out (`sendmmsg` batches), interface discovery, and the kernel quirks that
//! go with it (checksum status of locally generated frames, our own frames
//! echoed back, RSTs from the kernel).
//!
//! The other transport is a TUN device ([`TunDevice`], see [`tun`]): bare
//! IP packets routed to it by the kernel.
//!
//! This crate knows nothing of TCP beyond the header fields its filters look at.
//!
//! All `unsafe` code lives in one private module (`sys`), each block with a
//! `// SAFETY:` comment; everything else is safe Rust.
//!
//! ```no_run
//! use rawnet::{Filter, Interface, RawSocket, SocketConfig};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), rawnet::Error> {
//! let iface = Interface::by_name("eth0")?;
//! let (addr, _) = iface.require_ipv4()?;
//! let cfg = SocketConfig {
//!     filter: Some(Filter { ipv4: addr, tcp_port: 8080, all_ports: false, arp: true, ipv6: None }),
//!     ..SocketConfig::default()
//! };
//! let mut sock = RawSocket::open(&iface, &cfg)?;
//! let mut replies: Vec<Vec<u8>> = Vec::new();
//! sock.recv_batch(Some(Duration::from_millis(100)), |frame, meta| {
//!     let _ = (frame, meta.csum); // parse, and maybe answer
//! })?;
//! for r in &replies {
//!     sock.queue(r)?;
//! }
//! sock.flush()?;
//! # replies.clear(); Ok(()) }
//! ```
#![cfg(target_os = "linux")]
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod bpf;
mod error;
pub mod firewall;
mod iface;
pub mod netns;
pub mod relay;
mod socket;
#[allow(unsafe_code)]
mod sys;
pub mod tun;

pub use error::Error;
pub use iface::Interface;
pub use socket::{
    CsumStatus, Filter, RawSocket, RingVersion, RxMeta, SocketConfig, Stats, TxFrame,
};
pub use tun::{TunDevice, TunOptions, TunStats};
