//! IPv6 (RFC 8200) headers, and the walk over the extension headers
//! (RFC 8200 §4) to the upper-layer header.

use core::fmt;
use core::net::Ipv6Addr;

use super::{get_u16, get_u32, put_u16, put_u32, EmitError, IpProtocol};

/// Next header value of a Hop-by-Hop Options header (RFC 8200 §4.3).
pub const NEXT_HEADER_HOP_BY_HOP: u8 = 0;
/// Next header value of a Routing header (RFC 8200 §4.4).
pub const NEXT_HEADER_ROUTING: u8 = 43;
/// Next header value of a Fragment header (RFC 8200 §4.5).
pub const NEXT_HEADER_FRAGMENT: u8 = 44;
/// Next header value of ICMPv6 (RFC 4443).
pub const NEXT_HEADER_ICMPV6: u8 = 58;
/// Next header value "No Next Header" (RFC 8200 §4.7).
pub const NEXT_HEADER_NONE: u8 = 59;
/// Next header value of a Destination Options header (RFC 8200 §4.6).
pub const NEXT_HEADER_DEST_OPTS: u8 = 60;

/// At most this many extension headers are walked by
/// [`Ipv6Packet::upper_layer`] and [`walk_ext_headers`]; a packet with more
/// is [`Ipv6ExtError::TooManyHeaders`]. (Every header takes at least 8
/// bytes, so the walk ends anyway; the bound keeps it short.)
pub const MAX_EXT_HEADERS: usize = 8;

/// Why an IPv6 packet was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv6Error {
    /// Shorter than the 40-byte header.
    Truncated,
    /// The version field is not 6.
    BadVersion,
    /// The payload length runs beyond the buffer.
    BadPayloadLen,
}

impl Ipv6Error {
    /// A short stable name, for counters and logs.
    pub const fn reason(&self) -> &'static str {
        match self {
            Ipv6Error::Truncated => "ipv6_truncated",
            Ipv6Error::BadVersion => "ipv6_bad_version",
            Ipv6Error::BadPayloadLen => "ipv6_bad_payload_len",
        }
    }
}

impl fmt::Display for Ipv6Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ipv6Error::Truncated => "IPv6 packet shorter than its 40-byte header",
            Ipv6Error::BadVersion => "IP version is not 6",
            Ipv6Error::BadPayloadLen => "IPv6 payload length beyond the packet",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Ipv6Error {}

mod field {
    use core::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Range<usize> = 8..24;
    pub const DST_ADDR: Range<usize> = 24..40;
}

/// Length of the IPv6 header.
const HEADER_LEN: usize = field::DST_ADDR.end;

const FLOW_MASK: u32 = 0x000f_ffff;

/// Reads the 16 bytes at `range` as an address. Callers guarantee the range.
fn addr_at(b: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&b[at..at + 16]);
    Ipv6Addr::from(o)
}

