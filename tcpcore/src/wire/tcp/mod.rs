//! TCP (RFC 9293) headers: the flags, the control enum, the zero-copy
//! [`TcpPacket`] view and the [`TcpRepr`] values. The options (RFC 9293 MSS,
//! RFC 7323 window scale and timestamps, RFC 2018 SACK) are in `options`.

use core::fmt;
use core::net::Ipv4Addr;

use super::checksum::{self, IpPair};
use super::{get_u16, get_u32, put_u16, put_u32, ChecksumPolicy, EmitError};
use crate::seq::SeqNum;

mod options;

pub use options::{SackBlocks, TcpOptions, Timestamps};

/// Why a TCP segment was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpError {
    /// Shorter than the 20-byte minimum header.
    Truncated,
    /// The data offset is below 5 words or beyond the segment.
    BadHeaderLen,
    /// The checksum is wrong.
    BadChecksum,
    /// An illegal flag combination: SYN with FIN, or SYN with RST.
    IllegalFlags,
    /// A malformed option: a length of 0 or 1, an option running past the
    /// header, or a known option with the wrong length.
    BadOption,
}

impl TcpError {
    /// A short stable name, for counters and logs.
    pub const fn reason(&self) -> &'static str {
        match self {
            TcpError::Truncated => "tcp_truncated",
            TcpError::BadHeaderLen => "tcp_bad_header_len",
            TcpError::BadChecksum => "tcp_bad_checksum",
            TcpError::IllegalFlags => "tcp_illegal_flags",
            TcpError::BadOption => "tcp_bad_option",
        }
    }
}

impl fmt::Display for TcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TcpError::Truncated => "TCP segment shorter than its 20-byte header",
            TcpError::BadHeaderLen => "TCP data offset below 20 bytes or beyond the segment",
            TcpError::BadChecksum => "TCP checksum is wrong",
            TcpError::IllegalFlags => "illegal TCP flags (SYN with FIN or RST)",
            TcpError::BadOption => "malformed TCP option",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for TcpError {}

/// The eight TCP flag bits (byte 13 of the header).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from the sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// Synchronise sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// The acknowledgment number is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// The urgent pointer is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion window reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x80);
    /// No flag.
    pub const NONE: TcpFlags = TcpFlags(0);

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flags of both.
    #[must_use]
    pub const fn union(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }

    /// `self` with the flags of `other` set or cleared.
    #[must_use]
    pub const fn with(self, other: TcpFlags, on: bool) -> TcpFlags {
        if on {
            TcpFlags(self.0 | other.0)
        } else {
            TcpFlags(self.0 & !other.0)
        }
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        self.union(rhs)
    }
}

impl core::ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        *self = self.union(rhs);
    }
}

/// tcpdump's letters: `F` `S` `R` `P` `U` `E` (ECE) `W` (CWR), then `.` for
/// ACK last; `none` when no flag is set. So `S`, `S.`, `.`, `P.`, `F.`,
/// `R.`, `FP.`, `SEW`. (tcpdump itself puts the `.` before `U`, `E` and
/// `W`; this puts it last.)
impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        const LETTERS: [(TcpFlags, char); 8] = [
            (TcpFlags::FIN, 'F'),
            (TcpFlags::SYN, 'S'),
            (TcpFlags::RST, 'R'),
            (TcpFlags::PSH, 'P'),
            (TcpFlags::URG, 'U'),
            (TcpFlags::ECE, 'E'),
            (TcpFlags::CWR, 'W'),
            (TcpFlags::ACK, '.'),
        ];
        for (flag, c) in LETTERS {
            if self.contains(flag) {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

/// The control flag of a segment: at most one of SYN, FIN, RST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum TcpControl {
    /// None of SYN, FIN, RST.
    #[default]
    None,
    /// SYN.
    Syn,
    /// FIN.
    Fin,
    /// RST (also when FIN is set with it: a reset ends everything).
    Rst,
}

impl TcpControl {
    /// How much sequence space the control flag takes (1 for SYN and FIN).
    pub const fn seq_len(self) -> usize {
        match self {
            TcpControl::Syn | TcpControl::Fin => 1,
            TcpControl::None | TcpControl::Rst => 0,
        }
    }
}

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ_NUM: Range<usize> = 4..8;
    pub const ACK_NUM: Range<usize> = 8..12;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WIN_SIZE: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
}

