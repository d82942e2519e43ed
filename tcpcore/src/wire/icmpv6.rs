//! ICMPv6 (RFC 4443): echo request and reply, destination unreachable,
//! packet too big (RFC 8201), time exceeded and parameter problem; NDP's
//! Neighbor Solicitation and Advertisement (RFC 4861 §4.3, §4.4) with their
//! link-layer address options; and the TCP fields of the packet an error
//! quotes (for the checks of RFC 5927).

use core::fmt;
use core::net::Ipv6Addr;

use super::checksum;
use super::ipv6::{walk_quote, NEXT_HEADER_ICMPV6};
use super::{get_u16, get_u32, put_u16, put_u32, ChecksumPolicy, EmitError, EthernetAddress};
use super::{IpProtocol, Ipv6Packet};
use crate::seq::SeqNum;

/// Why an ICMPv6 message was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv6Error {
    /// Shorter than the 8-byte header, or than the fixed part of its type
    /// (24 bytes for a neighbor message).
    Truncated,
    /// The checksum is wrong.
    BadChecksum,
    /// A message type this codec does not handle.
    UnknownType,
    /// A neighbor message that RFC 4861 §7.1 says to discard: a code other
    /// than 0, or a multicast target address.
    BadNdp,
    /// An NDP option of length 0 (RFC 4861 §4.6), running past the
    /// message, or a link-layer address option not 8 bytes long (an
    /// Ethernet address, RFC 2464 §8).
    BadOption,
    /// The quote of an error is shorter than the IPv6 header, its
    /// extension headers and 8 bytes of transport header.
    QuoteTruncated,
    /// The quote is not the start of an IPv6 packet carrying TCP (another
    /// version or upper layer, or a fragment).
    QuoteNotTcp,
}

impl Icmpv6Error {
    /// A short stable name, for counters and logs.
    pub const fn reason(&self) -> &'static str {
        match self {
            Icmpv6Error::Truncated => "icmpv6_truncated",
            Icmpv6Error::BadChecksum => "icmpv6_bad_checksum",
            Icmpv6Error::UnknownType => "icmpv6_unknown_type",
            Icmpv6Error::BadNdp => "icmpv6_bad_ndp",
            Icmpv6Error::BadOption => "icmpv6_bad_option",
            Icmpv6Error::QuoteTruncated => "icmpv6_quote_truncated",
            Icmpv6Error::QuoteNotTcp => "icmpv6_quote_not_tcp",
        }
    }
}

impl fmt::Display for Icmpv6Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Icmpv6Error::Truncated => "ICMPv6 message shorter than its header",
            Icmpv6Error::BadChecksum => "ICMPv6 checksum is wrong",
            Icmpv6Error::UnknownType => "ICMPv6 message type not handled",
            Icmpv6Error::BadNdp => "invalid neighbor discovery message",
            Icmpv6Error::BadOption => "malformed neighbor discovery option",
            Icmpv6Error::QuoteTruncated => "ICMPv6 quote shorter than the headers and 8 bytes",
            Icmpv6Error::QuoteNotTcp => "ICMPv6 quote is not the start of a TCP/IPv6 packet",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Icmpv6Error {}

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    pub const MTU_POINTER: Range<usize> = 4..8;
    pub const NDP_FLAGS: usize = 4;
    pub const NDP_TARGET: Range<usize> = 8..24;
}

/// Length of the ICMPv6 header (type, code, checksum and four more bytes).
const HEADER_LEN: usize = 8;
/// Length of a neighbor message before its options.
const NDP_LEN: usize = field::NDP_TARGET.end;

const TYPE_DST_UNREACHABLE: u8 = 1;
const TYPE_PACKET_TOO_BIG: u8 = 2;
const TYPE_TIME_EXCEEDED: u8 = 3;
const TYPE_PARAM_PROBLEM: u8 = 4;
const TYPE_ECHO_REQUEST: u8 = 128;
const TYPE_ECHO_REPLY: u8 = 129;
const TYPE_NEIGHBOR_SOLICIT: u8 = 135;
const TYPE_NEIGHBOR_ADVERT: u8 = 136;

/// NDP option type of the source link-layer address (RFC 4861 §4.6.1).
const OPT_SOURCE_LLADDR: u8 = 1;
/// NDP option type of the target link-layer address (RFC 4861 §4.6.1).
const OPT_TARGET_LLADDR: u8 = 2;

const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;

