//! ARP (RFC 826) for IPv4 over Ethernet, the only combination supported.

use core::fmt;
use core::net::Ipv4Addr;

use super::{get_u16, put_u16, EmitError, EthernetAddress};

/// Why an ARP packet was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArpError {
    /// Shorter than the 28 bytes of an Ethernet/IPv4 ARP packet.
    Truncated,
    /// The hardware type is not Ethernet (1); carries the value found.
    UnsupportedHardware(u16),
    /// The protocol type is not IPv4 (`0x0800`); carries the value found.
    UnsupportedProtocol(u16),
    /// The hardware or protocol address length is not 6 or 4.
    BadAddressLen,
}

impl ArpError {
    /// A short stable name, for counters and logs.
    pub const fn reason(&self) -> &'static str {
        match self {
            ArpError::Truncated => "arp_truncated",
            ArpError::UnsupportedHardware(_) => "arp_unsupported_hardware",
            ArpError::UnsupportedProtocol(_) => "arp_unsupported_protocol",
            ArpError::BadAddressLen => "arp_bad_address_len",
        }
    }
}

impl fmt::Display for ArpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArpError::Truncated => f.write_str("ARP packet shorter than 28 bytes"),
            ArpError::UnsupportedHardware(v) => {
                write!(f, "ARP hardware type {v} is not Ethernet (1)")
            }
            ArpError::UnsupportedProtocol(v) => {
                write!(f, "ARP protocol type 0x{v:04x} is not IPv4 (0x0800)")
            }
            ArpError::BadAddressLen => {
                f.write_str("ARP address lengths are not 6 (Ethernet) and 4 (IPv4)")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ArpError {}

/// The ARP operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    /// Request, 1: who has the target protocol address?
    Request,
    /// Reply, 2: the source protocol address is at the source hardware address.
    Reply,
    /// Any other operation code.
    Unknown(u16),
}

impl From<u16> for ArpOperation {
    fn from(v: u16) -> Self {
        match v {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            other => ArpOperation::Unknown(other),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(op: ArpOperation) -> u16 {
        match op {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Unknown(v) => v,
        }
    }
}

mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    // The addresses, at their offsets for Ethernet (6) and IPv4 (4).
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
const PACKET_LEN: usize = field::TPA.end;

const HTYPE_ETHERNET: u16 = 1;
const PTYPE_IPV4: u16 = 0x0800;

/// A zero-copy view of an ARP packet.
///
/// The address accessors assume the Ethernet/IPv4 layout (6-byte hardware
/// and 4-byte protocol addresses), so [`new_checked`](Self::new_checked)
/// asks for 28 bytes; [`ArpRepr::parse`] checks the layout really is that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

fn addr4(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

fn addr6(b: &[u8]) -> EthernetAddress {
    EthernetAddress([b[0], b[1], b[2], b[3], b[4], b[5]])
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Length of an Ethernet/IPv4 ARP packet, 28 bytes.
    pub const PACKET_LEN: usize = PACKET_LEN;

    /// Wraps a buffer without checking its length (accessors may panic).
    pub const fn new_unchecked(buffer: T) -> ArpPacket<T> {
        ArpPacket { buffer }
    }

    /// Wraps a buffer, checking it holds 28 bytes.
    pub fn new_checked(buffer: T) -> Result<ArpPacket<T>, ArpError> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the buffer holds the 28 bytes of an Ethernet/IPv4 packet.
    pub fn check_len(&self) -> Result<(), ArpError> {
        if self.buffer.as_ref().len() < PACKET_LEN {
            Err(ArpError::Truncated)
        } else {
            Ok(())
        }
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type (1 for Ethernet).
    pub fn hardware_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::HTYPE.start)
    }

    /// Protocol type (`0x0800` for IPv4).
    pub fn protocol_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::PTYPE.start)
    }

    /// Hardware address length.
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length.
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Operation.
    pub fn operation(&self) -> ArpOperation {
        get_u16(self.buffer.as_ref(), field::OPER.start).into()
    }

    /// Sender hardware address.
    pub fn source_hardware_addr(&self) -> EthernetAddress {
        addr6(&self.buffer.as_ref()[field::SHA])
    }

    /// Sender protocol address.
    pub fn source_protocol_addr(&self) -> Ipv4Addr {
        addr4(&self.buffer.as_ref()[field::SPA])
    }

    /// Target hardware address.
    pub fn target_hardware_addr(&self) -> EthernetAddress {
        addr6(&self.buffer.as_ref()[field::THA])
    }

    /// Target protocol address.
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        addr4(&self.buffer.as_ref()[field::TPA])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Sets the hardware type.
    pub fn set_hardware_type(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::HTYPE.start, v);
    }

    /// Sets the protocol type.
    pub fn set_protocol_type(&mut self, v: u16) {
        put_u16(self.buffer.as_mut(), field::PTYPE.start, v);
    }

    /// Sets the hardware address length.
    pub fn set_hardware_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::HLEN] = v;
    }

    /// Sets the protocol address length.
    pub fn set_protocol_len(&mut self, v: u8) {
        self.buffer.as_mut()[field::PLEN] = v;
    }

    /// Sets the operation.
    pub fn set_operation(&mut self, op: ArpOperation) {
        put_u16(self.buffer.as_mut(), field::OPER.start, op.into());
    }

    /// Sets the sender hardware address.
    pub fn set_source_hardware_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&a.0);
    }

    /// Sets the sender protocol address.
    pub fn set_source_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.octets());
    }

    /// Sets the target hardware address.
    pub fn set_target_hardware_addr(&mut self, a: EthernetAddress) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&a.0);
    }

    /// Sets the target protocol address.
    pub fn set_target_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.octets());
    }
}

