//! ICMP for IPv4 (RFC 792): echo request and reply, destination unreachable
//! (with the next-hop MTU of RFC 1191) and time exceeded, and the TCP
//! fields of the datagram an error quotes (for the checks of RFC 5927).

use core::fmt;
use core::net::Ipv4Addr;

use super::{checksum, get_u16, get_u32, put_u16, ChecksumPolicy, EmitError};
use crate::seq::SeqNum;

/// Why an ICMPv4 message was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv4Error {
    /// Shorter than the 8-byte header.
    Truncated,
    /// The checksum is wrong.
    BadChecksum,
    /// A message type this codec does not handle.
    UnknownType,
    /// The quote of an error is shorter than an IPv4 header (as its IHL
    /// says) and 8 bytes of transport header.
    QuoteTruncated,
    /// The quote is not the start of an IPv4 packet carrying TCP (another
    /// version or protocol, a header length below 20, or a fragment other
    /// than the first).
    QuoteNotTcp,
}

impl Icmpv4Error {
    /// A short stable name, for counters and logs.
    pub const fn reason(&self) -> &'static str {
        match self {
            Icmpv4Error::Truncated => "icmpv4_truncated",
            Icmpv4Error::BadChecksum => "icmpv4_bad_checksum",
            Icmpv4Error::UnknownType => "icmpv4_unknown_type",
            Icmpv4Error::QuoteTruncated => "icmpv4_quote_truncated",
            Icmpv4Error::QuoteNotTcp => "icmpv4_quote_not_tcp",
        }
    }
}

impl fmt::Display for Icmpv4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Icmpv4Error::Truncated => "ICMPv4 message shorter than its 8-byte header",
            Icmpv4Error::BadChecksum => "ICMPv4 checksum is wrong",
            Icmpv4Error::UnknownType => "ICMPv4 message type not handled",
            Icmpv4Error::QuoteTruncated => "ICMPv4 quote shorter than an IPv4 header and 8 bytes",
            Icmpv4Error::QuoteNotTcp => "ICMPv4 quote is not the start of a TCP/IPv4 packet",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Icmpv4Error {}

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQNO: Range<usize> = 6..8;
    pub const NEXT_HOP_MTU: Range<usize> = 6..8;
}

/// Length of the ICMPv4 header (type, code, checksum and four more bytes).
const HEADER_LEN: usize = 8;

/// Type of an echo reply (RFC 792).
const TYPE_ECHO_REPLY: u8 = 0;
/// Type of a destination unreachable message (RFC 792).
const TYPE_DST_UNREACHABLE: u8 = 3;
/// Type of an echo request (RFC 792).
const TYPE_ECHO_REQUEST: u8 = 8;
/// Type of a time exceeded message (RFC 792).
const TYPE_TIME_EXCEEDED: u8 = 11;
/// Type of a parameter problem message (RFC 792).
const TYPE_PARAM_PROBLEM: u8 = 12;

/// A zero-copy view of an ICMPv4 message. The buffer is the whole message:
/// the IPv4 payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Length of the ICMPv4 header, 8 bytes.
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Wraps a buffer without checking it (accessors may panic).
    pub const fn new_unchecked(buffer: T) -> Icmpv4Packet<T> {
        Icmpv4Packet { buffer }
    }

    /// Wraps a buffer, checking it holds the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<Icmpv4Packet<T>, Icmpv4Error> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the buffer holds the 8-byte header.
    pub fn check_len(&self) -> Result<(), Icmpv4Error> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            return Err(Icmpv4Error::Truncated);
        }
        Ok(())
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

    /// The next-hop MTU of a destination unreachable, fragmentation needed
    /// (RFC 1191 §4; zero from routers older than it).
    pub fn next_hop_mtu(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::NEXT_HOP_MTU.start)
    }

    /// The four bytes after the checksum, whatever the type.
    pub fn rest_of_header(&self) -> u32 {
        get_u32(self.buffer.as_ref(), 4)
    }

    /// Whether the checksum over the whole message is correct.
    pub fn verify_checksum(&self) -> bool {
        checksum::data(self.buffer.as_ref()) == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Icmpv4Packet<&'a T> {
    /// The bytes after the 8-byte header: an echo's data, or an error's
    /// quote of the datagram that caused it.
    pub fn data(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
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

    /// Sets the next-hop MTU of a destination unreachable.
    pub fn set_next_hop_mtu(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::NEXT_HOP_MTU.start, v);
    }

    /// The bytes after the header, mutably.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }

    /// Computes the checksum over the whole message and writes it.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::data(self.buffer.as_ref());
        self.set_checksum(!sum);
    }
}