/// A zero-copy view of an ICMPv6 message. The buffer is the whole message:
/// the IPv6 upper-layer payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Length of the ICMPv6 header, 8 bytes.
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Wraps a buffer without checking it (accessors may panic).
    pub const fn new_unchecked(buffer: T) -> Icmpv6Packet<T> {
        Icmpv6Packet { buffer }
    }

    /// Wraps a buffer, checking it holds the 8-byte header (see
    /// [`check_len`](Self::check_len)).
    pub fn new_checked(buffer: T) -> Result<Icmpv6Packet<T>, Icmpv6Error> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the buffer holds the 8-byte header, and the 24 bytes before
    /// the options if the type is a neighbor solicitation or advertisement
    /// (so that [`target_addr`](Self::target_addr) and
    /// [`ndp_options`](Self::ndp_options) do not panic).
    pub fn check_len(&self) -> Result<(), Icmpv6Error> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Icmpv6Error::Truncated);
        }
        if self.is_ndp() && b.len() < NDP_LEN {
            return Err(Icmpv6Error::Truncated);
        }
        Ok(())
    }

    fn is_ndp(&self) -> bool {
        matches!(
            self.msg_type(),
            TYPE_NEIGHBOR_SOLICIT | TYPE_NEIGHBOR_ADVERT
        )
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The message type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// The message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// The identifier of an echo request or reply.
    pub fn echo_ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ECHO_IDENT.start)
    }

    /// The sequence number of an echo request or reply.
    pub fn echo_seq_no(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ECHO_SEQNO.start)
    }

    /// The MTU of a packet too big (RFC 4443 §3.2).
    pub fn mtu(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::MTU_POINTER.start)
    }

    /// The pointer of a parameter problem (RFC 4443 §3.4): the offset of
    /// the offending byte in the invoking packet.
    pub fn pointer(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::MTU_POINTER.start)
    }

    /// The flags byte of a neighbor advertisement (R `0x80`, S `0x40`, O
    /// `0x20`).
    pub fn ndp_flags(&self) -> u8 {
        self.buffer.as_ref()[field::NDP_FLAGS]
    }

    /// The target address of a neighbor solicitation or advertisement.
    pub fn target_addr(&self) -> Ipv6Addr {
        let mut o = [0u8; 16];
        o.copy_from_slice(&self.buffer.as_ref()[field::NDP_TARGET]);
        Ipv6Addr::from(o)
    }

    /// Whether the checksum over the whole message, with the IPv6
    /// pseudo-header of `src` and `dst` (RFC 4443 §2.3), is correct.
    pub fn verify_checksum(&self, src: Ipv6Addr, dst: Ipv6Addr) -> bool {
        let b = self.buffer.as_ref();
        let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
        checksum::combine(&[
            checksum::pseudo_header_v6(src, dst, NEXT_HEADER_ICMPV6, len),
            checksum::data(b),
        ]) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Icmpv6Packet<&'a T> {
    /// The bytes after the 8-byte header: an echo's data, or an error's
    /// quote of the packet that caused it.
    pub fn data(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// The options of a neighbor message: the bytes after its first 24.
    pub fn ndp_options(&self) -> &'a [u8] {
        &self.buffer.as_ref()[NDP_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, v: u8) {
        self.buffer.as_mut()[field::TYPE] = v;
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, v: u8) {
        self.buffer.as_mut()[field::CODE] = v;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM.start, v);
    }

    /// Sets the identifier of an echo.
    pub fn set_echo_ident(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::ECHO_IDENT.start, v);
    }

    /// Sets the sequence number of an echo.
    pub fn set_echo_seq_no(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::ECHO_SEQNO.start, v);
    }

    /// Sets the MTU of a packet too big, or the pointer of a parameter
    /// problem (the same four bytes).
    pub fn set_mtu_or_pointer(&mut self, v: u32) {
        put_u32(self.buffer.as_mut(), field::MTU_POINTER.start, v);
    }

    /// The bytes after the header, mutably.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Computes the checksum over the whole message with the IPv6
    /// pseudo-header of `src` and `dst`, and writes it.
    pub fn fill_checksum(&mut self, src: Ipv6Addr, dst: Ipv6Addr) {
        self.set_checksum(0);
        let b = self.buffer.as_ref();
        let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
        let sum = checksum::combine(&[
            checksum::pseudo_header_v6(src, dst, NEXT_HEADER_ICMPV6, len),
            checksum::data(b),
        ]);
        self.set_checksum(!sum);
    }
}

/// A Neighbor Solicitation (RFC 4861 §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NdpNeighborSolicit {
    /// The address whose link-layer address is asked for.
    pub target_addr: Ipv6Addr,
    /// The source link-layer address option (absent when the source
    /// address is unspecified, in duplicate address detection).
    pub source_lladdr: Option<EthernetAddress>,
}

/// A Neighbor Advertisement (RFC 4861 §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NdpNeighborAdvert {
    /// The R flag: the sender is a router.
    pub router_flag: bool,
    /// The S flag: an answer to a solicitation.
    pub solicited_flag: bool,
    /// The O flag: the advertisement overrides a cached address.
    pub override_flag: bool,
    /// The address the advertisement is about.
    pub target_addr: Ipv6Addr,
    /// The target link-layer address option.
    pub target_lladdr: Option<EthernetAddress>,
}

