//! Wire codecs: Ethernet, ARP, IPv4, IPv6 (with its extension headers),
//! ICMPv4, ICMPv6 (with NDP's neighbor messages) and TCP (with its
//! options), and the Internet checksum.
//!
//! Every header comes in two layers, in the manner of smoltcp:
//!
//! - a zero-copy *view* over a byte buffer (`EthernetFrame<T>`,
//!   [`ArpPacket<T>`], [`Ipv4Packet<T>`], [`TcpPacket<T>`]) with getters where
//!   `T: AsRef<[u8]>` and setters where also `T: AsMut<[u8]>`;
//! - a small `Copy` *representation* (`EthernetRepr`, [`ArpRepr`],
//!   [`Ipv4Repr`], [`TcpRepr`]) holding the meaningful values, made by
//!   `parse` from a view and written back by `emit`.
//!
//! [`parse_frame`] and [`emit_tcp_frame`] / [`emit_arp_frame`] do a whole
//! Ethernet frame at once; [`parse_ip_packet`] and [`emit_tcp_packet`] a
//! bare IPv4 packet, for a medium without Ethernet.
//!
//! # Panic contract
//!
//! - `new_unchecked` does not look at the buffer; a view made with it may
//!   panic in an accessor if the buffer is too short for what the header
//!   claims.
//! - Once `new_checked` has returned `Ok`, **no accessor of that view
//!   panics**, whatever the bytes are.
//! - Every `Repr::parse` checks the lengths itself (as `new_checked` does),
//!   so `parse` never panics, even on a view made with `new_unchecked`.
//! - Every `emit` checks the size of the buffer it is given and returns
//!   [`EmitError`] instead of panicking; into a buffer of `buffer_len()`
//!   bytes it succeeds (unless a value does not fit, see each `emit`).
//! - The checksum functions never panic.
//!
//! The fuzz targets in `fuzz/` check exactly this: any bytes, parsed, never
//! panic, and what parses is emitted into a buffer of `buffer_len()` bytes
//! and parsed again to the same representation.

pub mod checksum;

mod arp;
mod ethernet;
mod frame;
mod icmpv4;
mod icmpv6;
mod ipv4;
mod ipv6;
mod tcp;

pub use arp::{ArpError, ArpOperation, ArpPacket, ArpRepr};
pub use checksum::IpPair;
pub use ethernet::{EtherType, EthernetAddress, EthernetError, EthernetFrame, EthernetRepr};
pub use frame::{
    emit_arp_frame, emit_tcp_frame, emit_tcp_headers, emit_tcp_packet, parse_frame,
    parse_ip_packet, tcp_frame_len, tcp_packet_len, Frame, FrameError, ARP_FRAME_LEN,
};
pub use icmpv4::{Icmpv4Error, Icmpv4Packet, Icmpv4Repr, Icmpv4TcpQuote};
pub use icmpv6::{
    Icmpv6Error, Icmpv6Packet, Icmpv6Repr, Icmpv6TcpQuote, NdpNeighborAdvert, NdpNeighborSolicit,
};
pub use ipv4::{IpProtocol, Ipv4Error, Ipv4Packet, Ipv4Repr};
pub use ipv6::{
    walk_ext_headers, IcmpSend, Ipv6Error, Ipv6ExtError, Ipv6Packet, Ipv6Repr, Ipv6UpperLayer,
    ParamProblem, ParamProblemCode, MAX_EXT_HEADERS, NEXT_HEADER_DEST_OPTS, NEXT_HEADER_FRAGMENT,
    NEXT_HEADER_HOP_BY_HOP, NEXT_HEADER_ICMPV6, NEXT_HEADER_NONE, NEXT_HEADER_ROUTING,
};
pub use tcp::{
    SackBlocks, TcpControl, TcpError, TcpFlags, TcpOptions, TcpPacket, TcpRepr, Timestamps,
};

use core::fmt;

/// Whether a parser verifies a checksum or trusts a lower layer (e.g. the
/// kernel said `CSUM_VALID`, or the checksum is not yet filled in on
/// veth/loopback).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumPolicy {
    /// Compute the checksum and reject the packet if it is wrong.
    Verify,
    /// Do not look at the checksum field.
    Skip,
}

/// Error of every emit: the buffer is too small or a value does not fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmitError {
    /// The buffer given to `emit` is shorter than `buffer_len()`.
    BufferTooSmall,
    /// The payload does not fit in the header's length field (an IPv4 total
    /// length above 65535 bytes).
    PayloadTooLarge,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EmitError::BufferTooSmall => "buffer too small for the packet",
            EmitError::PayloadTooLarge => "payload too large for the length field",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for EmitError {}

/// Reads a big-endian `u16` at `at..at + 2`. Callers guarantee the range.
#[inline(always)]
fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Reads a big-endian `u32` at `at..at + 4`. Callers guarantee the range.
#[inline(always)]
fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Writes a big-endian `u16` at `at..at + 2`. Callers guarantee the range.
#[inline(always)]
fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Writes a big-endian `u32` at `at..at + 4`. Callers guarantee the range.
#[inline(always)]
fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