/// A zero-copy view of an IPv6 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Length of the IPv6 header, 40 bytes.
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Wraps a buffer without checking it (accessors may panic).
    pub const fn new_unchecked(buffer: T) -> Ipv6Packet<T> {
        Ipv6Packet { buffer }
    }

    /// Wraps a buffer, checking that the header and the payload length are
    /// consistent with it (see [`check_len`](Self::check_len)).
    pub fn new_checked(buffer: T) -> Result<Ipv6Packet<T>, Ipv6Error> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the buffer holds 40 bytes and `40 + payload_len <= len`.
    /// Bytes after the payload (Ethernet padding) are allowed. The version
    /// is not checked here.
    pub fn check_len(&self) -> Result<(), Ipv6Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Ipv6Error::Truncated);
        }
        if HEADER_LEN + usize::from(self.payload_len()) > len {
            return Err(Ipv6Error::BadPayloadLen);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn ver_tc_flow(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::VER_TC_FLOW.start)
    }

    /// The version field (6 for IPv6).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// The traffic class (RFC 8200 §7): DSCP in the upper 6 bits, ECN in
    /// the lower 2.
    pub fn traffic_class(&self) -> u8 {
        (self.ver_tc_flow() >> 20) as u8
    }

    /// Differentiated services code point (RFC 2474).
    pub fn dscp(&self) -> u8 {
        self.traffic_class() >> 2
    }

    /// Explicit congestion notification bits (RFC 3168).
    pub fn ecn(&self) -> u8 {
        self.traffic_class() & 0x03
    }

    /// The 20-bit flow label (RFC 6437).
    pub fn flow_label(&self) -> u32 {
        self.ver_tc_flow() & FLOW_MASK
    }

    /// Payload length in bytes: everything after the 40-byte header,
    /// extension headers included.
    pub fn payload_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// The next header: the first extension header or the upper layer.
    pub fn next_header(&self) -> IpProtocol {
        self.buffer.as_ref()[field::NXT_HDR].into()
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), field::SRC_ADDR.start)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), field::DST_ADDR.start)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv6Packet<&'a T> {
    /// The payload: bytes `40 .. 40 + payload_len`, so that Ethernet
    /// padding after the packet is left out.
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[HEADER_LEN..HEADER_LEN + usize::from(self.payload_len())]
    }

    /// Walks the extension headers of the payload to the upper-layer header
    /// (see [`walk_ext_headers`]). Never panics, whatever the view was made
    /// with.
    pub fn upper_layer(&self) -> Result<Ipv6UpperLayer<'a>, Ipv6ExtError> {
        let b = self.buffer.as_ref();
        let next = *b.get(field::NXT_HDR).ok_or(Ipv6ExtError::Truncated)?;
        let end = HEADER_LEN
            + usize::from(get_u16(
                b.get(..HEADER_LEN).ok_or(Ipv6ExtError::Truncated)?,
                4,
            ));
        let payload = b.get(HEADER_LEN..end).ok_or(Ipv6ExtError::Truncated)?;
        walk_ext_headers(next, payload)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    fn set_ver_tc_flow(&mut self, v: u32) {
        put_u32(self.buffer.as_mut(), field::VER_TC_FLOW.start, v);
    }

    /// Sets the version field (4 bits; higher bits are dropped).
    pub fn set_version(&mut self, v: u8) {
        let w = self.ver_tc_flow() & 0x0fff_ffff;
        self.set_ver_tc_flow(w | u32::from(v & 0x0f) << 28);
    }

    /// Sets the traffic class (DSCP and ECN).
    pub fn set_traffic_class(&mut self, v: u8) {
        let w = self.ver_tc_flow() & 0xf00f_ffff;
        self.set_ver_tc_flow(w | u32::from(v) << 20);
    }

    /// Sets the DSCP (6 bits; higher bits are dropped).
    pub fn set_dscp(&mut self, v: u8) {
        let tc = (self.traffic_class() & 0x03) | (v << 2);
        self.set_traffic_class(tc);
    }

    /// Sets the ECN bits (2 bits; higher bits are dropped).
    pub fn set_ecn(&mut self, v: u8) {
        let tc = (self.traffic_class() & 0xfc) | (v & 0x03);
        self.set_traffic_class(tc);
    }

    /// Sets the flow label (20 bits; higher bits are dropped).
    pub fn set_flow_label(&mut self, v: u32) {
        let w = self.ver_tc_flow() & !FLOW_MASK;
        self.set_ver_tc_flow(w | (v & FLOW_MASK));
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::LENGTH.start, v);
    }

    /// Sets the next header.
    pub fn set_next_header(&mut self, p: IpProtocol) {
        self.buffer.as_mut()[field::NXT_HDR] = p.into();
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, v: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = v;
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }

    /// The payload (`40 .. 40 + payload_len`), mutably.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

/// The meaningful values of an IPv6 header. Extension headers are part of
/// the payload: see [`Ipv6Packet::upper_layer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Repr {
    /// Source address.
    pub src_addr: Ipv6Addr,
    /// Destination address.
    pub dst_addr: Ipv6Addr,
    /// The next header: the first extension header or the upper layer.
    pub next_header: IpProtocol,
    /// Length of the payload in bytes, extension headers included.
    pub payload_len: usize,
    /// Hop limit.
    pub hop_limit: u8,
    /// Differentiated services code point (6 bits of the traffic class).
    pub dscp: u8,
    /// Explicit congestion notification (2 bits of the traffic class).
    pub ecn: u8,
    /// Flow label (20 bits).
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Length of the header [`emit`](Self::emit) writes, 40 bytes.
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Parses an IPv6 header, checking in this order: length
    /// ([`Ipv6Error::Truncated`]), version, payload length. (IPv6 has no
    /// header checksum.)
    #[inline(always)]
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Ipv6Packet<&T>) -> Result<Ipv6Repr, Ipv6Error> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(Ipv6Error::Truncated);
        }
        if packet.version() != 6 {
            return Err(Ipv6Error::BadVersion);
        }
        packet.check_len()?;
        Ok(Ipv6Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            next_header: packet.next_header(),
            payload_len: usize::from(packet.payload_len()),
            hop_limit: packet.hop_limit(),
            dscp: packet.dscp(),
            ecn: packet.ecn(),
            flow_label: packet.flow_label(),
        })
    }

    /// Length of the header [`emit`](Self::emit) writes, 40 bytes.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Length of the whole packet, `40 + payload_len`.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the header into the first 40 bytes of `packet`; the payload
    /// (which may follow in the same buffer, or be sent after it by a
    /// gather write) is left for the caller to write.
    ///
    /// Values wider than their field are cut to it: `dscp` to 6 bits, `ecn`
    /// to 2, `flow_label` to 20. Fails with [`EmitError::PayloadTooLarge`]
    /// if the payload length does not fit in 16 bits (no jumbograms, RFC
    /// 2675), [`EmitError::BufferTooSmall`] if the buffer is shorter than
    /// the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Ipv6Packet<&mut T>,
    ) -> Result<(), EmitError> {
        let payload_len =
            u16::try_from(self.payload_len).map_err(|_| EmitError::PayloadTooLarge)?;
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(EmitError::BufferTooSmall);
        }
        let b = packet.buffer.as_mut();
        let tc = (self.dscp << 2) | (self.ecn & 0x03);
        put_u32(
            b,
            field::VER_TC_FLOW.start,
            6 << 28 | u32::from(tc) << 20 | (self.flow_label & FLOW_MASK),
        );
        put_u16(b, field::LENGTH.start, payload_len);
        b[field::NXT_HDR] = self.next_header.into();
        b[field::HOP_LIMIT] = self.hop_limit;
        b[field::SRC_ADDR].copy_from_slice(&self.src_addr.octets());
        b[field::DST_ADDR].copy_from_slice(&self.dst_addr.octets());
        Ok(())
    }
}