/// Length of a TCP header without options.
const HEADER_LEN: usize = field::URGENT.end;

/// IP protocol number of TCP, for the pseudo-header.
const PROTO_TCP: u8 = 6;

/// A zero-copy view of a TCP segment (header, options and data). The
/// buffer is the whole segment: the IPv4 payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Length of a TCP header without options, 20 bytes.
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Wraps a buffer without checking it (accessors may panic).
    pub const fn new_unchecked(buffer: T) -> TcpPacket<T> {
        TcpPacket { buffer }
    }

    /// Wraps a buffer, checking it holds the header its data offset says.
    pub fn new_checked(buffer: T) -> Result<TcpPacket<T>, TcpError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the buffer holds 20 bytes and `20 <= header_len <= len`.
    pub fn check_len(&self) -> Result<(), TcpError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(TcpError::Truncated);
        }
        let header_len = usize::from(self.header_len());
        if header_len < HEADER_LEN || header_len > len {
            return Err(TcpError::BadHeaderLen);
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SRC_PORT.start)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::DST_PORT.start)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> SeqNum {
        SeqNum::new(get_u32(self.buffer.as_ref(), field::SEQ_NUM.start))
    }

    /// Acknowledgment number (meaningful only with ACK).
    pub fn ack_number(&self) -> SeqNum {
        SeqNum::new(get_u32(self.buffer.as_ref(), field::ACK_NUM.start))
    }

    /// Header length in bytes (data offset * 4).
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::DATA_OFF] >> 4) * 4
    }

    /// The eight flag bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buffer.as_ref()[field::FLAGS])
    }

    /// Window size (not scaled).
    pub fn window_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::WIN_SIZE.start)
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Urgent pointer (meaningful only with URG).
    pub fn urgent_at(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::URGENT.start)
    }

    /// The options area (`20 .. header_len`).
    pub fn options(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..usize::from(self.header_len())]
    }

    /// Segment length in bytes including the header (the buffer's length).
    pub fn segment_len(&self) -> usize {
        self.buffer.as_ref().len()
    }

    /// Whether the checksum over the whole buffer, with the IPv4
    /// pseudo-header of `src` and `dst`, is correct.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        self.verify_checksum_ip(IpPair::V4 { src, dst })
    }

    /// Whether the checksum over the whole buffer, with the IPv4 (RFC 9293
    /// §3.1) or IPv6 (RFC 8200 §8.1) pseudo-header of `ip`, is correct.
    #[inline]
    pub fn verify_checksum_ip(&self, ip: IpPair) -> bool {
        let b = self.buffer.as_ref();
        // A TCP segment longer than 4 GiB cannot exist; saturating keeps
        // this total.
        let len = u32::try_from(b.len()).unwrap_or(u32::MAX);
        checksum::fold(ip.pseudo_header_unfolded(PROTO_TCP, len) + u64::from(checksum::data(b)))
            == 0xffff
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> TcpPacket<&'a T> {
    /// The data after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[usize::from(self.header_len())..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::SRC_PORT.start, v);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::DST_PORT.start, v);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, v: SeqNum) {
        put_u32(self.buffer.as_mut(), field::SEQ_NUM.start, v.get());
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, v: SeqNum) {
        put_u32(self.buffer.as_mut(), field::ACK_NUM.start, v.get());
    }

    /// Sets the header length in bytes (a multiple of 4, at most 60); the
    /// three reserved bits and NS are cleared.
    pub fn set_header_len(&mut self, len: u8) {
        self.buffer.as_mut()[field::DATA_OFF] = ((len / 4) & 0x0f) << 4;
    }

    /// Sets the eight flag bits.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        self.buffer.as_mut()[field::FLAGS] = flags.0;
    }

    /// Sets the window size.
    pub fn set_window_len(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::WIN_SIZE.start, v);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM.start, v);
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_at(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::URGENT.start, v);
    }

    /// The options area, mutably.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.header_len());
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }

    /// The data after the header, mutably.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = usize::from(self.header_len());
        &mut self.buffer.as_mut()[start..]
    }

    /// Computes the checksum over the whole buffer with the IPv4
    /// pseudo-header of `src` and `dst`, and writes it.
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        fill_checksum(self.buffer.as_mut(), IpPair::V4 { src, dst });
    }

    /// Computes the checksum over the whole buffer with the IPv4 or IPv6
    /// pseudo-header of `ip`, and writes it.
    pub fn fill_checksum_ip(&mut self, ip: IpPair) {
        fill_checksum(self.buffer.as_mut(), ip);
    }
}

