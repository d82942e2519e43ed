//! Ethernet II frames (IEEE 802.3 with an EtherType).

use core::fmt;

use super::{get_u16, put_u16, EmitError};

/// A 48-bit Ethernet (MAC) address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// The broadcast address `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);

    /// The address from its first six bytes, or `None` if `bytes` is
    /// shorter.
    pub fn from_bytes(bytes: &[u8]) -> Option<EthernetAddress> {
        match bytes {
            [a, b, c, d, e, f, ..] => Some(EthernetAddress([*a, *b, *c, *d, *e, *f])),
            _ => None,
        }
    }

    /// The six bytes of the address.
    pub const fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Whether this is the broadcast address.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// Whether this is a group address (the I/G bit of the first byte is
    /// set); broadcast is a multicast address too.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// Whether this is an individual (unicast) address.
    pub const fn is_unicast(&self) -> bool {
        !self.is_multicast()
    }
}

impl fmt::Display for EthernetAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// The EtherType field: what the frame's payload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EtherType {
    /// IPv4, `0x0800`.
    Ipv4,
    /// ARP, `0x0806`.
    Arp,
    /// An IEEE 802.1Q VLAN tag, `0x8100`.
    Vlan,
    /// Any other value.
    Unknown(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x8100 => EtherType::Vlan,
            other => EtherType::Unknown(other),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(t: EtherType) -> u16 {
        match t {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Vlan => 0x8100,
            EtherType::Unknown(v) => v,
        }
    }
}

impl fmt::Display for EtherType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EtherType::Ipv4 => f.write_str("IPv4"),
            EtherType::Arp => f.write_str("ARP"),
            EtherType::Vlan => f.write_str("802.1Q"),
            EtherType::Unknown(v) => write!(f, "0x{v:04x}"),
        }
    }
}

/// Why an Ethernet frame was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EthernetError {
    /// Shorter than the 14-byte header.
    Truncated,
    /// The frame carries an IEEE 802.1Q (`0x8100`) or 802.1ad (`0x88a8`)
    /// VLAN tag. Tagged frames are recognised but not supported: the stack
    /// runs on untagged links (the kernel strips tags on a VLAN interface).
    VlanTagged,
}

impl EthernetError {
    /// A short stable name, for counters and logs.
    pub const fn reason(&self) -> &'static str {
        match self {
            EthernetError::Truncated => "eth_truncated",
            EthernetError::VlanTagged => "eth_vlan_tagged",
        }
    }
}

impl fmt::Display for EthernetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EthernetError::Truncated => "Ethernet frame shorter than its 14-byte header",
            EthernetError::VlanTagged => "VLAN-tagged Ethernet frame (not supported)",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for EthernetError {}

mod field {
    use core::ops::{Range, RangeFrom};
    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const PAYLOAD: RangeFrom<usize> = 14..;
}

/// Length of the Ethernet II header.
const HEADER_LEN: usize = field::PAYLOAD.start;

