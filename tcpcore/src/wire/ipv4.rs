//! IPv4 (RFC 791) headers.

use core::fmt;
use core::net::Ipv4Addr;

use super::{checksum, get_u16, put_u16, ChecksumPolicy, EmitError};

/// The protocol carried by an IPv4 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    /// ICMP, 1.
    Icmp,
    /// TCP, 6.
    Tcp,
    /// UDP, 17.
    Udp,
    /// Any other protocol number.
    Unknown(u8),
}

impl From<u8> for IpProtocol {
    fn from(v: u8) -> Self {
        match v {
            1 => IpProtocol::Icmp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            other => IpProtocol::Unknown(other),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(p: IpProtocol) -> u8 {
        match p {
            IpProtocol::Icmp => 1,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Unknown(v) => v,
        }
    }
}

impl fmt::Display for IpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpProtocol::Icmp => f.write_str("ICMP (1)"),
            IpProtocol::Tcp => f.write_str("TCP (6)"),
            IpProtocol::Udp => f.write_str("UDP (17)"),
            IpProtocol::Unknown(v) => write!(f, "unknown ({v})"),
        }
    }
}

/// Why an IPv4 packet was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv4Error {
    /// Shorter than the 20-byte minimum header.
    Truncated,
    /// The version field is not 4.
    BadVersion,
    /// The header length (IHL) is below 5 words or beyond the buffer.
    BadHeaderLen,
    /// The total length is below the header length or beyond the buffer.
    BadTotalLen,
    /// The header checksum is wrong.
    BadChecksum,
}

impl Ipv4Error {
    /// A short stable name, for counters and logs.
    pub const fn reason(&self) -> &'static str {
        match self {
            Ipv4Error::Truncated => "ipv4_truncated",
            Ipv4Error::BadVersion => "ipv4_bad_version",
            Ipv4Error::BadHeaderLen => "ipv4_bad_header_len",
            Ipv4Error::BadTotalLen => "ipv4_bad_total_len",
            Ipv4Error::BadChecksum => "ipv4_bad_checksum",
        }
    }
}

impl fmt::Display for Ipv4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Ipv4Error::Truncated => "IPv4 packet shorter than its 20-byte header",
            Ipv4Error::BadVersion => "IP version is not 4",
            Ipv4Error::BadHeaderLen => "IPv4 header length below 20 bytes or beyond the packet",
            Ipv4Error::BadTotalLen => {
                "IPv4 total length below the header length or beyond the packet"
            }
            Ipv4Error::BadChecksum => "IPv4 header checksum is wrong",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Ipv4Error {}

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC_ADDR: Range<usize> = 12..16;
    pub const DST_ADDR: Range<usize> = 16..20;
}

/// Length of an IPv4 header without options.
const HEADER_LEN: usize = field::DST_ADDR.end;

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1fff;