/// Writes the checksum of the TCP segment `seg` (checksum field at 16..18).
fn fill_checksum(seg: &mut [u8], ip: IpPair) {
    put_u16(seg, field::CHECKSUM.start, 0);
    let len = u32::try_from(seg.len()).unwrap_or(u32::MAX);
    let sum = checksum::combine(&[ip.pseudo_header(PROTO_TCP, len), checksum::data(seg)]);
    put_u16(seg, field::CHECKSUM.start, !sum);
}

/// The meaningful values of a TCP segment, its data borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpRepr<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq_number: SeqNum,
    /// Acknowledgment number: `Some` iff the ACK flag is set.
    pub ack_number: Option<SeqNum>,
    /// SYN, FIN, RST or none.
    pub control: TcpControl,
    /// The PSH flag.
    pub push: bool,
    /// The urgent pointer: `Some` iff the URG flag is set.
    pub urgent: Option<u16>,
    /// The ECE flag.
    pub ece: bool,
    /// The CWR flag.
    pub cwr: bool,
    /// Window size (not scaled).
    pub window_len: u16,
    /// Options.
    pub options: TcpOptions,
    /// The data.
    pub payload: &'a [u8],
}

impl<'a> TcpRepr<'a> {
    /// Parses a TCP segment whose buffer is the whole segment (the IPv4
    /// payload), `src` and `dst` being the IPv4 addresses of the
    /// pseudo-header.
    ///
    /// Checks in this order: length, data offset, checksum (with
    /// [`ChecksumPolicy::Verify`]), flags (SYN+FIN and SYN+RST are
    /// [`TcpError::IllegalFlags`]; RST+FIN is [`TcpControl::Rst`]), options.
    /// The NS bit and the reserved bits are ignored.
    #[inline(always)]
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        packet: &TcpPacket<&'a T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        checksum: ChecksumPolicy,
    ) -> Result<TcpRepr<'a>, TcpError> {
        Self::parse_ip(packet, IpPair::V4 { src, dst }, checksum)
    }

    /// [`parse`](Self::parse) for TCP over IPv4 or IPv6: `ip` gives the
    /// addresses of the pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1).
    #[inline(always)]
    pub fn parse_ip<T: AsRef<[u8]> + ?Sized>(
        packet: &TcpPacket<&'a T>,
        ip: IpPair,
        checksum: ChecksumPolicy,
    ) -> Result<TcpRepr<'a>, TcpError> {
        packet.check_len()?;
        if checksum == ChecksumPolicy::Verify && !packet.verify_checksum_ip(ip) {
            return Err(TcpError::BadChecksum);
        }
        let flags = packet.flags();
        let syn = flags.contains(TcpFlags::SYN);
        let fin = flags.contains(TcpFlags::FIN);
        let rst = flags.contains(TcpFlags::RST);
        let control = match (syn, fin, rst) {
            (true, true, _) | (true, _, true) => return Err(TcpError::IllegalFlags),
            (true, false, false) => TcpControl::Syn,
            (false, _, true) => TcpControl::Rst,
            (false, true, false) => TcpControl::Fin,
            (false, false, false) => TcpControl::None,
        };
        let options = TcpOptions::parse(packet.options())?;
        Ok(TcpRepr {
            src_port: packet.src_port(),
            dst_port: packet.dst_port(),
            seq_number: packet.seq_number(),
            ack_number: flags.contains(TcpFlags::ACK).then(|| packet.ack_number()),
            control,
            push: flags.contains(TcpFlags::PSH),
            urgent: flags.contains(TcpFlags::URG).then(|| packet.urgent_at()),
            ece: flags.contains(TcpFlags::ECE),
            cwr: flags.contains(TcpFlags::CWR),
            window_len: packet.window_len(),
            options,
            payload: packet.payload(),
        })
    }

    /// The flag bits this segment is sent with.
    pub fn flags(&self) -> TcpFlags {
        let control = match self.control {
            TcpControl::None => TcpFlags::NONE,
            TcpControl::Syn => TcpFlags::SYN,
            TcpControl::Fin => TcpFlags::FIN,
            TcpControl::Rst => TcpFlags::RST,
        };
        control
            .with(TcpFlags::ACK, self.ack_number.is_some())
            .with(TcpFlags::PSH, self.push)
            .with(TcpFlags::URG, self.urgent.is_some())
            .with(TcpFlags::ECE, self.ece)
            .with(TcpFlags::CWR, self.cwr)
    }

    /// Header length with options, padded to 4 bytes (20 to 60).
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.options.buffer_len()
    }

    /// Length of the whole segment: header, options and data.
    #[inline]
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len()
    }

    /// Sequence space the segment takes: data, plus one for SYN, plus one
    /// for FIN.
    pub fn segment_len(&self) -> usize {
        self.payload.len() + self.control.seq_len()
    }

    /// Writes the segment (header, options, data) and its checksum into the
    /// first [`buffer_len`](Self::buffer_len) bytes of `packet`. The
    /// checksum covers exactly those bytes, so the buffer may be longer.
    /// `src` and `dst` are the IPv4 addresses of the pseudo-header.
    #[inline]
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut TcpPacket<&mut T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<(), EmitError> {
        self.emit_ip(packet, IpPair::V4 { src, dst })
    }

    /// [`emit`](Self::emit) for TCP over IPv4 or IPv6: `ip` gives the
    /// addresses of the pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1).
    #[inline]
    pub fn emit_ip<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut TcpPacket<&mut T>,
        ip: IpPair,
    ) -> Result<(), EmitError> {
        let header_len = self.header_len();
        let total = header_len + self.payload.len();
        let seg = packet
            .buffer
            .as_mut()
            .get_mut(..total)
            .ok_or(EmitError::BufferTooSmall)?;
        let (header, payload) = seg.split_at_mut(header_len);
        payload.copy_from_slice(self.payload);
        self.put_header(header, ip, false);
        Ok(())
    }

    /// Writes the header and options only, into the first
    /// [`header_len`](Self::header_len) bytes of `header`, for a segment
    /// whose data (the repr's payload) the caller sends after them itself
    /// (a gather write): the lengths count the data, and the checksum
    /// field holds the pseudo-header sum, folded and not inverted (the
    /// data is not read): Linux's `CHECKSUM_PARTIAL`, virtio-net's
    /// `VIRTIO_NET_HDR_F_NEEDS_CSUM`, which a segmentation or checksum
    /// offload completes.
    #[inline]
    pub fn emit_header_partial(&self, header: &mut [u8], ip: IpPair) -> Result<(), EmitError> {
        let header = header
            .get_mut(..self.header_len())
            .ok_or(EmitError::BufferTooSmall)?;
        self.put_header(header, ip, true);
        Ok(())
    }

    /// The header and options into `header` (exactly `header_len` bytes),
    /// and the checksum: the pseudo-header sum only with `partial`, else in
    /// full (over the payload too).
    #[inline(always)]
    fn put_header(&self, header: &mut [u8], ip: IpPair, partial: bool) {
        let header_len = header.len();
        let total = header_len + self.payload.len();
        put_u16(header, field::SRC_PORT.start, self.src_port);
        put_u16(header, field::DST_PORT.start, self.dst_port);
        put_u32(header, field::SEQ_NUM.start, self.seq_number.get());
        put_u32(
            header,
            field::ACK_NUM.start,
            self.ack_number.map_or(0, SeqNum::get),
        );
        // header_len <= 60, so the data offset fits in 4 bits.
        header[field::DATA_OFF] = ((header_len / 4) as u8) << 4;
        header[field::FLAGS] = self.flags().0;
        put_u16(header, field::WIN_SIZE.start, self.window_len);
        put_u16(header, field::URGENT.start, self.urgent.unwrap_or(0));
        let options_sum = header
            .get_mut(HEADER_LEN..)
            .and_then(|opts| self.options.emit_summed(opts))
            .map_or(0, |(_, sum)| sum);
        let len = u32::try_from(total).unwrap_or(u32::MAX);
        if partial {
            // Linux's CHECKSUM_PARTIAL: the folded pseudo-header sum, not
            // inverted; the offload adds the segment's bytes and inverts.
            let ph = ip.pseudo_header(PROTO_TCP, len);
            put_u16(header, field::CHECKSUM.start, ph);
            return;
        }
        // The checksum is summed from the values and from the caller's
        // payload rather than read back from what was just written (reading
        // back small fresh stores stalls store-to-load forwarding).
        let seq = self.seq_number.get();
        let ack = self.ack_number.map_or(0, SeqNum::get);
        let header_sum = u64::from(self.src_port)
            + u64::from(self.dst_port)
            + u64::from(seq >> 16)
            + u64::from(seq & 0xffff)
            + u64::from(ack >> 16)
            + u64::from(ack & 0xffff)
            + (((header_len / 4) as u64) << 12 | u64::from(self.flags().0))
            + u64::from(self.window_len)
            + u64::from(self.urgent.unwrap_or(0))
            + options_sum;
        let sum = checksum::fold(
            ip.pseudo_header_unfolded(PROTO_TCP, len)
                + header_sum
                + u64::from(checksum::data(self.payload)),
        );
        put_u16(header, field::CHECKSUM.start, !sum);
    }
}

