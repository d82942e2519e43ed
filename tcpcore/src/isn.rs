//! Initial sequence numbers (RFC 6528) and other keyed hashes of a 4-tuple.
//!
//! `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)`, where
//! `M` is a timer that ticks every 4 microseconds and `F` is SipHash-2-4
//! keyed with a secret the caller provides (from a random source; the core
//! has none). The same keyed hash, with other domain tags, gives each
//! connection its timestamp offset and places it in the connection table,
//! so an attacker who does not know the key can neither predict ISNs nor
//! aim many 4-tuples at one table bucket.

use core::hash::Hasher;
use core::net::Ipv4Addr;

use siphasher::sip::{SipHasher13, SipHasher24};

use crate::seq::SeqNum;
use crate::time::Instant;

/// A connection's addresses and ports, as seen from our side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FourTuple {
    /// Our address.
    pub local_addr: Ipv4Addr,
    /// Our port.
    pub local_port: u16,
    /// The peer's address.
    pub remote_addr: Ipv4Addr,
    /// The peer's port.
    pub remote_port: u16,
}

impl FourTuple {
    /// The tuple as 12 bytes, in network order: what the keyed hashes read.
    pub fn to_bytes(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&self.local_addr.octets());
        b[4..6].copy_from_slice(&self.local_port.to_be_bytes());
        b[6..10].copy_from_slice(&self.remote_addr.octets());
        b[10..12].copy_from_slice(&self.remote_port.to_be_bytes());
        b
    }
}

impl core::fmt::Display for FourTuple {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}:{}", self.remote_addr, self.remote_port)
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
        h.write(&t.to_bytes());
        h.write_u8(tag);
        h.finish()
    }

    /// The connection table's hash of a tuple: SipHash-1-3 (keyed, so that
    /// no one can aim many tuples at one bucket, and cheaper than 2-4 for a
    /// hash computed on every frame).
    pub fn bucket_hash(&self, t: &FourTuple) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        h.write(&t.to_bytes());
        h.finish()
    }

    /// SipHash-2-4 of the tuple, a domain tag and 8 more bytes.
    pub fn hash_with(&self, t: &FourTuple, tag: u8, extra: u64) -> u64 {
        let mut h = SipHasher24::new_with_keys(self.k0, self.k1);
        h.write(&t.to_bytes());
        h.write_u8(tag);
        h.write(&extra.to_le_bytes());
        h.finish()
    }

    /// A keyed hash of an address alone (per-source accounting).
    pub fn hash_addr(&self, addr: core::net::Ipv4Addr) -> u64 {
        let mut h = SipHasher24::new_with_keys(self.k0, self.k1);
        let mut bytes = [0u8; 5];
        bytes[..4].copy_from_slice(&addr.octets());
        bytes[4] = 4;
        h.write(&bytes);
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

    fn tuple(port: u16) -> FourTuple {
        FourTuple {
            local_addr: Ipv4Addr::new(198, 18, 0, 1),
            local_port: 3000,
            remote_addr: Ipv4Addr::new(198, 18, 0, 2),
            remote_port: port,
        }
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
