//! The endpoint's counters ([`Stats`]) and the reasons it drops a frame
//! ([`DropReason`]), with their mapping from the codecs' and the
//! connection's errors.

use crate::conn::{CloseReason, SegmentDrop};
use crate::wire::{self, FrameError};

/// Why the endpoint dropped a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DropReason {
    /// Ethernet header truncated or 802.1Q-tagged.
    BadEthernet,
    /// Malformed ARP.
    BadArp,
    /// Malformed IPv4 header.
    BadIpv4,
    /// Malformed TCP header or options.
    BadTcp,
    /// An IPv4 or TCP checksum did not verify.
    BadChecksum,
    /// An IPv4 fragment (the core does not reassemble).
    Fragment,
    /// Neither IPv4, IPv6 nor ARP.
    OtherEtherType,
    /// IPv4 but not TCP.
    OtherProtocol,
    /// Not addressed to our MAC, address or port.
    NotForUs,
    /// From a broadcast, multicast, unspecified or loopback address, or our
    /// own (RFC 9293 §3.10.7.2, RFC 1122 §3.2.1.3).
    BadSource,
    /// ARP not asking for our address.
    ArpIgnored,
    /// A segment for no connection (answered with a reset where one is due).
    NoConnection,
    /// A SYN while the connection table was full.
    TableFull,
    /// A SYN while the half-open bound was reached.
    HalfOpenFull,
    /// Failed the acceptability test (RFC 9293 §3.10.7.4).
    OutOfWindow,
    /// Failed PAWS (RFC 7323 §5).
    Paws,
    /// A RST in the window but not at RCV.NXT (RFC 5961 §3).
    RstNotExact,
    /// A SYN on a synchronized connection (RFC 5961 §4).
    UnexpectedSyn,
    /// An unacceptable ACK (RFC 5961 §5) or none.
    BadAck,
    /// Out-of-order data with no room in the receive buffer.
    NoBuffer,
    /// An outgoing frame found no transmit buffer.
    TxNoRoom,
    /// A SYN from a source address that has its most connections.
    PerSourceLimit,
    /// While SYN cookies are out, an ACK whose cookie has a current time
    /// slot but whose MAC does not verify: most likely a client whose
    /// handshake ACK and first segment were lost, so SEG.SEQ is past its
    /// ISN plus one. Dropped without a reset; the client's retransmission
    /// of that first segment brings the cookie back.
    CookieUnverified,
    /// A SYN, a returning SYN cookie or a handshake-completing ACK for a
    /// listener whose accept queue is full (Linux: `ListenOverflows`).
    AcceptQueueFull,
    /// An ICMP message not answered or not acted on: not an echo request
    /// for an address of ours alone, over the rate, or an error that
    /// quotes no data of ours in flight (`endpoint/icmp.rs`).
    IcmpIgnored,
    /// Malformed IPv6 header or extension headers (RFC 8200 §4: a bad
    /// option, a Routing header with segments left, too many headers), or
    /// IPv6 when we have no IPv6 address.
    BadIpv6,
    /// An ICMP or ICMPv6 error quoting a segment of one of our
    /// connections whose sequence number is not of data in flight (RFC
    /// 5927 §4.1; Linux `OutOfWindowIcmps`).
    IcmpOutOfWindow,
}

impl DropReason {
    /// Number of reasons.
    pub const COUNT: usize = 27;