/// The meaningful values of an ICMPv6 message, its data borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv6Repr<'a> {
    /// Destination unreachable, type 1 (RFC 4443 §3.1).
    DstUnreachable {
        /// 0 no route, 1 administratively prohibited, 2 beyond scope, 3
        /// address unreachable, 4 port unreachable, 5 source address
        /// failed policy, 6 reject route.
        code: u8,
        /// As much of the invoking packet as fits (see [`Icmpv6TcpQuote`]).
        quote: &'a [u8],
    },
    /// Packet too big, type 2 (RFC 4443 §3.2, used by RFC 8201).
    PacketTooBig {
        /// The MTU of the next-hop link.
        mtu: u32,
        /// As much of the invoking packet as fits.
        quote: &'a [u8],
    },
    /// Time exceeded, type 3 (RFC 4443 §3.3).
    TimeExceeded {
        /// 0 hop limit exceeded, 1 fragment reassembly time exceeded.
        code: u8,
        /// As much of the invoking packet as fits.
        quote: &'a [u8],
    },
    /// Parameter problem, type 4 (RFC 4443 §3.4).
    ParamProblem {
        /// 0 erroneous header field, 1 unrecognized next header, 2
        /// unrecognized option (see [`ParamProblemCode`](super::ParamProblemCode)).
        code: u8,
        /// Offset of the offending byte in the invoking packet.
        pointer: u32,
        /// As much of the invoking packet as fits.
        quote: &'a [u8],
    },
    /// Echo request, type 128 (RFC 4443 §4.1).
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// The data, echoed back in the reply.
        data: &'a [u8],
    },
    /// Echo reply, type 129 (RFC 4443 §4.2).
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// The data of the request.
        data: &'a [u8],
    },
    /// Neighbor solicitation, type 135.
    NeighborSolicit(NdpNeighborSolicit),
    /// Neighbor advertisement, type 136.
    NeighborAdvert(NdpNeighborAdvert),
}

/// The link-layer address options of a neighbor message (RFC 4861 §4.6):
/// (source, target). Unknown options are skipped; length 0 is an error.
fn parse_ndp_options(
    mut opts: &[u8],
) -> Result<(Option<EthernetAddress>, Option<EthernetAddress>), Icmpv6Error> {
    let (mut source, mut target) = (None, None);
    // Every option takes at least 8 bytes, so this ends.
    while let [opt_type, len8, ..] = *opts {
        let len = usize::from(len8) * 8;
        if len == 0 {
            return Err(Icmpv6Error::BadOption);
        }
        let opt = opts.get(..len).ok_or(Icmpv6Error::BadOption)?;
        if opt_type == OPT_SOURCE_LLADDR || opt_type == OPT_TARGET_LLADDR {
            let addr = match opt {
                [_, 1, a @ ..] => EthernetAddress::from_bytes(a),
                _ => None,
            }
            .ok_or(Icmpv6Error::BadOption)?;
            let slot = if opt_type == OPT_SOURCE_LLADDR {
                &mut source
            } else {
                &mut target
            };
            // The first one counts.
            slot.get_or_insert(addr);
        }
        opts = opts.get(len..).unwrap_or(&[]);
    }
    if !opts.is_empty() {
        // A single trailing byte: an option cut short.
        return Err(Icmpv6Error::BadOption);
    }
    Ok((source, target))
}

impl<'a> Icmpv6Repr<'a> {
    /// The most an error should quote of the invoking packet so that the
    /// whole error (IPv6 header, ICMPv6 header, quote) fits in the minimum
    /// IPv6 MTU of 1280 bytes (RFC 4443 §2.4 (c)): 1232 bytes.
    pub const MAX_QUOTE_LEN: usize = 1280 - 40 - HEADER_LEN;

    /// The checks of a neighbor message that need its IPv6 header (RFC 4861
    /// §7.1.1, §7.1.2), after [`parse`](Self::parse) did the others: the
    /// hop limit is 255; a solicitation from the unspecified address goes to
    /// a solicited-node multicast address and has no source link-layer
    /// address option; an advertisement to a multicast address has the S
    /// flag clear. Other messages pass. Fails with [`Icmpv6Error::BadNdp`].
    pub fn check_ndp(&self, ip: &super::Ipv6Repr) -> Result<(), Icmpv6Error> {
        let ok = match *self {
            Icmpv6Repr::NeighborSolicit(ns) => {
                let solicited_node = ip.dst_addr.segments()[..6] == [0xff02, 0, 0, 0, 0, 1]
                    && ip.dst_addr.octets()[12] == 0xff;
                ip.hop_limit == 255
                    && (!ip.src_addr.is_unspecified()
                        || (solicited_node && ns.source_lladdr.is_none()))
            }
            Icmpv6Repr::NeighborAdvert(na) => {
                ip.hop_limit == 255 && !(ip.dst_addr.is_multicast() && na.solicited_flag)
            }
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(Icmpv6Error::BadNdp)
        }
    }