impl fmt::Display for Ipv6Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IP6 (class 0x{:x}, flowlabel 0x{:05x}, hlim {}, next-header {}, payload length {}) {} > {}",
            (self.dscp << 2) | self.ecn,
            self.flow_label,
            self.hop_limit,
            self.next_header,
            self.payload_len,
            self.src_addr,
            self.dst_addr
        )
    }
}

// ---- extension headers ----------------------------------------------------

/// The code of an ICMPv6 Parameter Problem (RFC 4443 §3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamProblemCode {
    /// 0: erroneous header field encountered.
    ErroneousHeaderField,
    /// 1: unrecognized Next Header type encountered.
    UnrecognizedNextHeader,
    /// 2: unrecognized IPv6 option encountered.
    UnrecognizedOption,
}

impl From<ParamProblemCode> for u8 {
    fn from(c: ParamProblemCode) -> u8 {
        match c {
            ParamProblemCode::ErroneousHeaderField => 0,
            ParamProblemCode::UnrecognizedNextHeader => 1,
            ParamProblemCode::UnrecognizedOption => 2,
        }
    }
}

/// Whether an ICMPv6 Parameter Problem should be sent for a discarded
/// packet (RFC 8200 §4.2, the two high bits of an unrecognized option type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcmpSend {
    /// Send it (option type `10xxxxxx`, and every header error).
    Always,
    /// Send it only if the packet's destination is not multicast (option
    /// type `11xxxxxx`).
    UnlessMulticast,
    /// Send nothing (option type `01xxxxxx`: discard silently).
    Never,
}

/// What an ICMPv6 Parameter Problem about a discarded packet would carry
/// (RFC 4443 §3.4). Nothing is sent by the parser; the caller decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParamProblem {
    /// The ICMPv6 code.
    pub code: ParamProblemCode,
    /// Offset of the offending byte from the start of the IPv6 header.
    pub pointer: u32,
    /// Whether to send the message at all.
    pub send: IcmpSend,
}

/// Why the walk over the extension headers stopped without reaching an
/// upper-layer header. Every case means: discard the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ipv6ExtError {
    /// An extension header runs past the payload (discard silently).
    Truncated,
    /// An option runs past its header, or a known option has the wrong
    /// length (discard silently).
    BadOption,
    /// More than [`MAX_EXT_HEADERS`] extension headers (discard silently).
    TooManyHeaders,
    /// A Fragment header (RFC 8200 §4.5): fragments are not reassembled,
    /// they are dropped like IPv4 fragments. `offset` is where the Fragment
    /// header starts, from the start of the IPv6 header.
    Fragment {
        /// Offset of the Fragment header in the packet.
        offset: usize,
        /// Fragment offset in bytes (a multiple of 8).
        frag_offset: u16,
        /// The M (more fragments) flag.
        more_frags: bool,
        /// Identification.
        ident: u32,
    },
    /// Discard, and answer with an ICMPv6 Parameter Problem as `send` says:
    /// an unrecognized option (RFC 8200 §4.2), a Routing header with
    /// Segments Left above zero (RFC 8200 §4.4, pointing at its Routing
    /// Type), or a Hop-by-Hop header not first (RFC 8200 §4.1, code 1,
    /// pointing at the Next Header field that names it).
    ParameterProblem(ParamProblem),
}

