//! Whole Ethernet frames: Ethernet + ARP, or Ethernet + IPv4 + TCP; and
//! bare IPv4 + TCP packets, for a medium without a link layer (a TUN
//! device, a PPP or SLIP link: [`Medium::Ip`](crate::endpoint::Medium::Ip)).

use core::fmt;

use super::{
    ArpError, ArpPacket, ArpRepr, ChecksumPolicy, EmitError, EtherType, EthernetError,
    EthernetFrame, EthernetRepr, IpPair, IpProtocol, Ipv4Error, Ipv4Packet, Ipv4Repr, TcpError,
    TcpPacket, TcpRepr,
};

/// Why a frame was dropped by [`parse_frame`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The Ethernet header is bad.
    Ethernet(EthernetError),
    /// The ARP packet is bad.
    Arp(ArpError),
    /// The IPv4 header is bad.
    Ipv4(Ipv4Error),
    /// The TCP segment is bad.
    Tcp(TcpError),
    /// The IPv4 packet is a fragment; fragments are not reassembled.
    Fragment,
    /// The EtherType is neither IPv4 nor ARP; carries the value.
    UnsupportedEtherType(u16),
    /// The IPv4 payload is not TCP; carries the protocol number.
    UnsupportedProtocol(u8),
}

impl FrameError {
    /// A short stable name, for counters and logs: `eth_truncated`,
    /// `eth_vlan_tagged`, `arp_*`, `ipv4_*`, `tcp_*` (see each layer's
    /// `reason`), `ipv4_fragment`, `unsupported_ethertype`,
    /// `unsupported_protocol`.
    pub const fn reason(&self) -> &'static str {
        match self {
            FrameError::Ethernet(e) => e.reason(),
            FrameError::Arp(e) => e.reason(),
            FrameError::Ipv4(e) => e.reason(),
            FrameError::Tcp(e) => e.reason(),
            FrameError::Fragment => "ipv4_fragment",
            FrameError::UnsupportedEtherType(_) => "unsupported_ethertype",
            FrameError::UnsupportedProtocol(_) => "unsupported_protocol",
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Ethernet(e) => fmt::Display::fmt(e, f),
            FrameError::Arp(e) => fmt::Display::fmt(e, f),
            FrameError::Ipv4(e) => fmt::Display::fmt(e, f),
            FrameError::Tcp(e) => fmt::Display::fmt(e, f),
            FrameError::Fragment => f.write_str("IPv4 fragment (not reassembled)"),
            FrameError::UnsupportedEtherType(t) => {
                write!(f, "unsupported EtherType 0x{t:04x}")
            }
            FrameError::UnsupportedProtocol(p) => write!(f, "unsupported IP protocol {p}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for FrameError {}

impl From<EthernetError> for FrameError {
    fn from(e: EthernetError) -> Self {
        FrameError::Ethernet(e)
    }
}

impl From<ArpError> for FrameError {
    fn from(e: ArpError) -> Self {
        FrameError::Arp(e)
    }
}

impl From<Ipv4Error> for FrameError {
    fn from(e: Ipv4Error) -> Self {
        FrameError::Ipv4(e)
    }
}

impl From<TcpError> for FrameError {
    fn from(e: TcpError) -> Self {
        FrameError::Tcp(e)
    }
}

/// A parsed frame the stack handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// An ARP packet.
    Arp {
        /// The Ethernet header.
        eth: EthernetRepr,
        /// The ARP packet.
        arp: ArpRepr,
    },
    /// A TCP segment over IPv4.
    Tcp {
        /// The Ethernet header.
        eth: EthernetRepr,
        /// The IPv4 header.
        ip: Ipv4Repr,
        /// The TCP segment, its payload borrowed from the frame.
        tcp: TcpRepr<'a>,
    },
}

/// Parses a whole Ethernet frame down to ARP or TCP.
///
/// The IPv4 header checksum is always verified; the TCP checksum as
/// `tcp_checksum` says. Ethernet padding after the IPv4 total length is
/// ignored. IPv4 fragments are [`FrameError::Fragment`].
#[inline]
pub fn parse_frame(bytes: &[u8], tcp_checksum: ChecksumPolicy) -> Result<Frame<'_>, FrameError> {
    let eth_frame = EthernetFrame::new_checked(bytes)?;
    let eth = EthernetRepr::parse(&eth_frame)?;
    let payload = &bytes[EthernetRepr::HEADER_LEN..];
    match eth.ethertype {
        EtherType::Arp => {
            let arp = ArpRepr::parse(&ArpPacket::new_checked(payload)?)?;
            Ok(Frame::Arp { eth, arp })
        }
        EtherType::Ipv4 => {
            let (ip, tcp) = parse_ip_packet(payload, tcp_checksum)?;
            Ok(Frame::Tcp { eth, ip, tcp })
        }
        other => Err(FrameError::UnsupportedEtherType(other.into())),
    }
}

/// Parses a bare IPv4 packet (no link-layer header) down to TCP: what
/// [`parse_frame`] does after the Ethernet header, for
/// [`Medium::Ip`](crate::endpoint::Medium::Ip).
///
/// The IPv4 header checksum is always verified; the TCP checksum as
/// `tcp_checksum` says. Bytes after the IPv4 total length are ignored.
/// IPv4 fragments are [`FrameError::Fragment`], a payload other than TCP
/// [`FrameError::UnsupportedProtocol`], and a packet whose version is not 4
/// (an IPv6 packet on a TUN device) [`Ipv4Error::BadVersion`].
#[inline]
pub fn parse_ip_packet(
    bytes: &[u8],
    tcp_checksum: ChecksumPolicy,
) -> Result<(Ipv4Repr, TcpRepr<'_>), FrameError> {
    let ip_packet = Ipv4Packet::new_checked(bytes)?;
    let ip = Ipv4Repr::parse(&ip_packet, ChecksumPolicy::Verify)?;
    if ip.is_fragment() {
        return Err(FrameError::Fragment);
    }
    if ip.protocol != IpProtocol::Tcp {
        return Err(FrameError::UnsupportedProtocol(ip.protocol.into()));
    }
    let tcp_packet = TcpPacket::new_checked(ip_packet.payload())?;
    let tcp = TcpRepr::parse(&tcp_packet, ip.src_addr, ip.dst_addr, tcp_checksum)?;
    Ok((ip, tcp))
}

/// Length of the frame [`emit_tcp_frame`] writes: 14 + 20 +
/// `tcp.buffer_len()`.
#[inline]
pub fn tcp_frame_len(tcp: &TcpRepr) -> usize {
    EthernetRepr::HEADER_LEN + Ipv4Repr::HEADER_LEN + tcp.buffer_len()
}

/// Length of the frame [`emit_arp_frame`] writes: the 60-byte Ethernet
/// minimum (14 + 28, padded).
pub const ARP_FRAME_LEN: usize = 60;

/// Writes an Ethernet/IPv4/TCP frame, checksums included, and returns its
/// length ([`tcp_frame_len`]).
///
/// The EtherType written is IPv4 and the IP protocol TCP whatever `eth` and
/// `ip` say, and `ip.payload_len` is taken from `tcp`. No padding is added
/// (the frame is at least 54 bytes; the NIC pads to 60).
#[inline]
pub fn emit_tcp_frame(
    buf: &mut [u8],
    eth: &EthernetRepr,
    ip: &Ipv4Repr,
    tcp: &TcpRepr,
) -> Result<usize, EmitError> {
    let tcp_len = tcp.buffer_len();
    let len = EthernetRepr::HEADER_LEN + Ipv4Repr::HEADER_LEN + tcp_len;
    let ip = tcp_ip_repr(ip, tcp_len)?;
    let frame = buf.get_mut(..len).ok_or(EmitError::BufferTooSmall)?;
    let eth = EthernetRepr {
        ethertype: EtherType::Ipv4,
        ..*eth
    };
    eth.emit(&mut EthernetFrame::new_unchecked(&mut *frame))?;
    let ip_bytes = frame
        .get_mut(EthernetRepr::HEADER_LEN..)
        .ok_or(EmitError::BufferTooSmall)?;
    emit_ip_tcp(ip_bytes, &ip, tcp)?;
    Ok(len)
}

/// Length of the packet [`emit_tcp_packet`] writes: 20 +
/// `tcp.buffer_len()`.
#[inline]
pub fn tcp_packet_len(tcp: &TcpRepr) -> usize {
    Ipv4Repr::HEADER_LEN + tcp.buffer_len()
}

/// Writes a bare IPv4/TCP packet (no link-layer header, for
/// [`Medium::Ip`](crate::endpoint::Medium::Ip)), checksums included, and
/// returns its length ([`tcp_packet_len`]).
///
/// The IP protocol written is TCP whatever `ip` says, and `ip.payload_len`
/// is taken from `tcp`.
#[inline]
pub fn emit_tcp_packet(buf: &mut [u8], ip: &Ipv4Repr, tcp: &TcpRepr) -> Result<usize, EmitError> {
    let tcp_len = tcp.buffer_len();
    let len = Ipv4Repr::HEADER_LEN + tcp_len;
    let ip = tcp_ip_repr(ip, tcp_len)?;
    let packet = buf.get_mut(..len).ok_or(EmitError::BufferTooSmall)?;
    emit_ip_tcp(packet, &ip, tcp)?;
    Ok(len)
}

/// Writes the headers only of an IPv4/TCP frame whose TCP data (the
/// payload of `tcp`) the caller sends after them itself (a gather write):
/// the Ethernet header when `eth` is given (else a bare packet, as
/// [`emit_tcp_packet`]), the IPv4 header with its lengths counting the
/// data, and the TCP header with the pseudo-header sum in its checksum
/// field ([`TcpRepr::emit_header_partial`]). Returns the bytes written:
/// [`tcp_frame_len`] or [`tcp_packet_len`] less the data.
#[inline]
pub fn emit_tcp_headers(
    buf: &mut [u8],
    eth: Option<&EthernetRepr>,
    ip: &Ipv4Repr,
    tcp: &TcpRepr,
) -> Result<usize, EmitError> {
    let tcp_len = tcp.buffer_len();
    let ip = tcp_ip_repr(ip, tcp_len)?;
    let link = match eth {
        Some(eth) => {
            let eth = EthernetRepr {
                ethertype: EtherType::Ipv4,
                ..*eth
            };
            eth.emit(&mut EthernetFrame::new_unchecked(&mut *buf))?;
            EthernetRepr::HEADER_LEN
        }
        None => 0,
    };
    let ip_bytes = buf.get_mut(link..).ok_or(EmitError::BufferTooSmall)?;
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut *ip_bytes))?;
    let tcp_bytes = ip_bytes
        .get_mut(Ipv4Repr::HEADER_LEN..)
        .ok_or(EmitError::BufferTooSmall)?;
    let pair = IpPair::V4 {
        src: ip.src_addr,
        dst: ip.dst_addr,
    };
    tcp.emit_header_partial(tcp_bytes, pair)?;
    Ok(link + Ipv4Repr::HEADER_LEN + tcp.header_len())
}