    /// Parses an ICMPv6 message whose buffer is the whole message (the
    /// upper-layer payload of an IPv6 packet from `src` to `dst`). Checks in
    /// this order: length, checksum (with [`ChecksumPolicy::Verify`]), type,
    /// then for a neighbor message its code, target and options (RFC 4861
    /// §7.1.1, §7.1.2). The hop limit of 255 and the rules that depend on
    /// the IPv6 addresses are left to the caller.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Icmpv6Packet<&'a T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        checksum: ChecksumPolicy,
    ) -> Result<Icmpv6Repr<'a>, Icmpv6Error> {
        packet.check_len()?;
        if checksum == ChecksumPolicy::Verify && !packet.verify_checksum(src, dst) {
            return Err(Icmpv6Error::BadChecksum);
        }
        let data = packet.data();
        let code = packet.msg_code();
        Ok(match packet.msg_type() {
            TYPE_DST_UNREACHABLE => Icmpv6Repr::DstUnreachable { code, quote: data },
            TYPE_PACKET_TOO_BIG => Icmpv6Repr::PacketTooBig {
                mtu: packet.mtu(),
                quote: data,
            },
            TYPE_TIME_EXCEEDED => Icmpv6Repr::TimeExceeded { code, quote: data },
            TYPE_PARAM_PROBLEM => Icmpv6Repr::ParamProblem {
                code,
                pointer: packet.pointer(),
                quote: data,
            },
            TYPE_ECHO_REQUEST => Icmpv6Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            TYPE_ECHO_REPLY => Icmpv6Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            t @ (TYPE_NEIGHBOR_SOLICIT | TYPE_NEIGHBOR_ADVERT) => {
                let target_addr = packet.target_addr();
                if code != 0 || target_addr.is_multicast() {
                    return Err(Icmpv6Error::BadNdp);
                }
                let (source, target) = parse_ndp_options(packet.ndp_options())?;
                if t == TYPE_NEIGHBOR_SOLICIT {
                    Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit {
                        target_addr,
                        source_lladdr: source,
                    })
                } else {
                    let flags = packet.ndp_flags();
                    Icmpv6Repr::NeighborAdvert(NdpNeighborAdvert {
                        router_flag: flags & FLAG_ROUTER != 0,
                        solicited_flag: flags & FLAG_SOLICITED != 0,
                        override_flag: flags & FLAG_OVERRIDE != 0,
                        target_addr,
                        target_lladdr: target,
                    })
                }
            }
            _ => return Err(Icmpv6Error::UnknownType),
        })
    }

    /// The quote of an error message (`None` for an echo or a neighbor
    /// message).
    pub const fn quote(&self) -> Option<&'a [u8]> {
        match *self {
            Icmpv6Repr::DstUnreachable { quote, .. }
            | Icmpv6Repr::PacketTooBig { quote, .. }
            | Icmpv6Repr::TimeExceeded { quote, .. }
            | Icmpv6Repr::ParamProblem { quote, .. } => Some(quote),
            _ => None,
        }
    }

    /// The link-layer address option a neighbor message carries, if any.
    const fn lladdr(&self) -> Option<EthernetAddress> {
        match *self {
            Icmpv6Repr::NeighborSolicit(ns) => ns.source_lladdr,
            Icmpv6Repr::NeighborAdvert(na) => na.target_lladdr,
            _ => None,
        }
    }

    /// Length of the whole message: header, then data, quote or the target
    /// address and its option.
    pub const fn buffer_len(&self) -> usize {
        match *self {
            Icmpv6Repr::DstUnreachable { quote, .. }
            | Icmpv6Repr::PacketTooBig { quote, .. }
            | Icmpv6Repr::TimeExceeded { quote, .. }
            | Icmpv6Repr::ParamProblem { quote, .. } => HEADER_LEN + quote.len(),
            Icmpv6Repr::EchoRequest { data, .. } | Icmpv6Repr::EchoReply { data, .. } => {
                HEADER_LEN + data.len()
            }
            Icmpv6Repr::NeighborSolicit(_) | Icmpv6Repr::NeighborAdvert(_) => {
                NDP_LEN + if self.lladdr().is_some() { 8 } else { 0 }
            }
        }
    }

    /// Writes the message and its checksum (with the IPv6 pseudo-header of
    /// `src` and `dst`) into the first [`buffer_len`](Self::buffer_len)
    /// bytes of `packet` (the checksum covers exactly those bytes, so the
    /// buffer may be longer). Echoes and neighbor messages have code 0;
    /// unused and reserved bytes are written as zero.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Icmpv6Packet<&mut T>,
        src: Ipv6Addr,
        dst: Ipv6Addr,
    ) -> Result<(), EmitError> {
        let len = self.buffer_len();
        let msg = packet
            .buffer
            .as_mut()
            .get_mut(..len)
            .ok_or(EmitError::BufferTooSmall)?;
        let (msg_type, code, word, body): (u8, u8, u32, &[u8]) = match *self {
            Icmpv6Repr::DstUnreachable { code, quote } => (TYPE_DST_UNREACHABLE, code, 0, quote),
            Icmpv6Repr::PacketTooBig { mtu, quote } => (TYPE_PACKET_TOO_BIG, 0, mtu, quote),
            Icmpv6Repr::TimeExceeded { code, quote } => (TYPE_TIME_EXCEEDED, code, 0, quote),
            Icmpv6Repr::ParamProblem {
                code,
                pointer,
                quote,
            } => (TYPE_PARAM_PROBLEM, code, pointer, quote),
            Icmpv6Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => (
                TYPE_ECHO_REQUEST,
                0,
                u32::from(ident) << 16 | u32::from(seq_no),
                data,
            ),
            Icmpv6Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => (
                TYPE_ECHO_REPLY,
                0,
                u32::from(ident) << 16 | u32::from(seq_no),
                data,
            ),
            Icmpv6Repr::NeighborSolicit(_) => (TYPE_NEIGHBOR_SOLICIT, 0, 0, &[]),
            Icmpv6Repr::NeighborAdvert(na) => {
                let mut flags = 0u8;
                if na.router_flag {
                    flags |= FLAG_ROUTER;
                }
                if na.solicited_flag {
                    flags |= FLAG_SOLICITED;
                }
                if na.override_flag {
                    flags |= FLAG_OVERRIDE;
                }
                (TYPE_NEIGHBOR_ADVERT, 0, u32::from(flags) << 24, &[])
            }
        };
        msg[field::TYPE] = msg_type;
        msg[field::CODE] = code;
        put_u16(msg, field::CHECKSUM.start, 0);
        put_u32(msg, field::MTU_POINTER.start, word);
        match *self {
            Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit { target_addr, .. })
            | Icmpv6Repr::NeighborAdvert(NdpNeighborAdvert { target_addr, .. }) => {
                msg[field::NDP_TARGET].copy_from_slice(&target_addr.octets());
                if let Some(addr) = self.lladdr() {
                    let opt_type = if msg_type == TYPE_NEIGHBOR_SOLICIT {
                        OPT_SOURCE_LLADDR
                    } else {
                        OPT_TARGET_LLADDR
                    };
                    msg[NDP_LEN] = opt_type;
                    msg[NDP_LEN + 1] = 1;
                    msg[NDP_LEN + 2..NDP_LEN + 8].copy_from_slice(&addr.0);
                }
            }
            _ => msg[HEADER_LEN..].copy_from_slice(body),
        }
        let sum = checksum::combine(&[
            checksum::pseudo_header_v6(
                src,
                dst,
                NEXT_HEADER_ICMPV6,
                u32::try_from(len).unwrap_or(u32::MAX),
            ),
            checksum::data(msg),
        ]);
        put_u16(msg, field::CHECKSUM.start, !sum);
        Ok(())
    }
}