/// A zero-copy view of an IPv4 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Length of an IPv4 header without options, 20 bytes.
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Wraps a buffer without checking it (accessors may panic).
    pub const fn new_unchecked(buffer: T) -> Ipv4Packet<T> {
        Ipv4Packet { buffer }
    }

    /// Wraps a buffer, checking that the header and total lengths are
    /// consistent with it (see [`check_len`](Self::check_len)).
    pub fn new_checked(buffer: T) -> Result<Ipv4Packet<T>, Ipv4Error> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the buffer holds 20 bytes, that `20 <= header_len <= len` and
    /// `header_len <= total_len <= len`. Bytes after `total_len` (Ethernet
    /// padding) are allowed. The version is not checked here.
    pub fn check_len(&self) -> Result<(), Ipv4Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Ipv4Error::Truncated);
        }
        let header_len = usize::from(self.header_len());
        if header_len < HEADER_LEN || header_len > len {
            return Err(Ipv4Error::BadHeaderLen);
        }
        let total_len = usize::from(self.total_len());
        if total_len < header_len || total_len > len {
            return Err(Ipv4Error::BadTotalLen);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version field (4 for IPv4).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// The header length in bytes (IHL * 4).
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Differentiated services code point.
    pub fn dscp(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] >> 2
    }

    /// Explicit congestion notification bits.
    pub fn ecn(&self) -> u8 {
        self.buffer.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// Total length of the packet (header and payload) in bytes.
    pub fn total_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::IDENT.start)
    }

    fn flags_offset(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::FLG_OFF.start)
    }

    /// The don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.flags_offset() & FLAG_DF != 0
    }

    /// The more-fragments flag.
    pub fn more_frags(&self) -> bool {
        self.flags_offset() & FLAG_MF != 0
    }

    /// The fragment offset, in bytes.
    pub fn frag_offset(&self) -> u16 {
        (self.flags_offset() & OFFSET_MASK) << 3
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// The protocol of the payload.
    pub fn protocol(&self) -> IpProtocol {
        self.buffer.as_ref()[field::PROTOCOL].into()
    }

    /// The header checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::SRC_ADDR];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[field::DST_ADDR];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// The options: the header bytes after the first 20.
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.header_len())]
    }

    /// Whether the header checksum is correct.
    pub fn verify_checksum(&self) -> bool {
        let header = &self.buffer.as_ref()[..usize::from(self.header_len())];
        checksum::data(header) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Ipv4Packet<&'a T> {
    /// The payload: bytes `header_len .. total_len`, so that Ethernet
    /// padding after the packet is left out.
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[usize::from(self.header_len())..usize::from(self.total_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the version field.
    pub fn set_version(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0x0f) | (v << 4);
    }

    /// Sets the header length, in bytes (a multiple of 4, at most 60).
    pub fn set_header_len(&mut self, len: u8) {
        let b = &mut self.buffer.as_mut()[field::VER_IHL];
        *b = (*b & 0xf0) | ((len / 4) & 0x0f);
    }

    /// Sets the DSCP (6 bits; higher bits are dropped).
    pub fn set_dscp(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0x03) | (v << 2);
    }

    /// Sets the ECN bits (2 bits; higher bits are dropped).
    pub fn set_ecn(&mut self, v: u8) {
        let b = &mut self.buffer.as_mut()[field::DSCP_ECN];
        *b = (*b & 0xfc) | (v & 0x03);
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::LENGTH.start, v);
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::IDENT.start, v);
    }

    fn set_flags_offset(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::FLG_OFF.start, v);
    }

    /// Sets the don't-fragment flag.
    pub fn set_dont_frag(&mut self, v: bool) {
        let f = self.flags_offset() & !FLAG_DF;
        self.set_flags_offset(if v { f | FLAG_DF } else { f });
    }

    /// Sets the more-fragments flag.
    pub fn set_more_frags(&mut self, v: bool) {
        let f = self.flags_offset() & !FLAG_MF;
        self.set_flags_offset(if v { f | FLAG_MF } else { f });
    }

    /// Sets the fragment offset, in bytes (rounded down to a multiple of 8).
    pub fn set_frag_offset(&mut self, bytes: u16) {
        let f = self.flags_offset() & !OFFSET_MASK;
        self.set_flags_offset(f | (bytes >> 3));
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[field::TTL] = v;
    }

    /// Sets the protocol.
    pub fn set_protocol(&mut self, p: IpProtocol) {
        self.buffer.as_mut()[field::PROTOCOL] = p.into();
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM.start, v);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&a.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&a.octets());
    }

    /// Computes the header checksum and writes it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let header_len = usize::from(self.header_len());
        let sum = checksum::data(&self.buffer.as_ref()[..header_len]);
        self.set_checksum(!sum);
    }

    /// The payload (`header_len .. total_len`), mutably.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let range = usize::from(self.header_len())..usize::from(self.total_len());
        &mut self.buffer.as_mut()[range]
    }
}

/// The meaningful values of an IPv4 header. Options are not represented:
/// they are skipped by `parse` and never emitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Protocol of the payload.
    pub protocol: IpProtocol,
    /// Length of the payload in bytes (total length minus header length).
    pub payload_len: usize,
    /// Time to live.
    pub ttl: u8,
    /// Differentiated services code point (6 bits).
    pub dscp: u8,
    /// Explicit congestion notification (2 bits).
    pub ecn: u8,
    /// Identification.
    pub ident: u16,
    /// The don't-fragment flag.
    pub dont_frag: bool,
    /// The more-fragments flag.
    pub more_frags: bool,
    /// Fragment offset in bytes (a multiple of 8, at most 65528).
    pub frag_offset: u16,
}