/// A zero-copy view of an Ethernet II frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Length of the Ethernet II header (destination, source, EtherType).
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Wraps a buffer without checking its length (accessors may panic).
    pub const fn new_unchecked(buffer: T) -> EthernetFrame<T> {
        EthernetFrame { buffer }
    }

    /// Wraps a buffer, checking it holds at least a header.
    pub fn new_checked(buffer: T) -> Result<EthernetFrame<T>, EthernetError> {
        let frame = Self::new_unchecked(buffer);
        frame.check_len()?;
        Ok(frame)
    }

    /// Checks the buffer holds at least a 14-byte header.
    pub fn check_len(&self) -> Result<(), EthernetError> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(EthernetError::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The destination address.
    pub fn dst_addr(&self) -> EthernetAddress {
        let b = &self.buffer.as_ref()[field::DESTINATION];
        EthernetAddress([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// The source address.
    pub fn src_addr(&self) -> EthernetAddress {
        let b = &self.buffer.as_ref()[field::SOURCE];
        EthernetAddress([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// The EtherType.
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(get_u16(self.buffer.as_ref(), field::ETHERTYPE.start))
    }

    /// The bytes after the header, Ethernet padding included.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&addr.0);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&addr.0);
    }

    /// Sets the EtherType.
    pub fn set_ethertype(&mut self, ethertype: EtherType) {
        put_u16(
            self.buffer.as_mut(),
            field::ETHERTYPE.start,
            ethertype.into(),
        );
    }

    /// The bytes after the header, mutably.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD]
    }
}

/// The meaningful values of an Ethernet II header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthernetRepr {
    /// Source address.
    pub src_addr: EthernetAddress,
    /// Destination address.
    pub dst_addr: EthernetAddress,
    /// What the payload is.
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// Length of the header [`emit`](Self::emit) writes.
    pub const HEADER_LEN: usize = HEADER_LEN;

    /// Parses a frame's header.
    ///
    /// VLAN-tagged frames (EtherType `0x8100` or `0x88a8`) are rejected with
    /// [`EthernetError::VlanTagged`].
    #[inline(always)]
    pub fn parse<T: AsRef<[u8]> + ?Sized>(
        frame: &EthernetFrame<&T>,
    ) -> Result<EthernetRepr, EthernetError> {
        frame.check_len()?;
        let ethertype = frame.ethertype();
        if matches!(ethertype, EtherType::Vlan | EtherType::Unknown(0x88a8)) {
            return Err(EthernetError::VlanTagged);
        }
        Ok(EthernetRepr {
            src_addr: frame.src_addr(),
            dst_addr: frame.dst_addr(),
            ethertype,
        })
    }

    /// Length of the header, 14 bytes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the first 14 bytes of `frame`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        frame: &mut EthernetFrame<&mut T>,
    ) -> Result<(), EmitError> {
        if frame.check_len().is_err() {
            return Err(EmitError::BufferTooSmall);
        }
        frame.set_dst_addr(self.dst_addr);
        frame.set_src_addr(self.src_addr);
        frame.set_ethertype(self.ethertype);
        Ok(())
    }
}

impl fmt::Display for EthernetRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {}, ethertype {}",
            self.src_addr, self.dst_addr, self.ethertype
        )
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    const FRAME: [u8; 18] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x12, 0xbb, 0x2e, 0xa2, 0xa9, 0xc7, 0x08, 0x06, 1, 2,
        3, 4,
    ];

    #[test]
    fn deconstruct() {
        let f = EthernetFrame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.dst_addr(), EthernetAddress::BROADCAST);
        assert_eq!(
            f.src_addr(),
            EthernetAddress([0x12, 0xbb, 0x2e, 0xa2, 0xa9, 0xc7])
        );
        assert_eq!(f.ethertype(), EtherType::Arp);
        assert_eq!(f.payload(), &[1, 2, 3, 4]);
        let r = EthernetRepr::parse(&f).unwrap();
        assert_eq!(r.ethertype, EtherType::Arp);
        assert!(r.dst_addr.is_broadcast() && r.dst_addr.is_multicast());
        assert!(r.src_addr.is_unicast());
    }

    #[test]
    fn construct() {
        let r = EthernetRepr {
            src_addr: EthernetAddress([0x12, 0xbb, 0x2e, 0xa2, 0xa9, 0xc7]),
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EtherType::Arp,
        };
        let mut buf = [0u8; 18];
        buf[14..].copy_from_slice(&[1, 2, 3, 4]);
        r.emit(&mut EthernetFrame::new_unchecked(&mut buf[..]))
            .unwrap();
        assert_eq!(buf, FRAME);
        let mut short = [0u8; 13];
        assert_eq!(
            r.emit(&mut EthernetFrame::new_unchecked(&mut short[..])),
            Err(EmitError::BufferTooSmall)
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            EthernetFrame::new_checked(&FRAME[..13]),
            Err(EthernetError::Truncated)
        );
        // parse checks the length even on an unchecked view.
        assert_eq!(
            EthernetRepr::parse(&EthernetFrame::new_unchecked(&FRAME[..3])),
            Err(EthernetError::Truncated)
        );
        let mut tagged = FRAME;
        tagged[12..14].copy_from_slice(&[0x81, 0x00]);
        let f = EthernetFrame::new_checked(&tagged[..]).unwrap();
        assert_eq!(f.ethertype(), EtherType::Vlan);
        assert_eq!(EthernetRepr::parse(&f), Err(EthernetError::VlanTagged));
        tagged[12..14].copy_from_slice(&[0x88, 0xa8]);
        let f = EthernetFrame::new_checked(&tagged[..]).unwrap();
        assert_eq!(EthernetRepr::parse(&f), Err(EthernetError::VlanTagged));
    }

    #[test]
    fn display_and_conversions() {
        assert_eq!(
            EthernetAddress([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x0f]).to_string(),
            "aa:bb:cc:dd:ee:0f"
        );
        assert!(EthernetAddress([0x01, 0, 0x5e, 0, 0, 1]).is_multicast());
        assert!(!EthernetAddress([0x01, 0, 0x5e, 0, 0, 1]).is_broadcast());
        for v in [0x0800u16, 0x0806, 0x8100, 0x86dd, 0] {
            assert_eq!(u16::from(EtherType::from(v)), v);
        }
        assert_eq!(EtherType::from(0x86dd), EtherType::Unknown(0x86dd));
        assert_eq!(EthernetAddress::from_bytes(&[1, 2, 3, 4, 5]), None);
        assert_eq!(
            EthernetAddress::from_bytes(&[1, 2, 3, 4, 5, 6, 7]),
            Some(EthernetAddress([1, 2, 3, 4, 5, 6]))
        );
    }
}