impl fmt::Display for Icmpv6Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Icmpv6Repr::DstUnreachable { code, .. } => {
                write!(f, "ICMP6, destination unreachable, code {code}")
            }
            Icmpv6Repr::PacketTooBig { mtu, .. } => write!(f, "ICMP6, packet too big, mtu {mtu}"),
            Icmpv6Repr::TimeExceeded { code, .. } => {
                write!(f, "ICMP6, time exceeded, code {code}")
            }
            Icmpv6Repr::ParamProblem { code, pointer, .. } => write!(
                f,
                "ICMP6, parameter problem, code {code}, pointer {pointer}"
            ),
            Icmpv6Repr::EchoRequest { ident, seq_no, .. } => {
                write!(f, "ICMP6, echo request, id {ident}, seq {seq_no}")
            }
            Icmpv6Repr::EchoReply { ident, seq_no, .. } => {
                write!(f, "ICMP6, echo reply, id {ident}, seq {seq_no}")
            }
            Icmpv6Repr::NeighborSolicit(ns) => {
                write!(
                    f,
                    "ICMP6, neighbor solicitation, who has {}",
                    ns.target_addr
                )
            }
            Icmpv6Repr::NeighborAdvert(na) => write!(
                f,
                "ICMP6, neighbor advertisement, tgt is {}",
                na.target_addr
            ),
        }
    }
}

/// What an ICMPv6 error quotes of a TCP segment that caused it: the IPv6
/// addresses, the ports and the sequence number (the first 8 bytes of the
/// TCP header), which RFC 5927 §4.1 checks against a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Icmpv6TcpQuote {
    /// Source address of the quoted packet (ours, if we sent it).
    pub src_addr: Ipv6Addr,
    /// Destination address of the quoted packet.
    pub dst_addr: Ipv6Addr,
    /// TCP source port.
    pub src_port: u16,
    /// TCP destination port.
    pub dst_port: u16,
    /// TCP sequence number.
    pub seq_number: SeqNum,
}