impl Ipv4Repr {
    /// Length of the header [`emit`](Self::emit) writes (no options).
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Parses an IPv4 header, checking in this order: length
    /// ([`Ipv4Error::Truncated`]), version, header length, total length and,
    /// with [`ChecksumPolicy::Verify`], the checksum.
    ///
    /// Fragments parse like any packet; see [`is_fragment`](Self::is_fragment).
    #[inline(always)]
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Ipv4Packet<&T>,
        checksum: ChecksumPolicy,
    ) -> Result<Ipv4Repr, Ipv4Error> {
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(Ipv4Error::Truncated);
        }
        if packet.version() != 4 {
            return Err(Ipv4Error::BadVersion);
        }
        packet.check_len()?;
        if checksum == ChecksumPolicy::Verify && !packet.verify_checksum() {
            return Err(Ipv4Error::BadChecksum);
        }
        Ok(Ipv4Repr {
            src_addr: packet.src_addr(),
            dst_addr: packet.dst_addr(),
            protocol: packet.protocol(),
            payload_len: usize::from(packet.total_len()) - usize::from(packet.header_len()),
            ttl: packet.ttl(),
            dscp: packet.dscp(),
            ecn: packet.ecn(),
            ident: packet.ident(),
            dont_frag: packet.dont_frag(),
            more_frags: packet.more_frags(),
            frag_offset: packet.frag_offset(),
        })
    }

    /// Whether this packet is a fragment (more fragments follow, or it is
    /// not the first).
    pub const fn is_fragment(&self) -> bool {
        self.more_frags || self.frag_offset != 0
    }

    /// Length of the header [`emit`](Self::emit) writes, 20 bytes.
    pub const fn header_len(&self) -> usize {
        HEADER_LEN
    }

    /// Length of the whole packet, `20 + payload_len`.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.payload_len
    }

    /// Writes the header (IHL 5, no options) with its checksum into the
    /// first 20 bytes of `packet`; the payload (which may follow in the
    /// same buffer, or be sent after it by a gather write) is left for the
    /// caller to write.
    ///
    /// Values wider than their field are cut to it: `dscp` to 6 bits, `ecn`
    /// to 2, and `frag_offset` is rounded down to a multiple of 8.
    /// Fails with [`EmitError::PayloadTooLarge`] if the total length does
    /// not fit in 16 bits, [`EmitError::BufferTooSmall`] if the buffer is
    /// shorter than the header.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Ipv4Packet<&mut T>,
    ) -> Result<(), EmitError> {
        let total_len = u16::try_from(self.buffer_len()).map_err(|_| EmitError::PayloadTooLarge)?;
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(EmitError::BufferTooSmall);
        }
        let b = packet.buffer.as_mut();
        b[field::VER_IHL] = 0x45;
        let tos = (self.dscp << 2) | (self.ecn & 0x03);
        b[field::DSCP_ECN] = tos;
        put_u16(b, field::LENGTH.start, total_len);
        put_u16(b, field::IDENT.start, self.ident);
        let mut flags_offset = (self.frag_offset >> 3) & OFFSET_MASK;
        if self.dont_frag {
            flags_offset |= FLAG_DF;
        }
        if self.more_frags {
            flags_offset |= FLAG_MF;
        }
        put_u16(b, field::FLG_OFF.start, flags_offset);
        b[field::TTL] = self.ttl;
        b[field::PROTOCOL] = self.protocol.into();
        b[field::SRC_ADDR].copy_from_slice(&self.src_addr.octets());
        b[field::DST_ADDR].copy_from_slice(&self.dst_addr.octets());
        // Summed from the values, not read back from the fresh stores
        // (which would stall store-to-load forwarding).
        let (src, dst) = (u32::from(self.src_addr), u32::from(self.dst_addr));
        let sum = checksum::combine(&[
            0x4500 | u16::from(tos),
            total_len,
            self.ident,
            flags_offset,
            u16::from(self.ttl) << 8 | u16::from(u8::from(self.protocol)),
            (src >> 16) as u16,
            src as u16,
            (dst >> 16) as u16,
            dst as u16,
        ]);
        put_u16(b, field::CHECKSUM.start, !sum);
        Ok(())
    }
}