impl Ipv6ExtError {
    /// A short stable name, for counters and logs.
    pub const fn reason(&self) -> &'static str {
        match self {
            Ipv6ExtError::Truncated => "ipv6_ext_truncated",
            Ipv6ExtError::BadOption => "ipv6_ext_bad_option",
            Ipv6ExtError::TooManyHeaders => "ipv6_ext_too_many",
            Ipv6ExtError::Fragment { .. } => "ipv6_fragment",
            Ipv6ExtError::ParameterProblem(_) => "ipv6_parameter_problem",
        }
    }
}

impl fmt::Display for Ipv6ExtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ipv6ExtError::Truncated => f.write_str("IPv6 extension header beyond the payload"),
            Ipv6ExtError::BadOption => f.write_str("malformed IPv6 option"),
            Ipv6ExtError::TooManyHeaders => f.write_str("too many IPv6 extension headers"),
            Ipv6ExtError::Fragment { .. } => f.write_str("IPv6 fragment"),
            Ipv6ExtError::ParameterProblem(p) => write!(
                f,
                "IPv6 parameter problem (code {}, pointer {})",
                u8::from(p.code),
                p.pointer
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Ipv6ExtError {}

/// Where the upper-layer header of an IPv6 packet is, after the extension
/// headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6UpperLayer<'a> {
    /// The upper-layer protocol (any value that is not an extension header
    /// this walk knows; [`NEXT_HEADER_NONE`] included).
    pub protocol: IpProtocol,
    /// Offset of the upper-layer header from the start of the IPv6 header.
    pub offset: usize,
    /// Offset, from the start of the IPv6 header, of the Next Header field
    /// that names `protocol`: the pointer of a Parameter Problem code 1 if
    /// the caller does not know the protocol (RFC 8200 §4).
    pub next_header_pointer: usize,
    /// The upper-layer header and data.
    pub payload: &'a [u8],
}

/// The two high bits of an option type: what to do when it is not
/// recognized (RFC 8200 §4.2).
fn unrecognized_option(opt_type: u8, pointer: usize) -> Ipv6ExtError {
    let send = match opt_type >> 6 {
        0 => return Ipv6ExtError::BadOption, // not reached: 00 is skipped
        1 => IcmpSend::Never,
        2 => IcmpSend::Always,
        _ => IcmpSend::UnlessMulticast,
    };
    Ipv6ExtError::ParameterProblem(ParamProblem {
        code: ParamProblemCode::UnrecognizedOption,
        pointer: u32::try_from(pointer).unwrap_or(u32::MAX),
        send,
    })
}

/// Checks the options of a Hop-by-Hop or Destination Options header
/// (RFC 8200 §4.2). `opts` is the header after its two first bytes; `base`
/// is the offset of `opts` in the packet, for the pointer.
///
/// Known options: Pad1 (0), PadN (1), and in Hop-by-Hop the Router Alert
/// (5, RFC 2711, 2 bytes of data). Unknown types whose two high bits are 00
/// are skipped; the others are reported as the bits say.
fn check_options(opts: &[u8], base: usize, hop_by_hop: bool) -> Result<(), Ipv6ExtError> {
    let mut at = 0;
    while let Some(&opt_type) = opts.get(at) {
        if opt_type == 0 {
            // Pad1: a single byte, no length.
            at += 1;
            continue;
        }
        let len = usize::from(*opts.get(at + 1).ok_or(Ipv6ExtError::BadOption)?);
        let end = at + 2 + len;
        if end > opts.len() {
            return Err(Ipv6ExtError::BadOption);
        }
        match opt_type {
            1 => {}
            5 if hop_by_hop => {
                if len != 2 {
                    return Err(Ipv6ExtError::BadOption);
                }
            }
            t if t >> 6 == 0 => {}
            t => return Err(unrecognized_option(t, base + at)),
        }
        at = end;
    }
    Ok(())
}