/// `ip` carrying a TCP segment of `tcp_len` bytes; the total length must
/// fit in 16 bits.
#[inline(always)]
fn tcp_ip_repr(ip: &Ipv4Repr, tcp_len: usize) -> Result<Ipv4Repr, EmitError> {
    let ip = Ipv4Repr {
        payload_len: tcp_len,
        protocol: IpProtocol::Tcp,
        ..*ip
    };
    if u16::try_from(ip.buffer_len()).is_err() {
        return Err(EmitError::PayloadTooLarge);
    }
    Ok(ip)
}

/// The IPv4 header (its lengths and protocol already set) and the TCP
/// segment, from the start of `ip_bytes`.
#[inline(always)]
fn emit_ip_tcp(ip_bytes: &mut [u8], ip: &Ipv4Repr, tcp: &TcpRepr) -> Result<(), EmitError> {
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut *ip_bytes))?;
    let tcp_bytes = ip_bytes
        .get_mut(Ipv4Repr::HEADER_LEN..)
        .ok_or(EmitError::BufferTooSmall)?;
    tcp.emit(
        &mut TcpPacket::new_unchecked(tcp_bytes),
        ip.src_addr,
        ip.dst_addr,
    )
}

/// Writes an Ethernet/ARP frame padded with zeros to the 60-byte Ethernet
/// minimum, and returns its length ([`ARP_FRAME_LEN`]). The EtherType
/// written is ARP whatever `eth` says.
#[inline]
pub fn emit_arp_frame(
    buf: &mut [u8],
    eth: &EthernetRepr,
    arp: &ArpRepr,
) -> Result<usize, EmitError> {
    let frame = buf
        .get_mut(..ARP_FRAME_LEN)
        .ok_or(EmitError::BufferTooSmall)?;
    let eth = EthernetRepr {
        ethertype: EtherType::Arp,
        ..*eth
    };
    eth.emit(&mut EthernetFrame::new_unchecked(&mut *frame))?;
    let rest = frame
        .get_mut(EthernetRepr::HEADER_LEN..)
        .ok_or(EmitError::BufferTooSmall)?;
    let (arp_bytes, padding) = rest.split_at_mut(arp.buffer_len().min(rest.len()));
    arp.emit(&mut ArpPacket::new_unchecked(arp_bytes))?;
    padding.fill(0);
    Ok(ARP_FRAME_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{
        ArpOperation, EthernetAddress, SackBlocks, TcpControl, TcpOptions, Timestamps,
    };
    use crate::SeqNum;
    use core::net::Ipv4Addr;

    fn eth() -> EthernetRepr {
        EthernetRepr {
            src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            ethertype: EtherType::Ipv4,
        }
    }

    fn ip() -> Ipv4Repr {
        Ipv4Repr {
            src_addr: Ipv4Addr::new(198, 18, 0, 1),
            dst_addr: Ipv4Addr::new(198, 18, 0, 2),
            protocol: IpProtocol::Tcp,
            payload_len: 0,
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ident: 0,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        }
    }

    fn tcp(payload: &[u8]) -> TcpRepr<'_> {
        TcpRepr {
            src_port: 5000,
            dst_port: 40000,
            seq_number: SeqNum::new(1),
            ack_number: Some(SeqNum::new(2)),
            control: TcpControl::None,
            push: true,
            urgent: None,
            ece: false,
            cwr: false,
            window_len: 100,
            options: TcpOptions {
                timestamps: Some(Timestamps { tsval: 5, tsecr: 6 }),
                sack_blocks: SackBlocks::new(),
                ..TcpOptions::default()
            },
            payload,
        }
    }

    #[test]
    fn tcp_round_trip() {
        let t = tcp(b"abc");
        let mut buf = [0u8; 128];
        let n = emit_tcp_frame(&mut buf, &eth(), &ip(), &t).unwrap();
        assert_eq!(n, 14 + 20 + 32 + 3);
        assert_eq!(n, tcp_frame_len(&t));
        let parsed = parse_frame(&buf[..n], ChecksumPolicy::Verify).unwrap();
        let want_ip = Ipv4Repr {
            payload_len: 35,
            ..ip()
        };
        assert_eq!(
            parsed,
            Frame::Tcp {
                eth: eth(),
                ip: want_ip,
                tcp: t
            }
        );
        // Ethernet padding after the IP packet is ignored.
        assert_eq!(
            parse_frame(&buf[..n + 10], ChecksumPolicy::Verify),
            Ok(parsed)
        );
        assert_eq!(
            emit_tcp_frame(&mut buf[..n - 1], &eth(), &ip(), &t),
            Err(EmitError::BufferTooSmall)
        );
    }

    #[test]
    fn errors() {
        let t = tcp(b"abc");
        let mut buf = [0u8; 128];
        let n = emit_tcp_frame(&mut buf, &eth(), &ip(), &t).unwrap();
        let f = |b: &[u8]| parse_frame(b, ChecksumPolicy::Verify).map(|_| ());
        assert_eq!(
            f(&buf[..10]),
            Err(FrameError::Ethernet(EthernetError::Truncated))
        );
        assert_eq!(
            f(&buf[..n - 1]),
            Err(FrameError::Ipv4(Ipv4Error::BadTotalLen))
        );
        let mut b = buf;
        b[14 + 20 + 30] ^= 0xff; // in the TCP options (TS)
        assert_eq!(f(&b[..n]), Err(FrameError::Tcp(TcpError::BadChecksum)));
        assert!(parse_frame(&b[..n], ChecksumPolicy::Skip).is_ok());
        let mut b = buf;
        b[22] ^= 1; // TTL
        assert_eq!(f(&b[..n]), Err(FrameError::Ipv4(Ipv4Error::BadChecksum)));
        let mut b = buf;
        b[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(f(&b[..n]), Err(FrameError::UnsupportedEtherType(0x86dd)));
        assert_eq!(
            FrameError::UnsupportedEtherType(0x86dd).reason(),
            "unsupported_ethertype"
        );
        let mut b = buf;
        let mut p = Ipv4Packet::new_unchecked(&mut b[14..n]);
        p.set_protocol(IpProtocol::Udp);
        p.fill_checksum();
        assert_eq!(f(&b[..n]), Err(FrameError::UnsupportedProtocol(17)));
        let mut b = buf;
        let mut p = Ipv4Packet::new_unchecked(&mut b[14..n]);
        p.set_more_frags(true);
        p.fill_checksum();
        assert_eq!(f(&b[..n]), Err(FrameError::Fragment));
        assert_eq!(FrameError::Fragment.reason(), "ipv4_fragment");
    }

    #[test]
    fn ip_packet_round_trip() {
        let t = tcp(b"abc");
        let mut buf = [0u8; 128];
        let n = emit_tcp_packet(&mut buf, &ip(), &t).unwrap();
        assert_eq!(n, 20 + 32 + 3);
        assert_eq!(n, tcp_packet_len(&t));
        // The same bytes as the frame's, without its Ethernet header.
        let mut frame = [0u8; 128];
        let m = emit_tcp_frame(&mut frame, &eth(), &ip(), &t).unwrap();
        assert_eq!(&frame[14..m], &buf[..n]);
        let want_ip = Ipv4Repr {
            payload_len: 35,
            ..ip()
        };
        assert_eq!(
            parse_ip_packet(&buf[..n], ChecksumPolicy::Verify),
            Ok((want_ip, t))
        );
        assert_eq!(
            parse_ip_packet(&buf[..n + 7], ChecksumPolicy::Verify),
            Ok((want_ip, t))
        );
        assert_eq!(
            emit_tcp_packet(&mut buf[..n - 1], &ip(), &t),
            Err(EmitError::BufferTooSmall)
        );
        // A whole frame is not a packet.
        assert!(parse_ip_packet(&frame[..m], ChecksumPolicy::Verify).is_err());
        let f = |b: &[u8]| parse_ip_packet(b, ChecksumPolicy::Verify).map(|_| ());
        assert_eq!(f(&buf[..10]), Err(FrameError::Ipv4(Ipv4Error::Truncated)));
        let mut b = buf;
        b[20 + 30] ^= 0xff;
        assert_eq!(f(&b[..n]), Err(FrameError::Tcp(TcpError::BadChecksum)));
        let mut b = buf;
        let mut p = Ipv4Packet::new_unchecked(&mut b[..n]);
        p.set_more_frags(true);
        p.fill_checksum();
        assert_eq!(f(&b[..n]), Err(FrameError::Fragment));
    }

    #[test]
    fn arp_padded() {
        let arp = ArpRepr {
            operation: ArpOperation::Reply,
            source_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
            source_protocol_addr: Ipv4Addr::new(198, 18, 0, 1),
            target_hardware_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
            target_protocol_addr: Ipv4Addr::new(198, 18, 0, 2),
        };
        let mut buf = [0xffu8; 64];
        assert_eq!(emit_arp_frame(&mut buf, &eth(), &arp), Ok(60));
        assert!(buf[42..60].iter().all(|&b| b == 0));
        assert_eq!(buf[60], 0xff);
        let want_eth = EthernetRepr {
            ethertype: EtherType::Arp,
            ..eth()
        };
        assert_eq!(
            parse_frame(&buf[..60], ChecksumPolicy::Verify),
            Ok(Frame::Arp { eth: want_eth, arp })
        );
        assert_eq!(
            emit_arp_frame(&mut buf[..59], &eth(), &arp),
            Err(EmitError::BufferTooSmall)
        );
    }
}