/// tcpdump's style: `45782 > 5000: Flags [S.], seq 1, ack 2, win 64240,
/// options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 10], length 0`.
impl fmt::Display for TcpRepr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {}: Flags [{}], seq {}",
            self.src_port,
            self.dst_port,
            self.flags(),
            self.seq_number
        )?;
        if !self.payload.is_empty() {
            write!(f, ":{}", self.seq_number + self.payload.len() as u32)?;
        }
        if let Some(ack) = self.ack_number {
            write!(f, ", ack {ack}")?;
        }
        write!(f, ", win {}", self.window_len)?;
        if let Some(up) = self.urgent {
            write!(f, ", urg {up}")?;
        }
        write!(f, "{}, length {}", self.options, self.payload.len())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const DST: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

    // The TCP part of the captured Linux SYN (tests/data/captures.rs):
    // 198.18.0.2.45782 > 198.18.0.1.5000: Flags [S], cksum 0x6571 (correct),
    // seq 918728658, win 64240, options [mss 1460,sackOK,TS val 3374310751
    // ecr 0,nop,wscale 10], length 0
    const SYN: [u8; 40] = [
        0xb2, 0xd6, 0x13, 0x88, 0x36, 0xc2, 0xaf, 0xd2, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0x65, 0x71, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0xc9, 0x1f,
        0xe5, 0x5f, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
    ];

    fn syn_repr() -> TcpRepr<'static> {
        TcpRepr {
            src_port: 45782,
            dst_port: 5000,
            seq_number: SeqNum::new(918728658),
            ack_number: None,
            control: TcpControl::Syn,
            push: false,
            urgent: None,
            ece: false,
            cwr: false,
            window_len: 64240,
            options: TcpOptions {
                mss: Some(1460),
                window_scale: Some(10),
                sack_permitted: true,
                sack_blocks: SackBlocks::new(),
                timestamps: Some(Timestamps {
                    tsval: 3374310751,
                    tsecr: 0,
                }),
            },
            payload: &[],
        }
    }

    #[test]
    fn deconstruct_syn() {
        let p = TcpPacket::new_checked(&SYN[..]).unwrap();
        assert_eq!(p.header_len(), 40);
        assert_eq!(p.flags(), TcpFlags::SYN);
        assert_eq!(p.checksum(), 0x6571);
        assert!(p.verify_checksum(SRC, DST));
        assert!(!p.verify_checksum(DST, Ipv4Addr::new(198, 18, 0, 3)));
        let r = TcpRepr::parse(&p, SRC, DST, ChecksumPolicy::Verify).unwrap();
        assert_eq!(r, syn_repr());
        assert_eq!(r.segment_len(), 1);
        assert_eq!(
            r.to_string(),
            "45782 > 5000: Flags [S], seq 918728658, win 64240, options [mss 1460,sackOK,TS val 3374310751 ecr 0,wscale 10], length 0"
        );
    }

    #[test]
    fn construct_syn() {
        let r = syn_repr();
        assert_eq!(r.header_len(), 40);
        let mut buf = [0xeeu8; 40];
        r.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST)
            .unwrap();
        assert_eq!(buf, SYN);
        assert_eq!(
            r.emit(&mut TcpPacket::new_unchecked(&mut buf[..39]), SRC, DST),
            Err(EmitError::BufferTooSmall)
        );
    }

    #[test]
    fn syn_without_timestamps_is_linux_order() {
        let mut r = syn_repr();
        r.options.timestamps = None;
        let mut buf = [0u8; 32];
        assert_eq!(r.header_len(), 32);
        r.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST)
            .unwrap();
        assert_eq!(buf[20..], [2, 4, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 10]);
    }

    #[test]
    fn flags() {
        let s = |f: TcpFlags| f.to_string();
        assert_eq!(s(TcpFlags::SYN), "S");
        assert_eq!(s(TcpFlags::SYN | TcpFlags::ACK), "S.");
        assert_eq!(s(TcpFlags::ACK), ".");
        assert_eq!(s(TcpFlags::PSH | TcpFlags::ACK), "P.");
        assert_eq!(s(TcpFlags::FIN | TcpFlags::ACK), "F.");
        assert_eq!(s(TcpFlags::RST), "R");
        assert_eq!(s(TcpFlags::RST | TcpFlags::ACK), "R.");
        assert_eq!(s(TcpFlags::FIN | TcpFlags::PSH | TcpFlags::ACK), "FP.");
        assert_eq!(s(TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR), "SEW");
        assert_eq!(s(TcpFlags::NONE), "none");
        assert!((TcpFlags::SYN | TcpFlags::ACK).contains(TcpFlags::ACK));
        assert!(!TcpFlags::SYN.contains(TcpFlags::SYN | TcpFlags::ACK));
    }

    #[test]
    fn illegal_flags_and_control() {
        let parse_flags = |flags: u8| {
            let mut b = [0u8; 20];
            b[12] = 0x50;
            b[13] = flags;
            let b2 = b;
            TcpRepr::parse(
                &TcpPacket::new_unchecked(&b2[..]),
                SRC,
                DST,
                ChecksumPolicy::Skip,
            )
            .map(|r| (r.control, r.flags()))
        };
        assert_eq!(parse_flags(0x03), Err(TcpError::IllegalFlags));
        assert_eq!(parse_flags(0x06), Err(TcpError::IllegalFlags));
        assert_eq!(parse_flags(0x05).map(|x| x.0), Ok(TcpControl::Rst));
        assert_eq!(parse_flags(0x11), Ok((TcpControl::Fin, TcpFlags(0x11))));
        assert_eq!(parse_flags(0xf8).map(|x| x.1), Ok(TcpFlags(0xf8)));
    }

    #[test]
    fn length_errors() {
        assert_eq!(TcpPacket::new_checked(&SYN[..19]), Err(TcpError::Truncated));
        assert_eq!(
            TcpPacket::new_checked(&SYN[..39]),
            Err(TcpError::BadHeaderLen)
        );
        let mut b = SYN;
        b[12] = 0x40;
        assert_eq!(TcpPacket::new_checked(&b[..]), Err(TcpError::BadHeaderLen));
        assert_eq!(
            TcpRepr::parse(
                &TcpPacket::new_unchecked(&SYN[..7]),
                SRC,
                DST,
                ChecksumPolicy::Skip
            ),
            Err(TcpError::Truncated)
        );
        let mut b = SYN;
        b[30] ^= 1;
        assert_eq!(
            TcpRepr::parse(
                &TcpPacket::new_unchecked(&b[..]),
                SRC,
                DST,
                ChecksumPolicy::Verify
            ),
            Err(TcpError::BadChecksum)
        );
    }

    #[test]
    fn data_and_urgent_round_trip() {
        let r = TcpRepr {
            src_port: 1,
            dst_port: 2,
            seq_number: SeqNum::new(u32::MAX),
            ack_number: Some(SeqNum::new(7)),
            control: TcpControl::Fin,
            push: true,
            urgent: Some(3),
            ece: true,
            cwr: false,
            window_len: 9,
            options: TcpOptions::default(),
            payload: b"hello",
        };
        assert_eq!(r.segment_len(), 6);
        let mut buf = [0u8; 64];
        r.emit(&mut TcpPacket::new_unchecked(&mut buf[..]), SRC, DST)
            .unwrap();
        let seg = &buf[..r.buffer_len()];
        let p = TcpPacket::new_checked(seg).unwrap();
        assert_eq!(p.flags().to_string(), "FPUE.");
        assert_eq!(TcpRepr::parse(&p, SRC, DST, ChecksumPolicy::Verify), Ok(r));
    }
}
