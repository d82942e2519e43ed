//! A sans-IO, `no_std`, allocation-free TCP core, for servers and clients.
//!
//! `tcpcore` knows no clock, no socket and no operating system: frames go in
//! as byte slices, time goes in as an [`Instant`] argument, and frames come
//! out into buffers the caller lends. It is made of three layers:
//!
//! - [`wire`]: zero-copy views and value representations of Ethernet, ARP,
//!   IPv4 and TCP headers, with checksums.
//! - [`seq`]: sequence-number arithmetic with wrapping comparisons.
//! - the connection state machine and the endpoint that owns the connections
//!   of one address (its listeners with their accept queues, and active
//!   opens): [`Endpoint`], the low-level, zero-copy layer
//!   that reports through callbacks ([`Io`]), and [`Stack`], the pull API
//!   over it (`handle_*` in, `poll_*` out, `recv`/`send`), which is the one
//!   to embed.
//!
//! # The medium
//!
//! What a "frame" is is chosen when the endpoint is made, by
//! [`EndpointConfig::medium`] (as smoltcp's `Medium`). With
//! [`Medium::Ethernet`], the default, frames are whole Ethernet frames: the
//! endpoint answers ARP for its address and resolves the next hop of its
//! active opens by ARP, as on an `AF_PACKET` socket, a NIC or a TAP device.
//! With [`Medium::Ip`] they are bare IPv4 packets, no link-layer header, as
//! on a TUN device or a point-to-point link (PPP, SLIP): there is no ARP at
//! all (none answered or sent, no neighbour cache; an active open sends
//! its SYN at once) and `mac` is unused. The MSS is the MTU less 40 on
//! both (an IP link's MTU counts no link-layer header either).
//! [`wire::parse_ip_packet`] and [`wire::emit_tcp_packet`] are the codecs
//! of the second, next to [`wire::parse_frame`] and
//! [`wire::emit_tcp_frame`]. The medium costs the Ethernet path one branch
//! per frame.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod conn;
pub mod cookie;
pub mod endpoint;
pub mod isn;
pub mod seq;
pub mod stack;
pub mod time;
pub mod wire;

pub use conn::Buffers;
pub use conn::{
    CloseReason, Config, CongestionControl, Event, IcmpError, KeepAlive, RecvBuffer, State,
    StateName,
};
#[cfg(feature = "std")]
pub use endpoint::OwnedStorage;
pub use endpoint::{
    AppEvent, ConnId, ConnectError, DropReason, Endpoint, EndpointConfig, Io, ListenError,
    ListenerId, Medium, Slot, Stats, Storage, StorageError, TxPayload,
};
pub use isn::FourTuple;
pub use seq::SeqNum;
#[cfg(feature = "std")]
pub use stack::OwnedStackStorage;
pub use stack::{
    RecvError, SendError, Stack, StackError, StackEvent, StackStats, StackStorage, Transmit,
};
pub use time::{Duration, Instant};