    /// Every reason, in order.
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::BadEthernet,
        DropReason::BadArp,
        DropReason::BadIpv4,
        DropReason::BadTcp,
        DropReason::BadChecksum,
        DropReason::Fragment,
        DropReason::OtherEtherType,
        DropReason::OtherProtocol,
        DropReason::NotForUs,
        DropReason::BadSource,
        DropReason::ArpIgnored,
        DropReason::NoConnection,
        DropReason::TableFull,
        DropReason::HalfOpenFull,
        DropReason::OutOfWindow,
        DropReason::Paws,
        DropReason::RstNotExact,
        DropReason::UnexpectedSyn,
        DropReason::BadAck,
        DropReason::NoBuffer,
        DropReason::TxNoRoom,
        DropReason::PerSourceLimit,
        DropReason::CookieUnverified,
        DropReason::AcceptQueueFull,
        DropReason::IcmpIgnored,
        DropReason::BadIpv6,
        DropReason::IcmpOutOfWindow,
    ];

    /// A short stable name, for counters and summaries.
    pub const fn as_str(self) -> &'static str {
        match self {
            DropReason::BadEthernet => "bad-ethernet",
            DropReason::BadArp => "bad-arp",
            DropReason::BadIpv4 => "bad-ipv4",
            DropReason::BadTcp => "bad-tcp",
            DropReason::BadChecksum => "bad-checksum",
            DropReason::Fragment => "fragment",
            DropReason::OtherEtherType => "other-ethertype",
            DropReason::OtherProtocol => "other-protocol",
            DropReason::NotForUs => "not-for-us",
            DropReason::BadSource => "bad-source",
            DropReason::ArpIgnored => "arp-ignored",
            DropReason::NoConnection => "no-connection",
            DropReason::TableFull => "table-full",
            DropReason::HalfOpenFull => "half-open-full",
            DropReason::OutOfWindow => "out-of-window",
            DropReason::Paws => "paws",
            DropReason::RstNotExact => "rst-not-exact",
            DropReason::UnexpectedSyn => "unexpected-syn",
            DropReason::BadAck => "bad-ack",
            DropReason::NoBuffer => "no-buffer",
            DropReason::TxNoRoom => "tx-no-room",
            DropReason::PerSourceLimit => "per-source-limit",
            DropReason::CookieUnverified => "cookie-unverified",
            DropReason::AcceptQueueFull => "accept-queue-full",
            DropReason::IcmpIgnored => "icmp-ignored",
            DropReason::BadIpv6 => "bad-ipv6",
            DropReason::IcmpOutOfWindow => "icmp-out-of-window",
        }
    }

    pub(super) fn from_frame_error(e: &FrameError) -> DropReason {
        match e {
            FrameError::Ethernet(_) => DropReason::BadEthernet,
            FrameError::Arp(_) => DropReason::BadArp,
            FrameError::Ipv4(wire::Ipv4Error::BadChecksum) => DropReason::BadChecksum,
            FrameError::Ipv4(_) => DropReason::BadIpv4,
            FrameError::Tcp(wire::TcpError::BadChecksum) => DropReason::BadChecksum,
            FrameError::Tcp(_) => DropReason::BadTcp,
            FrameError::Fragment => DropReason::Fragment,
            FrameError::UnsupportedEtherType(_) => DropReason::OtherEtherType,
            FrameError::UnsupportedProtocol(_) => DropReason::OtherProtocol,
        }
    }

    pub(super) fn from_segment_drop(d: SegmentDrop) -> DropReason {
        match d {
            SegmentDrop::OutOfWindow => DropReason::OutOfWindow,
            SegmentDrop::Paws => DropReason::Paws,
            SegmentDrop::RstNotExact => DropReason::RstNotExact,
            SegmentDrop::UnexpectedSyn => DropReason::UnexpectedSyn,
            SegmentDrop::BadAck => DropReason::BadAck,
            SegmentDrop::NoBuffer => DropReason::NoBuffer,
        }
    }
}