/// The meaningful values of an Ethernet/IPv4 ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpRepr {
    /// Request, reply or another operation code.
    pub operation: ArpOperation,
    /// Sender hardware address.
    pub source_hardware_addr: EthernetAddress,
    /// Sender protocol address.
    pub source_protocol_addr: Ipv4Addr,
    /// Target hardware address (zero in a request).
    pub target_hardware_addr: EthernetAddress,
    /// Target protocol address.
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// Parses an ARP packet, which must be Ethernet/IPv4.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &ArpPacket<&T>) -> Result<ArpRepr, ArpError> {
        packet.check_len()?;
        if packet.hardware_type() != HTYPE_ETHERNET {
            return Err(ArpError::UnsupportedHardware(packet.hardware_type()));
        }
        if packet.protocol_type() != PTYPE_IPV4 {
            return Err(ArpError::UnsupportedProtocol(packet.protocol_type()));
        }
        if packet.hardware_len() != 6 || packet.protocol_len() != 4 {
            return Err(ArpError::BadAddressLen);
        }
        Ok(ArpRepr {
            operation: packet.operation(),
            source_hardware_addr: packet.source_hardware_addr(),
            source_protocol_addr: packet.source_protocol_addr(),
            target_hardware_addr: packet.target_hardware_addr(),
            target_protocol_addr: packet.target_protocol_addr(),
        })
    }

    /// Length of the packet, 28 bytes.
    pub const fn buffer_len(&self) -> usize {
        PACKET_LEN
    }

    /// Writes the packet into the first 28 bytes of `packet`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]> + ?Sized>(
        &self,
        packet: &mut ArpPacket<&mut T>,
    ) -> Result<(), EmitError> {
        if packet.check_len().is_err() {
            return Err(EmitError::BufferTooSmall);
        }
        packet.set_hardware_type(HTYPE_ETHERNET);
        packet.set_protocol_type(PTYPE_IPV4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation);
        packet.set_source_hardware_addr(self.source_hardware_addr);
        packet.set_source_protocol_addr(self.source_protocol_addr);
        packet.set_target_hardware_addr(self.target_hardware_addr);
        packet.set_target_protocol_addr(self.target_protocol_addr);
        Ok(())
    }
}

impl fmt::Display for ArpRepr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operation {
            ArpOperation::Request => write!(
                f,
                "ARP, Request who-has {} tell {}",
                self.target_protocol_addr, self.source_protocol_addr
            ),
            ArpOperation::Reply => write!(
                f,
                "ARP, Reply {} is-at {}",
                self.source_protocol_addr, self.source_hardware_addr
            ),
            ArpOperation::Unknown(op) => write!(
                f,
                "ARP, operation {op}, {} ({}) > {} ({})",
                self.source_protocol_addr,
                self.source_hardware_addr,
                self.target_protocol_addr,
                self.target_hardware_addr
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    // The ARP request of `tests/data/captures.rs`, without Ethernet header.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x12, 0xbb, 0x2e, 0xa2, 0xa9, 0xc7, 0xc6,
        0x12, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x12, 0x00, 0x01,
    ];

    fn repr() -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress([0x12, 0xbb, 0x2e, 0xa2, 0xa9, 0xc7]),
            source_protocol_addr: Ipv4Addr::new(198, 18, 0, 2),
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: Ipv4Addr::new(198, 18, 0, 1),
        }
    }

    #[test]
    fn deconstruct() {
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.hardware_type(), 1);
        assert_eq!(p.protocol_type(), 0x0800);
        assert_eq!((p.hardware_len(), p.protocol_len()), (6, 4));
        assert_eq!(ArpRepr::parse(&p), Ok(repr()));
        assert_eq!(
            repr().to_string(),
            "ARP, Request who-has 198.18.0.1 tell 198.18.0.2"
        );
    }

    #[test]
    fn construct() {
        let mut buf = [0xaau8; 28];
        repr()
            .emit(&mut ArpPacket::new_unchecked(&mut buf[..]))
            .unwrap();
        assert_eq!(buf, REQUEST);
        assert_eq!(repr().buffer_len(), 28);
        assert_eq!(
            repr().emit(&mut ArpPacket::new_unchecked(&mut buf[..27])),
            Err(EmitError::BufferTooSmall)
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..27]),
            Err(ArpError::Truncated)
        );
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_unchecked(&REQUEST[..10])),
            Err(ArpError::Truncated)
        );
        let mut b = REQUEST;
        b[1] = 6;
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_unchecked(&b[..])),
            Err(ArpError::UnsupportedHardware(6))
        );
        let mut b = REQUEST;
        b[2] = 0x86;
        b[3] = 0xdd;
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_unchecked(&b[..])),
            Err(ArpError::UnsupportedProtocol(0x86dd))
        );
        let mut b = REQUEST;
        b[5] = 16;
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_unchecked(&b[..])),
            Err(ArpError::BadAddressLen)
        );
        let mut b = REQUEST;
        b[7] = 9;
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_unchecked(&b[..])).map(|r| r.operation),
            Ok(ArpOperation::Unknown(9))
        );
    }
}