/// Walks the extension headers (RFC 8200 §4) of an IPv6 payload to the
/// upper-layer header. `next_header` is the Next Header field of the IPv6
/// header; `payload` is the IPv6 payload (`payload_len` bytes after the
/// 40-byte header). Offsets and pointers are counted from the start of the
/// IPv6 header.
///
/// - Hop-by-Hop Options (0) only right after the IPv6 header; anywhere
///   else it is an unrecognized Next Header (RFC 8200 §4.1: Parameter
///   Problem code 1, pointer at the Next Header field naming it).
/// - Hop-by-Hop and Destination Options (60): their options are checked
///   (RFC 8200 §4.2), then skipped.
/// - Routing (43): skipped when Segments Left is 0; otherwise Parameter
///   Problem code 0 pointing at its Routing Type (RFC 8200 §4.4), since no
///   routing type is processed by this host.
/// - Fragment (44): [`Ipv6ExtError::Fragment`].
/// - Anything else is the upper layer, returned without a look at it
///   (No Next Header, 59, included).
///
/// At most [`MAX_EXT_HEADERS`] headers are walked. Never panics.
pub fn walk_ext_headers(
    next_header: u8,
    payload: &[u8],
) -> Result<Ipv6UpperLayer<'_>, Ipv6ExtError> {
    walk(next_header, payload, true)
}

/// [`walk_ext_headers`]; with `strict` false (for a quote in an ICMPv6
/// error, RFC 4443 §2.4), options are not looked at and a Routing header is
/// skipped whatever its Segments Left.
fn walk(mut next: u8, payload: &[u8], strict: bool) -> Result<Ipv6UpperLayer<'_>, Ipv6ExtError> {
    let mut at = 0usize; // offset in `payload`
    let mut next_ptr = field::NXT_HDR; // offset in the packet of `next`
    for count in 0..=MAX_EXT_HEADERS {
        let known = matches!(
            next,
            NEXT_HEADER_HOP_BY_HOP
                | NEXT_HEADER_ROUTING
                | NEXT_HEADER_FRAGMENT
                | NEXT_HEADER_DEST_OPTS
        );
        if !known {
            return Ok(Ipv6UpperLayer {
                protocol: next.into(),
                offset: HEADER_LEN + at,
                next_header_pointer: next_ptr,
                payload: payload.get(at..).ok_or(Ipv6ExtError::Truncated)?,
            });
        }
        if count == MAX_EXT_HEADERS {
            return Err(Ipv6ExtError::TooManyHeaders);
        }
        if next == NEXT_HEADER_HOP_BY_HOP && at != 0 && strict {
            // RFC 8200 §4.1: Hop-by-Hop only immediately after the header.
            return Err(Ipv6ExtError::ParameterProblem(ParamProblem {
                code: ParamProblemCode::UnrecognizedNextHeader,
                pointer: u32::try_from(next_ptr).unwrap_or(u32::MAX),
                send: IcmpSend::Always,
            }));
        }
        // Every extension header starts with Next Header and (but for
        // Fragment) Hdr Ext Len in 8-octet units, not counting the first 8.
        let head = payload.get(at..at + 8).ok_or(Ipv6ExtError::Truncated)?;
        let len = if next == NEXT_HEADER_FRAGMENT {
            8
        } else {
            (usize::from(head[1]) + 1) * 8
        };
        let header = payload.get(at..at + len).ok_or(Ipv6ExtError::Truncated)?;
        let here = HEADER_LEN + at;
        match next {
            NEXT_HEADER_FRAGMENT => {
                // RFC 8200 §4.5: offset (13 bits, 8-octet units), 2
                // reserved bits, M; then the identification.
                let off_m = get_u16(header, 2);
                return Err(Ipv6ExtError::Fragment {
                    offset: here,
                    frag_offset: off_m & 0xfff8,
                    more_frags: off_m & 1 != 0,
                    ident: get_u32(header, 4),
                });
            }
            NEXT_HEADER_ROUTING => {
                // RFC 8200 §4.4: type at 2, segments left at 3.
                if strict && header[3] != 0 {
                    return Err(Ipv6ExtError::ParameterProblem(ParamProblem {
                        code: ParamProblemCode::ErroneousHeaderField,
                        pointer: u32::try_from(here + 2).unwrap_or(u32::MAX),
                        send: IcmpSend::Always,
                    }));
                }
            }
            _ => {
                if strict {
                    check_options(&header[2..], here + 2, next == NEXT_HEADER_HOP_BY_HOP)?;
                }
            }
        }
        next = header[0];
        next_ptr = here;
        at += len;
    }
    // The loop returns by its last turn.
    Err(Ipv6ExtError::TooManyHeaders)
}