/// Counters of an endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames handed to [`Endpoint::handle_frame`](super::Endpoint::handle_frame).
    pub rx_frames: u64,
    /// ICMP and ICMPv6 messages sent (echo replies; neighbor messages are
    /// counted apart).
    pub icmp_sent: u64,
    /// Neighbor advertisements sent (RFC 4861, answering solicitations for
    /// our IPv6 address).
    pub nd_adverts: u64,
    /// Neighbor solicitations sent to resolve the next hop of IPv6 active
    /// opens.
    pub nd_solicits: u64,
    /// Neighbor messages that showed our tentative IPv6 address to be
    /// another node's (duplicate address detection, `endpoint/dad.rs`).
    pub dad_conflicts: u64,
    /// Connections whose MSS an ICMP "fragmentation needed" or an ICMPv6
    /// "packet too big" lowered.
    pub pmtu_lowered: u64,
    /// Frames written for sending.
    pub tx_frames: u64,
    /// Of those, TCP segments with RST: aborts, resets of segments to
    /// closed ports, resets of half-open connections.
    pub tx_rsts: u64,
    /// Connections that completed the handshake (passive and active).
    pub established: u64,
    /// Connections opened by [`Endpoint::connect`](super::Endpoint::connect).
    pub active_opens: u64,
    /// ARP requests sent to resolve the next hop of active opens.
    pub arp_requests: u64,
    /// ICMP and ICMPv6 errors (not "too big") acted on: a connection
    /// request aborted, a half-open connection dropped, or a soft error
    /// recorded (`conn/icmp_err.rs`). The ones ignored are in `drops`
    /// ([`DropReason::IcmpIgnored`], [`DropReason::IcmpOutOfWindow`]).
    pub icmp_errors: u64,
    /// Of those, connections they ended: active opens aborted and
    /// half-open passive connections dropped.
    pub icmp_aborts: u64,
    /// RTO backoffs undone by a net or host unreachable (RFC 6069).
    pub icmp_rto_reverts: u64,
    /// Connections that ended, by reason: normal, reset, timed out,
    /// aborted, ICMP error ([`CloseReason::Icmp`], whatever the error).
    /// Only connections that were established (reported with
    /// [`AppEvent::Established`](super::AppEvent::Established)) count here.
    pub closed: [u64; 5],
    /// Connections that ended in SYN-RECEIVED or SYN-SENT, before the
    /// handshake completed, by the same reasons as `closed` (a RST, a new
    /// SYN, the SYN or SYN-ACK retransmission limit, an abort). The
    /// application was never told of passive ones, so it gets no
    /// [`AppEvent::Closed`](super::AppEvent::Closed) for them either; it
    /// does for its own active opens.
    pub handshakes_failed: [u64; 5],
    /// Payload bytes delivered in order to the application.
    pub bytes_delivered: u64,
    /// SYN-ACK and FIN retransmissions.
    pub retransmits: u64,
    /// Retransmissions shown spurious: reported received twice by a
    /// D-SACK (RFC 2883), or all of a recovery's when it was undone.
    pub spurious_retransmits: u64,
    /// Retransmission timeouts (RFC 6298 §5.4) that fired with data
    /// unacknowledged (Linux `TcpExtTCPTimeouts`).
    pub timeouts: u64,
    /// cwnd reductions undone as spurious (RFC 3522 timestamps, RFC 2883
    /// D-SACK; Linux `TCPFullUndo`, `TCPDSACKUndo`, `TCPLossUndo`).
    pub undos: u64,
    /// Resets sent for segments that matched no connection.
    pub resets_sent: u64,
    /// SYN-ACKs sent with a SYN cookie (RFC 4987) instead of state.
    pub syn_cookies_sent: u64,
    /// Connections created from a valid returning cookie.
    pub syn_cookies_accepted: u64,
    /// TIME-WAIT connections ended early to make room for a new connection
    /// in a full table (Linux counts these as `TCPTimeWaitOverflow`).
    pub time_wait_recycled: u64,
    /// Frames dropped, indexed by `DropReason as usize`.
    pub drops: [u64; DropReason::COUNT],
}

impl Stats {
    /// Frames dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// Connections ended for `reason` (for [`CloseReason::Icmp`]: with any
    /// ICMP error).
    pub fn closed_by(&self, reason: CloseReason) -> u64 {
        self.closed[close_index(reason)]
    }

    /// Connections that ended in SYN-RECEIVED for `reason`.
    pub fn handshakes_failed_by(&self, reason: CloseReason) -> u64 {
        self.handshakes_failed[close_index(reason)]
    }
}

pub(super) fn close_index(r: CloseReason) -> usize {
    match r {
        CloseReason::Normal => 0,
        CloseReason::Reset => 1,
        CloseReason::TimedOut => 2,
        CloseReason::Aborted => 3,
        CloseReason::Icmp(_) => 4,
    }
}
