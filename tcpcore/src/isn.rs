//! Initial sequence numbers (RFC 6528) and other keyed hashes of a 4-tuple.
//!
//! `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)`, where
//! `M` is a timer that ticks every 4 microseconds and `F` is SipHash-2-4
//! keyed with a secret the caller provides (from a random source; the core
//! has none). The same keyed hash, with other domain tags, gives each
//! connection its timestamp offset and places it in the connection table,
//! so an attacker who does not know the key can neither predict ISNs nor
//! aim many 4-tuples at one table bucket.
//!
//! The hashes read the tuple in network order: 12 bytes for an IPv4 tuple
//! (addresses of 4 bytes), 36 for an IPv6 one (all 16 bytes of each
//! address), so no two tuples of one family share an input.

use core::hash::Hasher;
use core::net::IpAddr;

use siphasher::sip::{SipHasher13, SipHasher24};

use crate::seq::SeqNum;
use crate::time::Instant;

/// A connection's addresses and ports, as seen from our side. Both
/// addresses are of one family (IPv4 or IPv6): the endpoint never makes a
/// tuple that mixes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FourTuple {
    /// Our address.
    pub local_addr: IpAddr,
    /// Our port.
    pub local_port: u16,
    /// The peer's address.
    pub remote_addr: IpAddr,
    /// The peer's port.
    pub remote_port: u16,
}

impl FourTuple {
    /// Whether the tuple is of the IPv6 family (its peer's address is
    /// IPv6).
    #[inline]
    pub const fn is_ipv6(&self) -> bool {
        self.remote_addr.is_ipv6()
    }

    /// The tuple in network order, as the keyed hashes read it: 12 bytes
    /// for IPv4 (`local addr, local port, remote addr, remote port`), 36
    /// for IPv6 (the same with 16-byte addresses; an IPv4 address in a
    /// mixed tuple, which the endpoint never makes, as its IPv4-mapped
    /// IPv6 form). Returns the buffer and how many of its bytes count.
    #[inline]
    pub fn to_bytes(&self) -> ([u8; 36], usize) {
        let mut b = [0u8; 36];
        match (self.local_addr, self.remote_addr) {
            (IpAddr::V4(l), IpAddr::V4(r)) => {
                b[0..4].copy_from_slice(&l.octets());
                b[4..6].copy_from_slice(&self.local_port.to_be_bytes());
                b[6..10].copy_from_slice(&r.octets());
                b[10..12].copy_from_slice(&self.remote_port.to_be_bytes());
                (b, 12)
            }
            (l, r) => {
                b[0..16].copy_from_slice(&v6_octets(l));
                b[16..18].copy_from_slice(&self.local_port.to_be_bytes());
                b[18..34].copy_from_slice(&v6_octets(r));
                b[34..36].copy_from_slice(&self.remote_port.to_be_bytes());
                (b, 36)
            }
        }
    }

    /// Feeds [`FourTuple::to_bytes`] to a hasher; an IPv4 tuple without
    /// the IPv6 buffer (one branch on the family, the 12 bytes as before).
    #[inline(always)]
    fn write_to<H: Hasher>(&self, h: &mut H) {
        if let (IpAddr::V4(l), IpAddr::V4(r)) = (self.local_addr, self.remote_addr) {
            let mut b = [0u8; 12];
            b[0..4].copy_from_slice(&l.octets());
            b[4..6].copy_from_slice(&self.local_port.to_be_bytes());
            b[6..10].copy_from_slice(&r.octets());
            b[10..12].copy_from_slice(&self.remote_port.to_be_bytes());
            h.write(&b);
        } else {
            let (b, n) = self.to_bytes();
            h.write(&b[..n]);
        }
    }
}

/// An address's 16 bytes (an IPv4 one IPv4-mapped).
#[inline]
fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

impl core::fmt::Display for FourTuple {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.remote_addr {
            IpAddr::V4(a) => write!(f, "{}:{}", a, self.remote_port),
            IpAddr::V6(a) => write!(f, "[{}]:{}", a, self.remote_port),
        }
    }
}

/// The keyed hash behind ISNs, timestamp offsets and table placement.
#[derive(Clone, Copy, Debug)]
pub struct Keyed {
    k0: u64,
    k1: u64,
}

impl Keyed {
    /// A hasher keyed with 16 secret bytes.
    pub fn new(key: [u8; 16]) -> Self {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        a.copy_from_slice(&key[..8]);
        b.copy_from_slice(&key[8..]);
        Keyed {
            k0: u64::from_le_bytes(a),
            k1: u64::from_le_bytes(b),
        }
    }

    /// SipHash-2-4 of the tuple, with a domain tag.
    pub fn hash(&self, t: &FourTuple, tag: u8) -> u64 {
        let mut h = SipHasher24::new_with_keys(self.k0, self.k1);
        t.write_to(&mut h);
        h.write_u8(tag);
        h.finish()
    }