/// The meaningful values of an ICMPv4 message, its data borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icmpv4Repr<'a> {
    /// Echo request, type 8.
    EchoRequest {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// The data, echoed back in the reply.
        data: &'a [u8],
    },
    /// Echo reply, type 0.
    EchoReply {
        /// Identifier.
        ident: u16,
        /// Sequence number.
        seq_no: u16,
        /// The data of the request.
        data: &'a [u8],
    },
    /// Destination unreachable, type 3.
    DstUnreachable {
        /// The code: 0 net, 1 host, 2 protocol, 3 port unreachable, 4
        /// fragmentation needed and DF set, and the others of RFC 792 and
        /// RFC 1812 §5.2.7.1.
        code: u8,
        /// The next-hop MTU (RFC 1191 §4), meaningful with code 4; bytes
        /// 6..8 of the header whatever the code (bytes 4..6 are unused).
        next_hop_mtu: u16,
        /// The IPv4 header and at least 8 bytes of the datagram that
        /// caused it (see [`Icmpv4TcpQuote`]).
        quote: &'a [u8],
    },
    /// Time exceeded, type 11.
    TimeExceeded {
        /// The code: 0 TTL exceeded in transit, 1 fragment reassembly time
        /// exceeded.
        code: u8,
        /// The IPv4 header and at least 8 bytes of the datagram that
        /// caused it.
        quote: &'a [u8],
    },
    /// Parameter problem, type 12.
    ParamProblem {
        /// The code: 0 the pointer indicates the error, 1 a required
        /// option is missing (RFC 1108), 2 bad length (RFC 1812).
        code: u8,
        /// The octet of the quoted datagram where the error was found
        /// (byte 4 of the header).
        pointer: u8,
        /// The IPv4 header and at least 8 bytes of the datagram that
        /// caused it.
        quote: &'a [u8],
    },
}

impl<'a> Icmpv4Repr<'a> {
    /// Destination unreachable code 4: fragmentation needed and DF set
    /// (RFC 792; with the next-hop MTU of RFC 1191).
    pub const CODE_FRAG_NEEDED: u8 = 4;

    /// The most an error should quote of the datagram so that the whole
    /// error (20-byte IPv4 header, ICMP header, quote) fits in 576 bytes
    /// (RFC 1812 §4.3.2.3): 548 bytes.
    pub const MAX_QUOTE_LEN: usize = 576 - 20 - HEADER_LEN;