impl Icmpv6TcpQuote {
    /// Reads the quote of an ICMPv6 error: an IPv6 header (version 6), its
    /// extension headers (skipped by their lengths; a Fragment header is
    /// [`Icmpv6Error::QuoteNotTcp`]), then TCP with at least 8 bytes. The
    /// payload length is not checked (the packet is cut). Never panics.
    pub fn parse(quote: &[u8]) -> Result<Icmpv6TcpQuote, Icmpv6Error> {
        let header = quote
            .get(..Ipv6Packet::<&[u8]>::HEADER_LEN)
            .ok_or(Icmpv6Error::QuoteTruncated)?;
        let ip = Ipv6Packet::new_unchecked(header);
        if ip.version() != 6 {
            return Err(Icmpv6Error::QuoteNotTcp);
        }
        let rest = quote.get(header.len()..).unwrap_or(&[]);
        let upper = walk_quote(u8::from(ip.next_header()), rest).map_err(|e| match e {
            super::Ipv6ExtError::Truncated => Icmpv6Error::QuoteTruncated,
            _ => Icmpv6Error::QuoteNotTcp,
        })?;
        if upper.protocol != IpProtocol::Tcp {
            return Err(Icmpv6Error::QuoteNotTcp);
        }
        let tcp = upper.payload.get(..8).ok_or(Icmpv6Error::QuoteTruncated)?;
        Ok(Icmpv6TcpQuote {
            src_addr: ip.src_addr(),
            dst_addr: ip.dst_addr(),
            src_port: get_u16(tcp, 0),
            dst_port: get_u16(tcp, 2),
            seq_number: SeqNum::new(get_u32(tcp, 4)),
        })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    const A: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
    const B: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);
    const MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);

    fn parse(b: &[u8]) -> Result<Icmpv6Repr<'_>, Icmpv6Error> {
        Icmpv6Repr::parse(
            &Icmpv6Packet::new_unchecked(b),
            A,
            B,
            ChecksumPolicy::Verify,
        )
    }

    fn emit(r: &Icmpv6Repr<'_>, out: &mut [u8]) -> usize {
        r.emit(&mut Icmpv6Packet::new_unchecked(out), A, B).unwrap();
        r.buffer_len()
    }

    // Echo request 2001:2::1 > 2001:2::2, id 0x1234, seq 1, data "aaaa".
    // Checksum by hand: pseudo-header 2001+2+1 + 2001+2+2 + 000c + 003a =
    // 404f; message 8000 + 1234 + 0001 + 6161 + 6161 = 1 54f7 -> 54f8;
    // 404f + 54f8 = 9547, inverted 6ab8.
    const ECHO: [u8; 12] = [
        0x80, 0x00, 0x6a, 0xb8, 0x12, 0x34, 0x00, 0x01, 0x61, 0x61, 0x61, 0x61,
    ];

    #[test]
    fn echo() {
        let p = Icmpv6Packet::new_checked(&ECHO[..]).unwrap();
        assert!(p.verify_checksum(A, B));
        assert!(!p.verify_checksum(B, B));
        let r = parse(&ECHO).unwrap();
        assert_eq!(
            r,
            Icmpv6Repr::EchoRequest {
                ident: 0x1234,
                seq_no: 1,
                data: b"aaaa"
            }
        );
        assert_eq!(r.to_string(), "ICMP6, echo request, id 4660, seq 1");
        let mut out = [0xeeu8; 12];
        emit(&r, &mut out);
        assert_eq!(out, ECHO);
        assert_eq!(
            r.emit(&mut Icmpv6Packet::new_unchecked(&mut out[..11]), A, B),
            Err(EmitError::BufferTooSmall)
        );
    }

    /// A TCP/IPv6 packet 2001:2::1.45782 > 2001:2::2.5000 seq 918728658,
    /// cut after 8 bytes of TCP.
    fn quoted_syn() -> [u8; 48] {
        let mut q = [0u8; 48];
        q[..8].copy_from_slice(&[0x60, 0, 0, 0, 0, 40, 6, 64]);
        q[8..24].copy_from_slice(&A.octets());
        q[24..40].copy_from_slice(&B.octets());
        q[40..48].copy_from_slice(&[0xb2, 0xd6, 0x13, 0x88, 0x36, 0xc2, 0xaf, 0xd2]);
        q
    }

    #[test]
    fn errors_round_trip_and_quote() {
        let q = quoted_syn();
        let want = Icmpv6TcpQuote {
            src_addr: A,
            dst_addr: B,
            src_port: 45782,
            dst_port: 5000,
            seq_number: SeqNum::new(918728658),
        };
        for r in [
            Icmpv6Repr::DstUnreachable { code: 4, quote: &q },
            Icmpv6Repr::PacketTooBig {
                mtu: 1280,
                quote: &q,
            },
            Icmpv6Repr::PacketTooBig {
                mtu: u32::MAX,
                quote: &q,
            },
            Icmpv6Repr::TimeExceeded { code: 0, quote: &q },
            Icmpv6Repr::ParamProblem {
                code: 2,
                pointer: u32::MAX,
                quote: &q,
            },
            Icmpv6Repr::ParamProblem {
                code: 255,
                pointer: 0,
                quote: &q,
            },
        ] {
            let mut out = [0u8; 64];
            let n = emit(&r, &mut out);
            assert_eq!(n, 56);
            let back = parse(&out[..n]).unwrap();
            assert_eq!(back, r);
            assert_eq!(Icmpv6TcpQuote::parse(back.quote().unwrap()), Ok(want));
        }
        let mut out = [0u8; 64];
        emit(
            &Icmpv6Repr::PacketTooBig {
                mtu: 1280,
                quote: &q,
            },
            &mut out,
        );
        assert_eq!(out[..8], [2, 0, out[2], out[3], 0, 0, 0x05, 0x00]);
        assert_eq!(Icmpv6Packet::new_unchecked(&out[..]).mtu(), 1280);
    }

    #[test]
    fn quote_errors() {
        let q = quoted_syn();
        assert_eq!(
            Icmpv6TcpQuote::parse(&q[..47]),
            Err(Icmpv6Error::QuoteTruncated)
        );
        assert_eq!(
            Icmpv6TcpQuote::parse(&q[..39]),
            Err(Icmpv6Error::QuoteTruncated)
        );
        let mut v4 = q;
        v4[0] = 0x45;
        assert_eq!(Icmpv6TcpQuote::parse(&v4), Err(Icmpv6Error::QuoteNotTcp));
        let mut udp = q;
        udp[6] = 17;
        assert_eq!(Icmpv6TcpQuote::parse(&udp), Err(Icmpv6Error::QuoteNotTcp));
        // Through a Routing header with segments left 1 (not judged in a
        // quote) and a Destination Options header with an unknown option.
        let mut ext = [0u8; 64];
        ext[..40].copy_from_slice(&q[..40]);
        ext[6] = 43;
        ext[40..48].copy_from_slice(&[60, 0, 0, 1, 0, 0, 0, 0]);
        ext[48..56].copy_from_slice(&[6, 0, 0xff, 4, 0, 0, 0, 0]);
        ext[56..64].copy_from_slice(&q[40..48]);
        assert_eq!(
            Icmpv6TcpQuote::parse(&ext).unwrap().seq_number.get(),
            918728658
        );
        assert_eq!(
            Icmpv6TcpQuote::parse(&ext[..60]),
            Err(Icmpv6Error::QuoteTruncated)
        );
        assert_eq!(
            Icmpv6TcpQuote::parse(&ext[..50]),
            Err(Icmpv6Error::QuoteTruncated)
        );
        // A fragment.
        let mut frag = ext;
        frag[6] = 44;
        frag[40] = 6;
        assert_eq!(Icmpv6TcpQuote::parse(&frag), Err(Icmpv6Error::QuoteNotTcp));
    }

    /// A neighbor solicitation for 2001:2::2 from 2001:2::1 with its
    /// source link-layer address, as Linux sends it.
    fn ns() -> [u8; 32] {
        let mut b = [0u8; 32];
        b[0] = 135;
        b[8..24].copy_from_slice(&B.octets());
        b[24..32].copy_from_slice(&[1, 1, 0x02, 0, 0, 0, 0, 0x01]);
        let mut p = Icmpv6Packet::new_unchecked(&mut b[..]);
        p.fill_checksum(A, B);
        b
    }

    #[test]
    fn neighbor_solicit() {
        let b = ns();
        let r = parse(&b).unwrap();
        assert_eq!(
            r,
            Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit {
                target_addr: B,
                source_lladdr: Some(MAC),
            })
        );
        assert_eq!(
            r.to_string(),
            "ICMP6, neighbor solicitation, who has 2001:2::2"
        );
        let mut out = [0u8; 32];
        assert_eq!(emit(&r, &mut out), 32);
        assert_eq!(out, b);
        // Without the option (duplicate address detection).
        let dad = Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit {
            target_addr: B,
            source_lladdr: None,
        });
        let n = emit(&dad, &mut out);
        assert_eq!(n, 24);
        assert_eq!(parse(&out[..n]), Ok(dad));
    }

    #[test]
    fn neighbor_advert() {
        for flags in 0..8u8 {
            let r = Icmpv6Repr::NeighborAdvert(NdpNeighborAdvert {
                router_flag: flags & 1 != 0,
                solicited_flag: flags & 2 != 0,
                override_flag: flags & 4 != 0,
                target_addr: A,
                target_lladdr: (flags & 1 != 0).then_some(EthernetAddress([0xff; 6])),
            });
            let mut out = [0u8; 32];
            let n = emit(&r, &mut out);
            assert_eq!(parse(&out[..n]), Ok(r));
        }
        let r = Icmpv6Repr::NeighborAdvert(NdpNeighborAdvert {
            router_flag: false,
            solicited_flag: true,
            override_flag: true,
            target_addr: A,
            target_lladdr: Some(MAC),
        });
        let mut out = [0u8; 32];
        emit(&r, &mut out);
        assert_eq!(out[4..8], [0x60, 0, 0, 0]);
        assert_eq!(out[24..32], [2, 1, 0x02, 0, 0, 0, 0, 0x01]);
    }

    /// `ns()` with `opts` as its options, checksum redone.
    fn ns_with(opts: &[u8], out: &mut [u8; 64]) -> usize {
        out[..24].copy_from_slice(&ns()[..24]);
        out[24..24 + opts.len()].copy_from_slice(opts);
        let n = 24 + opts.len();
        Icmpv6Packet::new_unchecked(&mut out[..n]).fill_checksum(A, B);
        n
    }

    #[test]
    fn ndp_options() {
        let mut b = [0u8; 64];
        // Unknown option (type 14, nonce, 8 bytes) skipped, then the SLLA;
        // a second SLLA is ignored, a TLLA in a solicitation too.
        let n = ns_with(
            &[
                14, 1, 9, 9, 9, 9, 9, 9, 1, 1, 2, 0, 0, 0, 0, 1, 1, 1, 3, 3, 3, 3, 3, 3, 2, 1, 4,
                4, 4, 4, 4, 4,
            ],
            &mut b,
        );
        assert_eq!(
            parse(&b[..n]),
            Ok(Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit {
                target_addr: B,
                source_lladdr: Some(MAC),
            }))
        );
        // Length 0 is an error (RFC 4861 §4.6), even of an unknown type.
        let n = ns_with(&[14, 0, 0, 0, 0, 0, 0, 0], &mut b);
        assert_eq!(parse(&b[..n]), Err(Icmpv6Error::BadOption));
        let n = ns_with(&[1, 0, 0, 0, 0, 0, 0, 0], &mut b);
        assert_eq!(parse(&b[..n]), Err(Icmpv6Error::BadOption));
        // Past the end.
        let n = ns_with(&[14, 2, 0, 0, 0, 0, 0, 0], &mut b);
        assert_eq!(parse(&b[..n]), Err(Icmpv6Error::BadOption));
        // A lone trailing byte.
        let n = ns_with(&[14], &mut b);
        assert_eq!(parse(&b[..n]), Err(Icmpv6Error::BadOption));
        // A link-layer option that is not 8 bytes.
        let n = ns_with(&[1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &mut b);
        assert_eq!(parse(&b[..n]), Err(Icmpv6Error::BadOption));
    }

    #[test]
    fn ndp_checks_with_the_ip_header() {
        let ip = super::super::Ipv6Repr {
            src_addr: A,
            dst_addr: "ff02::1:ff00:2".parse().unwrap(),
            next_header: IpProtocol::Unknown(58),
            payload_len: 32,
            hop_limit: 255,
            dscp: 0,
            ecn: 0,
            flow_label: 0,
        };
        let ns = |source_lladdr| {
            Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit {
                target_addr: B,
                source_lladdr,
            })
        };
        assert_eq!(ns(Some(MAC)).check_ndp(&ip), Ok(()));
        let routed = super::super::Ipv6Repr {
            hop_limit: 254,
            ..ip
        };
        assert_eq!(ns(Some(MAC)).check_ndp(&routed), Err(Icmpv6Error::BadNdp));
        // Duplicate address detection: from ::, to the solicited-node
        // address, without the option.
        let dad = super::super::Ipv6Repr {
            src_addr: Ipv6Addr::UNSPECIFIED,
            ..ip
        };
        assert_eq!(ns(None).check_ndp(&dad), Ok(()));
        assert_eq!(ns(Some(MAC)).check_ndp(&dad), Err(Icmpv6Error::BadNdp));
        let dad_unicast = super::super::Ipv6Repr { dst_addr: B, ..dad };
        assert_eq!(ns(None).check_ndp(&dad_unicast), Err(Icmpv6Error::BadNdp));
        let na = |solicited_flag| {
            Icmpv6Repr::NeighborAdvert(NdpNeighborAdvert {
                router_flag: false,
                solicited_flag,
                override_flag: true,
                target_addr: B,
                target_lladdr: None,
            })
        };
        let to_all = super::super::Ipv6Repr {
            dst_addr: "ff02::1".parse().unwrap(),
            ..ip
        };
        assert_eq!(na(false).check_ndp(&to_all), Ok(()));
        assert_eq!(na(true).check_ndp(&to_all), Err(Icmpv6Error::BadNdp));
        let to_a = super::super::Ipv6Repr { dst_addr: A, ..ip };
        assert_eq!(na(true).check_ndp(&to_a), Ok(()));
        let echo = Icmpv6Repr::EchoRequest {
            ident: 0,
            seq_no: 0,
            data: &[],
        };
        assert_eq!(echo.check_ndp(&routed), Ok(()));
        assert_eq!(Icmpv6Repr::MAX_QUOTE_LEN, 1232);
    }

    #[test]
    fn ndp_validation_and_lengths() {
        let mut b = ns();
        b[1] = 1;
        Icmpv6Packet::new_unchecked(&mut b[..]).fill_checksum(A, B);
        assert_eq!(parse(&b), Err(Icmpv6Error::BadNdp));
        let mut m = ns();
        m[8] = 0xff;
        Icmpv6Packet::new_unchecked(&mut m[..]).fill_checksum(A, B);
        assert_eq!(parse(&m), Err(Icmpv6Error::BadNdp));
        // A neighbor message shorter than 24 bytes.
        assert_eq!(
            Icmpv6Packet::new_checked(&ns()[..23]),
            Err(Icmpv6Error::Truncated)
        );
        assert_eq!(parse(&ns()[..23]), Err(Icmpv6Error::Truncated));
        assert_eq!(parse(&ECHO[..7]), Err(Icmpv6Error::Truncated));
        assert_eq!(parse(&[]), Err(Icmpv6Error::Truncated));
        let mut bad = ECHO;
        bad[8] ^= 1;
        assert_eq!(parse(&bad), Err(Icmpv6Error::BadChecksum));
        fn skip(b: &[u8]) -> Result<Icmpv6Repr<'_>, Icmpv6Error> {
            Icmpv6Repr::parse(&Icmpv6Packet::new_unchecked(b), A, B, ChecksumPolicy::Skip)
        }
        assert!(skip(&bad).is_ok());
        let mut unknown = ECHO;
        unknown[0] = 133; // router solicitation
        assert_eq!(skip(&unknown), Err(Icmpv6Error::UnknownType));
    }
}