    /// The connection table's hash of a tuple: SipHash-1-3 (keyed, so that
    /// no one can aim many tuples at one bucket, and cheaper than 2-4 for a
    /// hash computed on every frame).
    pub fn bucket_hash(&self, t: &FourTuple) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        t.write_to(&mut h);
        h.finish()
    }

    /// SipHash-2-4 of the tuple, a domain tag and 8 more bytes.
    pub fn hash_with(&self, t: &FourTuple, tag: u8, extra: u64) -> u64 {
        let mut h = SipHasher24::new_with_keys(self.k0, self.k1);
        t.write_to(&mut h);
        h.write_u8(tag);
        h.write(&extra.to_le_bytes());
        h.finish()
    }

    /// A keyed hash of a source address alone (per-source accounting): an
    /// IPv4 address whole; an IPv6 address by its /64 prefix, since one
    /// host is given a whole /64 (RFC 7421) and picks any interface
    /// identifier in it at will (RFC 8981), so that a per-source bound
    /// counts the prefix, not each of its 2^64 addresses.
    pub fn hash_addr(&self, addr: IpAddr) -> u64 {
        let mut h = SipHasher24::new_with_keys(self.k0, self.k1);
        match addr {
            IpAddr::V4(a) => {
                let mut bytes = [0u8; 5];
                bytes[..4].copy_from_slice(&a.octets());
                bytes[4] = 4;
                h.write(&bytes);
            }
            IpAddr::V6(a) => {
                let mut bytes = [0u8; 9];
                bytes[..8].copy_from_slice(&a.octets()[..8]);
                bytes[8] = 6;
                h.write(&bytes);
            }
        }
        h.finish()
    }

    /// RFC 6528 §3: the ISN for a connection starting at `now`.
    pub fn isn(&self, t: &FourTuple, now: Instant) -> SeqNum {
        let m = (now.as_micros() / 4) as u32;
        SeqNum::new(m.wrapping_add(self.hash(t, 0) as u32))
    }

    /// The per-connection offset added to our timestamp clock (RFC 7323
    /// §7.1 recommends one, so that TSval does not reveal uptime).
    pub fn ts_offset(&self, t: &FourTuple) -> u32 {
        self.hash(t, 1) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::{Ipv4Addr, Ipv6Addr};

    fn tuple(port: u16) -> FourTuple {
        FourTuple {
            local_addr: Ipv4Addr::new(198, 18, 0, 1).into(),
            local_port: 3000,
            remote_addr: Ipv4Addr::new(198, 18, 0, 2).into(),
            remote_port: port,
        }
    }

    fn tuple6(port: u16, last: u16) -> FourTuple {
        FourTuple {
            local_addr: Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1).into(),
            local_port: 3000,
            remote_addr: Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, last).into(),
            remote_port: port,
        }
    }

    #[test]
    fn ipv4_bytes_unchanged_ipv6_hashes_all_16_bytes() {
        let (b, n) = tuple(40000).to_bytes();
        assert_eq!(n, 12);
        assert_eq!(
            &b[..12],
            &[198, 18, 0, 1, 0x0b, 0xb8, 198, 18, 0, 2, 0x9c, 0x40]
        );
        let k = Keyed::new([7; 16]);
        let t0 = Instant::from_micros(1_000_000);
        // The low bytes of the address change the hash.
        assert_ne!(k.isn(&tuple6(40000, 2), t0), k.isn(&tuple6(40000, 3), t0));
        assert_ne!(k.bucket_hash(&tuple6(1, 2)), k.bucket_hash(&tuple6(1, 3)));
        assert_eq!(tuple6(40000, 2).to_bytes().1, 36);
        // Per-source: an IPv6 /64 is one source.
        let a: IpAddr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2).into();
        let b: IpAddr = Ipv6Addr::new(0x2001, 2, 0, 0, 9, 9, 9, 9).into();
        let c: IpAddr = Ipv6Addr::new(0x2001, 2, 0, 1, 0, 0, 0, 2).into();
        assert_eq!(k.hash_addr(a), k.hash_addr(b));
        assert_ne!(k.hash_addr(a), k.hash_addr(c));
    }

    #[test]
    fn isn_depends_on_tuple_key_and_clock() {
        let k = Keyed::new([7; 16]);
        let t0 = Instant::from_micros(1_000_000);
        let a = k.isn(&tuple(40000), t0);
        assert_ne!(a, k.isn(&tuple(40001), t0), "tuple");
        assert_ne!(a, Keyed::new([8; 16]).isn(&tuple(40000), t0), "key");
        // RFC 6528: M ticks every 4 us.
        let later = k.isn(&tuple(40000), Instant::from_micros(1_000_400));
        assert_eq!(later.get().wrapping_sub(a.get()), 100);
        assert_ne!(k.ts_offset(&tuple(40000)), a.get().wrapping_sub(250_000));
    }
}