    /// Parses an ICMPv4 message whose buffer is the whole message (the IPv4
    /// payload). Checks in this order: length, checksum (with
    /// [`ChecksumPolicy::Verify`]), type. The code of an echo is not
    /// checked (RFC 792 says 0).
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &Icmpv4Packet<&'a T>,
        checksum: ChecksumPolicy,
    ) -> Result<Icmpv4Repr<'a>, Icmpv4Error> {
        packet.check_len()?;
        if checksum == ChecksumPolicy::Verify && !packet.verify_checksum() {
            return Err(Icmpv4Error::BadChecksum);
        }
        let data = packet.data();
        Ok(match packet.msg_type() {
            TYPE_ECHO_REQUEST => Icmpv4Repr::EchoRequest {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            TYPE_ECHO_REPLY => Icmpv4Repr::EchoReply {
                ident: packet.echo_ident(),
                seq_no: packet.echo_seq_no(),
                data,
            },
            TYPE_DST_UNREACHABLE => Icmpv4Repr::DstUnreachable {
                code: packet.msg_code(),
                next_hop_mtu: packet.next_hop_mtu(),
                quote: data,
            },
            TYPE_TIME_EXCEEDED => Icmpv4Repr::TimeExceeded {
                code: packet.msg_code(),
                quote: data,
            },
            TYPE_PARAM_PROBLEM => Icmpv4Repr::ParamProblem {
                code: packet.msg_code(),
                pointer: packet.echo_ident().to_be_bytes()[0],
                quote: data,
            },
            _ => return Err(Icmpv4Error::UnknownType),
        })
    }

    /// The quote of an error message (`None` for an echo).
    pub const fn quote(&self) -> Option<&'a [u8]> {
        match *self {
            Icmpv4Repr::DstUnreachable { quote, .. }
            | Icmpv4Repr::TimeExceeded { quote, .. }
            | Icmpv4Repr::ParamProblem { quote, .. } => Some(quote),
            Icmpv4Repr::EchoRequest { .. } | Icmpv4Repr::EchoReply { .. } => None,
        }
    }

    /// The data or quote after the header.
    const fn body(&self) -> &'a [u8] {
        match *self {
            Icmpv4Repr::EchoRequest { data, .. } | Icmpv4Repr::EchoReply { data, .. } => data,
            Icmpv4Repr::DstUnreachable { quote, .. }
            | Icmpv4Repr::TimeExceeded { quote, .. }
            | Icmpv4Repr::ParamProblem { quote, .. } => quote,
        }
    }

    /// Length of the whole message: 8 bytes of header and the data or quote.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + self.body().len()
    }

    /// Writes the message and its checksum into the first
    /// [`buffer_len`](Self::buffer_len) bytes of `packet` (the checksum
    /// covers exactly those bytes, so the buffer may be longer). Echoes
    /// have code 0; unused header bytes are written as zero.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut Icmpv4Packet<&mut T>,
    ) -> Result<(), EmitError> {
        let msg = packet
            .buffer
            .as_mut()
            .get_mut(..self.buffer_len())
            .ok_or(EmitError::BufferTooSmall)?;
        let (header, body) = msg.split_at_mut(HEADER_LEN);
        let (msg_type, code, a, b) = match *self {
            Icmpv4Repr::EchoRequest { ident, seq_no, .. } => (TYPE_ECHO_REQUEST, 0, ident, seq_no),
            Icmpv4Repr::EchoReply { ident, seq_no, .. } => (TYPE_ECHO_REPLY, 0, ident, seq_no),
            Icmpv4Repr::DstUnreachable {
                code, next_hop_mtu, ..
            } => (TYPE_DST_UNREACHABLE, code, 0, next_hop_mtu),
            Icmpv4Repr::TimeExceeded { code, .. } => (TYPE_TIME_EXCEEDED, code, 0, 0),
            Icmpv4Repr::ParamProblem { code, pointer, .. } => {
                (TYPE_PARAM_PROBLEM, code, u16::from(pointer) << 8, 0)
            }
        };
        header[field::TYPE] = msg_type;
        header[field::CODE] = code;
        put_u16(header, 4, a);
        put_u16(header, 6, b);
        body.copy_from_slice(self.body());
        let sum = checksum::combine(&[
            u16::from(msg_type) << 8 | u16::from(code),
            a,
            b,
            checksum::data(self.body()),
        ]);
        put_u16(header, field::CHECKSUM.start, !sum);
        Ok(())
    }
}

impl fmt::Display for Icmpv4Repr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Icmpv4Repr::EchoRequest {
                ident,
                seq_no,
                data,
            } => write!(
                f,
                "ICMP echo request, id {ident}, seq {seq_no}, length {}",
                data.len() + HEADER_LEN
            ),
            Icmpv4Repr::EchoReply {
                ident,
                seq_no,
                data,
            } => write!(
                f,
                "ICMP echo reply, id {ident}, seq {seq_no}, length {}",
                data.len() + HEADER_LEN
            ),
            Icmpv4Repr::DstUnreachable {
                code: Self::CODE_FRAG_NEEDED,
                next_hop_mtu,
                ..
            } => write!(f, "ICMP unreachable - need to frag (mtu {next_hop_mtu})"),
            Icmpv4Repr::DstUnreachable { code, .. } => {
                write!(f, "ICMP destination unreachable, code {code}")
            }
            Icmpv4Repr::TimeExceeded { code, .. } => {
                write!(f, "ICMP time exceeded, code {code}")
            }
            Icmpv4Repr::ParamProblem { code, pointer, .. } => {
                write!(f, "ICMP parameter problem, code {code}, pointer {pointer}")
            }
        }
    }
}

/// What an ICMPv4 error quotes of a TCP segment that caused it: the IPv4
/// addresses, the ports and the sequence number (the first 8 bytes of the
/// TCP header, RFC 792), which RFC 5927 §4.1 checks against a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Icmpv4TcpQuote {
    /// Source address of the quoted datagram (ours, if we sent it).
    pub src_addr: Ipv4Addr,
    /// Destination address of the quoted datagram.
    pub dst_addr: Ipv4Addr,
    /// TCP source port.
    pub src_port: u16,
    /// TCP destination port.
    pub dst_port: u16,
    /// TCP sequence number.
    pub seq_number: SeqNum,
}