/// Skips the extension headers of a quoted (and perhaps cut) IPv6 packet
/// without judging them, for the quote in an ICMPv6 error.
pub(crate) fn walk_quote(
    next_header: u8,
    payload: &[u8],
) -> Result<Ipv6UpperLayer<'_>, Ipv6ExtError> {
    walk(next_header, payload, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);
    const DST: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);

    /// A header: traffic class 0xb9 (DSCP 46, ECN 1), flow label 0xabcde,
    /// payload 4 bytes of TCP, hop limit 64; then 2 bytes of padding.
    fn packet() -> [u8; 46] {
        let mut b = [0u8; 46];
        b[..8].copy_from_slice(&[0x6b, 0x9a, 0xbc, 0xde, 0x00, 0x04, 0x06, 0x40]);
        b[8..24].copy_from_slice(&SRC.octets());
        b[24..40].copy_from_slice(&DST.octets());
        b[40..44].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        b
    }

    fn repr() -> Ipv6Repr {
        Ipv6Repr {
            src_addr: SRC,
            dst_addr: DST,
            next_header: IpProtocol::Tcp,
            payload_len: 4,
            hop_limit: 64,
            dscp: 46,
            ecn: 1,
            flow_label: 0xabcde,
        }
    }

    #[test]
    fn deconstruct() {
        let b = packet();
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xb9);
        assert_eq!((p.dscp(), p.ecn()), (46, 1));
        assert_eq!(p.flow_label(), 0xabcde);
        assert_eq!(p.payload_len(), 4);
        assert_eq!(p.next_header(), IpProtocol::Tcp);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!((p.src_addr(), p.dst_addr()), (SRC, DST));
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(Ipv6Repr::parse(&p), Ok(repr()));
        let up = p.upper_layer().unwrap();
        assert_eq!(up.protocol, IpProtocol::Tcp);
        assert_eq!((up.offset, up.next_header_pointer), (40, 6));
        assert_eq!(up.payload, &[0xde, 0xad, 0xbe, 0xef]);
    }

    #[test]
    fn construct() {
        let mut buf = [0xffu8; 44];
        buf[40..].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        repr()
            .emit(&mut Ipv6Packet::new_unchecked(&mut buf[..]))
            .unwrap();
        assert_eq!(buf[..], packet()[..44]);
        // The header alone fits (the payload may be sent after it by a
        // gather write); less than the header does not.
        assert_eq!(
            repr().emit(&mut Ipv6Packet::new_unchecked(&mut buf[..40])),
            Ok(())
        );
        assert_eq!(buf[..40], packet()[..40]);
        assert_eq!(
            repr().emit(&mut Ipv6Packet::new_unchecked(&mut buf[..39])),
            Err(EmitError::BufferTooSmall)
        );
        let big = Ipv6Repr {
            payload_len: 65536,
            ..repr()
        };
        assert_eq!(
            big.emit(&mut Ipv6Packet::new_unchecked(&mut buf[..])),
            Err(EmitError::PayloadTooLarge)
        );
    }

    #[test]
    fn fields_at_extremes() {
        let mut b = [0u8; 40];
        let mut p = Ipv6Packet::new_unchecked(&mut b[..]);
        p.set_version(6);
        p.set_traffic_class(0xff);
        p.set_flow_label(u32::MAX);
        p.set_payload_len(0);
        p.set_hop_limit(255);
        p.set_next_header(IpProtocol::Unknown(255));
        p.set_src_addr(Ipv6Addr::from(u128::MAX));
        p.set_dst_addr(Ipv6Addr::UNSPECIFIED);
        assert_eq!(b[..4], [0x6f, 0xff, 0xff, 0xff]);
        let r = Ipv6Repr::parse(&Ipv6Packet::new_unchecked(&b[..])).unwrap();
        assert_eq!((r.dscp, r.ecn, r.flow_label), (63, 3, 0xfffff));
        assert_eq!(r.hop_limit, 255);
        let mut out = [0u8; 40];
        r.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, b);
        let mut p = Ipv6Packet::new_unchecked(&mut b[..]);
        p.set_dscp(0);
        p.set_ecn(2);
        p.set_flow_label(0);
        assert_eq!(b[..4], [0x60, 0x20, 0, 0]);
        // Wide values are cut on emit.
        let wide = Ipv6Repr {
            dscp: 0xff,
            ecn: 0xff,
            flow_label: u32::MAX,
            payload_len: 0,
            ..repr()
        };
        wide.emit(&mut Ipv6Packet::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out[..4], [0x6f, 0xff, 0xff, 0xff]);
        // Largest payload length.
        let max = Ipv6Repr {
            payload_len: 65535,
            ..repr()
        };
        assert_eq!(max.buffer_len(), 65575);
    }

    #[test]
    fn errors() {
        let b = packet();
        let parse = |b: &[u8]| Ipv6Repr::parse(&Ipv6Packet::new_unchecked(b));
        assert_eq!(parse(&b[..39]), Err(Ipv6Error::Truncated));
        assert_eq!(parse(&[]), Err(Ipv6Error::Truncated));
        let mut v4 = b;
        v4[0] = 0x4b;
        assert_eq!(parse(&v4), Err(Ipv6Error::BadVersion));
        assert_eq!(parse(&b[..43]), Err(Ipv6Error::BadPayloadLen));
        assert!(parse(&b[..44]).is_ok());
        assert_eq!(Ipv6Packet::new_checked(&b[..10]), Err(Ipv6Error::Truncated));
        // upper_layer on an unchecked view never panics.
        assert_eq!(
            Ipv6Packet::new_unchecked(&b[..43]).upper_layer(),
            Err(Ipv6ExtError::Truncated)
        );
        assert_eq!(
            Ipv6Packet::new_unchecked(&b[..3]).upper_layer(),
            Err(Ipv6ExtError::Truncated)
        );
    }

    /// An extension header of `len8` 8-octet units after the first, with
    /// `body` from byte 2 on (zero padded).
    fn ext(next: u8, len8: u8, body: &[u8], out: &mut [u8]) -> usize {
        let len = (usize::from(len8) + 1) * 8;
        out[..len].fill(0);
        out[0] = next;
        out[1] = len8;
        out[2..2 + body.len()].copy_from_slice(body);
        len
    }

    #[test]
    fn extension_chain_is_skipped() {
        // HBH (PadN of 2 bytes, Router Alert) -> Dest opts (unknown type 0x1e,
        // skippable, 2 bytes; Pad1 x2) -> Routing (type 4, segments left 0)
        // -> TCP.
        let mut p = [0u8; 64];
        let mut at = 0;
        at += ext(60, 0, &[1, 0, 5, 2, 0, 0], &mut p[at..]);
        at += ext(43, 0, &[0x1e, 2, 9, 9, 0, 0], &mut p[at..]);
        at += ext(6, 1, &[4, 0], &mut p[at..]);
        p[at..at + 4].copy_from_slice(&[1, 2, 3, 4]);
        let payload = &p[..at + 4];
        let up = walk_ext_headers(0, payload).unwrap();
        assert_eq!(up.protocol, IpProtocol::Tcp);
        assert_eq!(up.offset, 40 + 32);
        assert_eq!(up.next_header_pointer, 40 + 16);
        assert_eq!(up.payload, &[1, 2, 3, 4]);
        // No next header: empty upper layer.
        assert_eq!(walk_ext_headers(59, &[]).unwrap().payload, &[] as &[u8]);
        // No extension header at all.
        let up = walk_ext_headers(58, &[9]).unwrap();
        assert_eq!((up.offset, up.next_header_pointer), (40, 6));
    }

    #[test]
    fn routing_segments_left() {
        let mut p = [0u8; 16];
        ext(6, 0, &[0, 1], &mut p);
        assert_eq!(
            walk_ext_headers(43, &p),
            Err(Ipv6ExtError::ParameterProblem(ParamProblem {
                code: ParamProblemCode::ErroneousHeaderField,
                pointer: 42,
                send: IcmpSend::Always,
            }))
        );
        // Lenient for a quote.
        assert_eq!(walk_quote(43, &p).unwrap().offset, 48);
        // Segments left 255 behind a Dest opts header: the pointer moves.
        let mut q = [0u8; 24];
        ext(43, 0, &[], &mut q);
        ext(6, 0, &[4, 255], &mut q[8..]);
        assert_eq!(
            walk_ext_headers(60, &q),
            Err(Ipv6ExtError::ParameterProblem(ParamProblem {
                code: ParamProblemCode::ErroneousHeaderField,
                pointer: 50,
                send: IcmpSend::Always,
            }))
        );
    }

    #[test]
    fn hop_by_hop_not_first() {
        let mut p = [0u8; 16];
        ext(0, 0, &[], &mut p);
        ext(6, 0, &[], &mut p[8..]);
        assert_eq!(
            walk_ext_headers(60, &p),
            Err(Ipv6ExtError::ParameterProblem(ParamProblem {
                code: ParamProblemCode::UnrecognizedNextHeader,
                pointer: 40,
                send: IcmpSend::Always,
            }))
        );
        assert!(walk_ext_headers(0, &p).is_err());
        let mut first = [0u8; 8];
        ext(6, 0, &[], &mut first);
        assert_eq!(walk_ext_headers(0, &first).unwrap().offset, 48);
    }

    #[test]
    fn fragment_is_reported() {
        // Offset 1448, M set, ident 0x12345678.
        let p = [6, 0, 0x05, 0xa9, 0x12, 0x34, 0x56, 0x78, 0xaa];
        assert_eq!(
            walk_ext_headers(44, &p),
            Err(Ipv6ExtError::Fragment {
                offset: 40,
                frag_offset: 1448,
                more_frags: true,
                ident: 0x1234_5678,
            })
        );
        // Atomic fragment: still reported.
        let a = [6, 0, 0, 0, 0, 0, 0, 1];
        assert!(matches!(
            walk_ext_headers(44, &a),
            Err(Ipv6ExtError::Fragment {
                frag_offset: 0,
                more_frags: false,
                ..
            })
        ));
        assert_eq!(walk_ext_headers(44, &a[..7]), Err(Ipv6ExtError::Truncated));
    }

    #[test]
    fn unrecognized_options() {
        let pp = |send, pointer| {
            Err(Ipv6ExtError::ParameterProblem(ParamProblem {
                code: ParamProblemCode::UnrecognizedOption,
                pointer,
                send,
            }))
        };
        for (t, send) in [
            (0x40u8, IcmpSend::Never),
            (0x80, IcmpSend::Always),
            (0xc2, IcmpSend::UnlessMulticast),
        ] {
            let mut p = [0u8; 8];
            // Pad1, then the option (type t, 2 bytes), then Pad1.
            ext(6, 0, &[0, t, 2, 0, 0, 0], &mut p);
            assert_eq!(walk_ext_headers(60, &p), pp(send, 43), "type {t:#x}");
            assert_eq!(walk_ext_headers(0, &p), pp(send, 43), "type {t:#x}");
            assert_eq!(walk_quote(60, &p).unwrap().offset, 48);
        }
        // Router alert is known only in Hop-by-Hop (and its type has high
        // bits 00, so it is skipped in Destination Options).
        let mut p = [0u8; 8];
        ext(6, 0, &[5, 2, 0, 0, 1, 0], &mut p);
        assert!(walk_ext_headers(0, &p).is_ok());
        assert!(walk_ext_headers(60, &p).is_ok());
        ext(6, 0, &[5, 3, 0, 0, 0, 0], &mut p);
        assert_eq!(walk_ext_headers(0, &p), Err(Ipv6ExtError::BadOption));
    }

    #[test]
    fn malformed_chains() {
        // An option longer than its header.
        let mut p = [0u8; 8];
        ext(6, 0, &[1, 5], &mut p);
        assert_eq!(walk_ext_headers(60, &p), Err(Ipv6ExtError::BadOption));
        // An option type without its length byte at the very end.
        ext(6, 0, &[1, 3, 0, 0, 0, 0x1e], &mut p);
        assert_eq!(walk_ext_headers(60, &p), Err(Ipv6ExtError::BadOption));
        // A header whose length runs past the payload.
        let mut q = [0u8; 16];
        ext(6, 1, &[], &mut q);
        assert_eq!(walk_ext_headers(60, &q[..15]), Err(Ipv6ExtError::Truncated));
        assert_eq!(walk_ext_headers(60, &q[..7]), Err(Ipv6ExtError::Truncated));
        assert_eq!(walk_ext_headers(60, &[]), Err(Ipv6ExtError::Truncated));
        // A "loop": every header names another Destination Options header.
        let mut l = [0u8; 8 * 20];
        for c in l.chunks_mut(8) {
            c[0] = 60;
        }
        assert_eq!(walk_ext_headers(60, &l), Err(Ipv6ExtError::TooManyHeaders));
        assert_eq!(walk_quote(60, &l), Err(Ipv6ExtError::TooManyHeaders));
        // Exactly MAX_EXT_HEADERS headers is fine.
        l[8 * (MAX_EXT_HEADERS - 1)] = 6;
        assert_eq!(
            walk_ext_headers(60, &l).unwrap().offset,
            40 + 8 * MAX_EXT_HEADERS
        );
        // Largest header length: 2048 bytes.
        let mut big = [0u8; 2048];
        big[0] = 6;
        big[1] = 255;
        assert_eq!(walk_ext_headers(60, &big).unwrap().offset, 40 + 2048);
        assert_eq!(
            walk_ext_headers(60, &big[..2047]),
            Err(Ipv6ExtError::Truncated)
        );
    }

    #[test]
    fn upper_layer_of_packet() {
        let mut b = [0u8; 60];
        b[..40].copy_from_slice(&packet()[..40]);
        b[4..6].copy_from_slice(&20u16.to_be_bytes());
        b[6] = 60;
        ext(58, 0, &[], &mut b[40..]);
        b[48..52].copy_from_slice(&[128, 0, 0, 0]);
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        let up = p.upper_layer().unwrap();
        assert_eq!(up.protocol, IpProtocol::Unknown(NEXT_HEADER_ICMPV6));
        assert_eq!(up.offset, 48);
        assert_eq!(up.payload.len(), 12);
    }
}