impl fmt::Display for Ipv4Repr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IP (tos 0x{:x}, ttl {}, id {}, offset {}, flags [{}], proto {}, length {}) {} > {}",
            (self.dscp << 2) | self.ecn,
            self.ttl,
            self.ident,
            self.frag_offset,
            match (self.dont_frag, self.more_frags) {
                (true, true) => "DF+",
                (true, false) => "DF",
                (false, true) => "+",
                (false, false) => "none",
            },
            self.protocol,
            self.buffer_len(),
            self.src_addr,
            self.dst_addr
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The IPv4 header of the captured SYN (tests/data/captures.rs), its TCP
    // segment reduced to 4 bytes and total length adjusted, checksum redone.
    fn packet() -> [u8; 26] {
        let mut b = [
            0x45, 0x00, 0x00, 0x18, 0x9a, 0x7c, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 0xc6, 0x12,
            0x00, 0x02, 0xc6, 0x12, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00,
        ];
        let ck = !checksum::data(&b[..20]);
        b[10..12].copy_from_slice(&ck.to_be_bytes());
        b
    }

    fn repr() -> Ipv4Repr {
        Ipv4Repr {
            src_addr: Ipv4Addr::new(198, 18, 0, 2),
            dst_addr: Ipv4Addr::new(198, 18, 0, 1),
            protocol: IpProtocol::Tcp,
            payload_len: 4,
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ident: 0x9a7c,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        }
    }

    #[test]
    fn deconstruct() {
        let b = packet();
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 24);
        assert!(p.dont_frag() && !p.more_frags());
        assert_eq!(p.frag_offset(), 0);
        assert!(p.options().is_empty());
        // Two bytes of padding after total_len are not payload.
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
        assert!(p.verify_checksum());
        let r = Ipv4Repr::parse(&p, ChecksumPolicy::Verify).unwrap();
        assert_eq!(r, repr());
        assert!(!r.is_fragment());
    }

    #[test]
    fn construct() {
        let mut buf = [0u8; 24];
        buf[20..].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        repr()
            .emit(&mut Ipv4Packet::new_unchecked(&mut buf[..]))
            .unwrap();
        assert_eq!(buf[..], packet()[..24]);
        // The header alone fits (the payload may be sent after it by a
        // gather write); less than the header does not.
        assert_eq!(
            repr().emit(&mut Ipv4Packet::new_unchecked(&mut buf[..20])),
            Ok(())
        );
        assert_eq!(buf[..20], packet()[..20]);
        assert_eq!(
            repr().emit(&mut Ipv4Packet::new_unchecked(&mut buf[..19])),
            Err(EmitError::BufferTooSmall)
        );
        let big = Ipv4Repr {
            payload_len: 65516,
            ..repr()
        };
        assert_eq!(
            big.emit(&mut Ipv4Packet::new_unchecked(&mut buf[..])),
            Err(EmitError::PayloadTooLarge)
        );
    }

    #[test]
    fn fragments_and_fields() {
        let mut b = packet();
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.set_dont_frag(false);
        p.set_more_frags(true);
        p.set_frag_offset(1480);
        p.set_dscp(46);
        p.set_ecn(3);
        p.fill_checksum();
        assert_eq!(p.frag_offset(), 1480);
        assert_eq!((p.dscp(), p.ecn()), (46, 3));
        let r =
            Ipv4Repr::parse(&Ipv4Packet::new_unchecked(&b[..]), ChecksumPolicy::Verify).unwrap();
        assert!(r.is_fragment() && r.more_frags && !r.dont_frag);
        assert_eq!(r.frag_offset, 1480);
        let mut out = [0u8; 24];
        r.emit(&mut Ipv4Packet::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out[..20], b[..20]);
    }

    #[test]
    fn options_are_skipped() {
        // IHL 6 with one 4-byte option (NOP NOP NOP EOL).
        let base = packet();
        let mut b = [0u8; 28];
        b[..20].copy_from_slice(&base[..20]);
        b[20..24].copy_from_slice(&[1, 1, 1, 0]);
        b[24..28].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        b[0] = 0x46;
        b[2..4].copy_from_slice(&28u16.to_be_bytes());
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.fill_checksum();
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
        let r = Ipv4Repr::parse(&p, ChecksumPolicy::Verify).unwrap();
        assert_eq!(r, repr());
    }

    #[test]
    fn errors() {
        let b = packet();
        let parse = |b: &[u8], c| Ipv4Repr::parse(&Ipv4Packet::new_unchecked(b), c);
        assert_eq!(
            parse(&b[..19], ChecksumPolicy::Skip),
            Err(Ipv4Error::Truncated)
        );
        let mut v6 = b;
        v6[0] = 0x65;
        assert_eq!(parse(&v6, ChecksumPolicy::Skip), Err(Ipv4Error::BadVersion));
        let mut ihl = b;
        ihl[0] = 0x44;
        assert_eq!(
            parse(&ihl, ChecksumPolicy::Skip),
            Err(Ipv4Error::BadHeaderLen)
        );
        ihl[0] = 0x47; // 28 bytes > 26
        assert_eq!(
            parse(&ihl, ChecksumPolicy::Skip),
            Err(Ipv4Error::BadHeaderLen)
        );
        let mut tl = b;
        tl[3] = 19;
        assert_eq!(
            parse(&tl, ChecksumPolicy::Skip),
            Err(Ipv4Error::BadTotalLen)
        );
        tl[3] = 27;
        assert_eq!(
            parse(&tl, ChecksumPolicy::Skip),
            Err(Ipv4Error::BadTotalLen)
        );
        let mut ck = b;
        ck[8] = 63;
        assert_eq!(
            parse(&ck, ChecksumPolicy::Verify),
            Err(Ipv4Error::BadChecksum)
        );
        assert!(parse(&ck, ChecksumPolicy::Skip).is_ok());
        assert_eq!(Ipv4Packet::new_checked(&b[..10]), Err(Ipv4Error::Truncated));
    }

    #[test]
    fn protocol_conversions() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(IpProtocol::from(v)), v);
        }
        assert_eq!(IpProtocol::from(6), IpProtocol::Tcp);
    }
}