impl Icmpv4TcpQuote {
    /// Reads the quote of an ICMPv4 error: an IPv4 header (version 4, IHL
    /// at least 5, protocol TCP, fragment offset 0) and at least 8 bytes
    /// after it. The total length and the header checksum are not checked
    /// (the datagram is cut, and a router may have changed it). Never
    /// panics.
    pub fn parse(quote: &[u8]) -> Result<Icmpv4TcpQuote, Icmpv4Error> {
        let ip = quote.get(..20).ok_or(Icmpv4Error::QuoteTruncated)?;
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        // Fragment offset (13 bits) must be 0: later fragments carry no
        // TCP header.
        if ip[0] >> 4 != 4 || ihl < 20 || ip[9] != 6 || get_u16(ip, 6) & 0x1fff != 0 {
            return Err(Icmpv4Error::QuoteNotTcp);
        }
        let tcp = quote.get(ihl..ihl + 8).ok_or(Icmpv4Error::QuoteTruncated)?;
        Ok(Icmpv4TcpQuote {
            src_addr: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
            dst_addr: Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
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

    // An echo request as `ping -c1 -p 61 -s 4` sends it (id 0x1234, seq 1,
    // 4 bytes of data); checksum by hand: 0800 + 1234 + 0001 + 6161 + 6161
    // = dcf7, inverted 2308.
    const ECHO: [u8; 12] = [
        0x08, 0x00, 0x23, 0x08, 0x12, 0x34, 0x00, 0x01, 0x61, 0x61, 0x61, 0x61,
    ];

    /// A fragmentation-needed error quoting a TCP/IPv4 SYN of
    /// 198.18.0.2:45782 > 198.18.0.1:5000, seq 918728658 (header of
    /// tests/data/captures.rs, cut after 8 bytes of TCP).
    fn frag_needed() -> [u8; 36] {
        let mut b = [0u8; 36];
        b[..8].copy_from_slice(&[3, 4, 0, 0, 0, 0, 0x05, 0xdc]);
        b[8..28].copy_from_slice(&[
            0x45, 0x00, 0x00, 0x3c, 0x9a, 0x7c, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 0xc6, 0x12,
            0x00, 0x02, 0xc6, 0x12, 0x00, 0x01,
        ]);
        b[28..36].copy_from_slice(&[0xb2, 0xd6, 0x13, 0x88, 0x36, 0xc2, 0xaf, 0xd2]);
        let ck = !checksum::data(&b);
        b[2..4].copy_from_slice(&ck.to_be_bytes());
        b
    }

    #[test]
    fn echo_round_trip() {
        let p = Icmpv4Packet::new_checked(&ECHO[..]).unwrap();
        assert!(p.verify_checksum());
        assert_eq!((p.msg_type(), p.msg_code(), p.checksum()), (8, 0, 0x2308));
        let r = Icmpv4Repr::parse(&p, ChecksumPolicy::Verify).unwrap();
        assert_eq!(
            r,
            Icmpv4Repr::EchoRequest {
                ident: 0x1234,
                seq_no: 1,
                data: b"aaaa"
            }
        );
        assert_eq!(r.quote(), None);
        assert_eq!(
            r.to_string(),
            "ICMP echo request, id 4660, seq 1, length 12"
        );
        let mut out = [0xeeu8; 12];
        r.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, ECHO);
        assert_eq!(
            r.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..11])),
            Err(EmitError::BufferTooSmall)
        );
        // The reply differs in the type and the checksum.
        let reply = Icmpv4Repr::EchoReply {
            ident: 0x1234,
            seq_no: 1,
            data: b"aaaa",
        };
        reply
            .emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out[0], 0);
        assert_eq!(out[2..4], [0x2b, 0x08]);
        let p = Icmpv4Packet::new_checked(&out[..]).unwrap();
        assert_eq!(Icmpv4Repr::parse(&p, ChecksumPolicy::Verify), Ok(reply));
    }

    #[test]
    fn frag_needed_and_quote() {
        let b = frag_needed();
        let p = Icmpv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.next_hop_mtu(), 1500);
        let r = Icmpv4Repr::parse(&p, ChecksumPolicy::Verify).unwrap();
        assert_eq!(
            r,
            Icmpv4Repr::DstUnreachable {
                code: Icmpv4Repr::CODE_FRAG_NEEDED,
                next_hop_mtu: 1500,
                quote: &b[8..]
            }
        );
        assert_eq!(r.to_string(), "ICMP unreachable - need to frag (mtu 1500)");
        let q = Icmpv4TcpQuote::parse(r.quote().unwrap()).unwrap();
        assert_eq!(
            q,
            Icmpv4TcpQuote {
                src_addr: Ipv4Addr::new(198, 18, 0, 2),
                dst_addr: Ipv4Addr::new(198, 18, 0, 1),
                src_port: 45782,
                dst_port: 5000,
                seq_number: SeqNum::new(918728658),
            }
        );
        let mut out = [0u8; 36];
        r.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]))
            .unwrap();
        assert_eq!(out, b);
    }

    #[test]
    fn quote_errors() {
        let b = frag_needed();
        let quote = &b[8..];
        assert_eq!(
            Icmpv4TcpQuote::parse(&quote[..27]),
            Err(Icmpv4Error::QuoteTruncated)
        );
        assert_eq!(
            Icmpv4TcpQuote::parse(&quote[..19]),
            Err(Icmpv4Error::QuoteTruncated)
        );
        assert_eq!(Icmpv4TcpQuote::parse(&[]), Err(Icmpv4Error::QuoteTruncated));
        let mut q = [0u8; 28];
        q.copy_from_slice(quote);
        q[9] = 17;
        assert_eq!(Icmpv4TcpQuote::parse(&q), Err(Icmpv4Error::QuoteNotTcp));
        q[9] = 6;
        q[0] = 0x65;
        assert_eq!(Icmpv4TcpQuote::parse(&q), Err(Icmpv4Error::QuoteNotTcp));
        q[0] = 0x44;
        assert_eq!(Icmpv4TcpQuote::parse(&q), Err(Icmpv4Error::QuoteNotTcp));
        q[0] = 0x45;
        q[7] = 1; // fragment offset 8
        assert_eq!(Icmpv4TcpQuote::parse(&q), Err(Icmpv4Error::QuoteNotTcp));
        // The first fragment (MF set, offset 0) is fine.
        q[6] = 0x20;
        q[7] = 0;
        assert!(Icmpv4TcpQuote::parse(&q).is_ok());
        // IHL 6: an option word, then the TCP bytes.
        let mut long = [0u8; 32];
        long[..20].copy_from_slice(&quote[..20]);
        long[0] = 0x46;
        long[24..].copy_from_slice(&quote[20..]);
        assert_eq!(Icmpv4TcpQuote::parse(&long).unwrap().dst_port, 5000);
        assert_eq!(
            Icmpv4TcpQuote::parse(&long[..31]),
            Err(Icmpv4Error::QuoteTruncated)
        );
        // IHL 15 beyond the quote.
        long[0] = 0x4f;
        assert_eq!(
            Icmpv4TcpQuote::parse(&long),
            Err(Icmpv4Error::QuoteTruncated)
        );
    }

    #[test]
    fn errors_and_extremes() {
        fn parse(b: &[u8], c: ChecksumPolicy) -> Result<Icmpv4Repr<'_>, Icmpv4Error> {
            Icmpv4Repr::parse(&Icmpv4Packet::new_unchecked(b), c)
        }
        assert_eq!(
            parse(&ECHO[..7], ChecksumPolicy::Skip),
            Err(Icmpv4Error::Truncated)
        );
        assert_eq!(
            parse(&[], ChecksumPolicy::Skip),
            Err(Icmpv4Error::Truncated)
        );
        let mut bad = ECHO;
        bad[11] ^= 1;
        assert_eq!(
            parse(&bad, ChecksumPolicy::Verify),
            Err(Icmpv4Error::BadChecksum)
        );
        assert!(parse(&bad, ChecksumPolicy::Skip).is_ok());
        let mut unknown = ECHO;
        unknown[0] = 13; // timestamp
        assert_eq!(
            parse(&unknown, ChecksumPolicy::Skip),
            Err(Icmpv4Error::UnknownType)
        );
        // Header only; all-ones fields.
        for r in [
            Icmpv4Repr::EchoReply {
                ident: u16::MAX,
                seq_no: u16::MAX,
                data: &[],
            },
            Icmpv4Repr::DstUnreachable {
                code: 255,
                next_hop_mtu: u16::MAX,
                quote: &[0xff; 3],
            },
            Icmpv4Repr::TimeExceeded {
                code: 1,
                quote: &[],
            },
            Icmpv4Repr::ParamProblem {
                code: 255,
                pointer: u8::MAX,
                quote: &[0xff; 2],
            },
        ] {
            let mut out = [0u8; 16];
            r.emit(&mut Icmpv4Packet::new_unchecked(&mut out[..]))
                .unwrap();
            let msg = &out[..r.buffer_len()];
            assert_eq!(parse(msg, ChecksumPolicy::Verify), Ok(r));
        }
        // fill_checksum agrees with emit.
        let mut b = frag_needed();
        let mut p = Icmpv4Packet::new_unchecked(&mut b[..]);
        p.set_next_hop_mtu(68);
        p.fill_checksum();
        assert!(Icmpv4Packet::new_unchecked(&b[..]).verify_checksum());
    }
}
