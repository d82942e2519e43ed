//! The Internet checksum (RFC 1071), its pseudo-headers for TCP over IPv4
//! (RFC 9293 §3.1) and for TCP and ICMPv6 over IPv6 (RFC 8200 §8.1), and
//! its incremental update (RFC 1624).
//!
//! [`data`], [`combine`] and [`pseudo_header`] return the one's complement
//! *sum*, folded to 16 bits and **not** inverted; the value written into a
//! header is `!combine(&[...])`, and a header is correct when the sum over it
//! (checksum field included) is `0xffff`.
//!
//! ```
//! use core::net::Ipv4Addr;
//! use tcpcore::wire::checksum;
//!
//! // RFC 1071 §3's example bytes.
//! assert_eq!(checksum::data(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0xddf2);
//! let ph = checksum::pseudo_header(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2), 6, 20);
//! let _header_value = !checksum::combine(&[ph, checksum::data(&[0u8; 20])]);
//! ```

use core::net::{Ipv4Addr, Ipv6Addr};

/// Bytes summed between two end-around-carry folds of the 64-bit
/// accumulator: 2^18 words of at most 2^32 - 1 each cannot overflow it.
const BLOCK: usize = 1 << 20;

/// Folds a one's complement sum held in 64 bits down to 16 bits (two
/// end-around-carry additions).
#[inline(always)]
pub(crate) fn fold(sum: u64) -> u16 {
    let (s, c) = (sum as u32).overflowing_add((sum >> 32) as u32);
    let s = s.wrapping_add(u32::from(c));
    let (t, c) = (s as u16).overflowing_add((s >> 16) as u16);
    t.wrapping_add(u16::from(c))
}

/// One's complement addition of two 64-bit sums (end-around carry).
#[inline(always)]
fn add64(a: u64, b: u64) -> u64 {
    let (s, carry) = a.overflowing_add(b);
    s + u64::from(carry)
}

/// Sums a block of at most [`BLOCK`] bytes as native-endian 32-bit words.
///
/// The one's complement sum does not depend on byte order (RFC 1071 §2(B)),
/// so the words are loaded in the machine's order and the folded result is
/// byte-swapped once at the end.
#[inline(always)]
fn sum_block_ne(block: &[u8]) -> u64 {
    let mut chunks = block.chunks_exact(32);
    // Four accumulators let the loads and adds run in parallel (and let the
    // compiler vectorise the loop).
    let (mut a, mut b, mut c, mut d) = (0u64, 0u64, 0u64, 0u64);
    for ch in &mut chunks {
        a += u64::from(ne32(&ch[0..4])) + u64::from(ne32(&ch[16..20]));
        b += u64::from(ne32(&ch[4..8])) + u64::from(ne32(&ch[20..24]));
        c += u64::from(ne32(&ch[8..12])) + u64::from(ne32(&ch[24..28]));
        d += u64::from(ne32(&ch[12..16])) + u64::from(ne32(&ch[28..32]));
    }
    let mut sum = a + b + c + d;
    let rest = chunks.remainder();
    let mut words = rest.chunks_exact(4);
    for w in &mut words {
        sum += u64::from(ne32(w));
    }
    let tail = words.remainder();
    let mut pairs = tail.chunks_exact(2);
    for p in &mut pairs {
        sum += u64::from(u16::from_ne_bytes([p[0], p[1]]));
    }
    if let [last] = pairs.remainder() {
        // An odd last byte is the high byte of a big-endian word padded with
        // zero; in the machine's order that is this pair.
        sum += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    sum
}

/// Loads a native-endian `u32` from a slice of exactly four bytes.
#[inline(always)]
fn ne32(w: &[u8]) -> u32 {
    u32::from_ne_bytes([w[0], w[1], w[2], w[3]])
}

/// The one's complement sum of `bytes` as big-endian 16-bit words (an odd
/// last byte padded with a zero byte), folded to 16 bits and not inverted
/// (RFC 1071).
///
/// Sums 32 bytes per step into 64-bit accumulators.
#[inline]
pub fn data(bytes: &[u8]) -> u16 {
    if bytes.len() <= BLOCK {
        return u16::from_be(fold(sum_block_ne(bytes)));
    }
    let mut acc = 0u64;
    // Every block but the last has an even length, so words stay aligned
    // on even offsets across blocks.
    for block in bytes.chunks(BLOCK) {
        acc = add64(acc, sum_block_ne(block));
    }
    u16::from_be(fold(acc))
}

/// One's complement sum of partial sums (from [`data`], [`pseudo_header`]
/// or other `combine`s), folded and not inverted.
#[inline]
pub fn combine(sums: &[u16]) -> u16 {
    let mut acc = 0u64;
    for &s in sums {
        acc += u64::from(s);
    }
    fold(acc)
}

/// The sum of the IPv4 pseudo-header of a TCP or UDP checksum: source and
/// destination addresses, zero, `protocol`, and the upper-layer `length`
/// (header and data) in bytes.
#[inline]
pub fn pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, length: u32) -> u16 {
    fold(pseudo_header_unfolded(src, dst, protocol, length))
}

/// [`pseudo_header`] before folding, to add more to it before one fold.
#[inline(always)]
pub(crate) fn pseudo_header_unfolded(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    length: u32,
) -> u64 {
    let s = u32::from(src);
    let d = u32::from(dst);
    u64::from(s >> 16)
        + u64::from(s & 0xffff)
        + u64::from(d >> 16)
        + u64::from(d & 0xffff)
        + u64::from(protocol)
        + u64::from(length >> 16)
        + u64::from(length & 0xffff)
}

/// The sum of the IPv6 pseudo-header of an upper-layer checksum (RFC 8200
/// §8.1): source and destination addresses, the upper-layer `length`
/// (header and data) as 32 bits, three zero bytes and `next_header` (the
/// upper-layer protocol: 6 for TCP, 58 for ICMPv6).
#[inline]
pub fn pseudo_header_v6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, length: u32) -> u16 {
    fold(pseudo_header_v6_unfolded(src, dst, next_header, length))
}

/// [`pseudo_header_v6`] before folding, to add more to it before one fold.
#[inline(always)]
pub(crate) fn pseudo_header_v6_unfolded(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: u8,
    length: u32,
) -> u64 {
    let mut sum = u64::from(next_header) + u64::from(length >> 16) + u64::from(length & 0xffff);
    for w in src.segments().into_iter().chain(dst.segments()) {
        sum += u64::from(w);
    }
    sum
}

/// The source and destination addresses of a packet, IPv4 or IPv6: what an
/// upper-layer checksum's pseudo-header needs besides the protocol and the
/// length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpPair {
    /// IPv4 addresses (pseudo-header of RFC 9293 §3.1).
    V4 {
        /// Source address.
        src: Ipv4Addr,
        /// Destination address.
        dst: Ipv4Addr,
    },
    /// IPv6 addresses (pseudo-header of RFC 8200 §8.1).
    V6 {
        /// Source address.
        src: Ipv6Addr,
        /// Destination address.
        dst: Ipv6Addr,
    },
}

impl IpPair {
    /// The folded, not inverted, sum of the pseudo-header for `protocol`
    /// (the IPv4 protocol or the IPv6 upper-layer next header) and the
    /// upper-layer `length`: [`pseudo_header`] or [`pseudo_header_v6`].
    #[inline]
    pub fn pseudo_header(&self, protocol: u8, length: u32) -> u16 {
        fold(self.pseudo_header_unfolded(protocol, length))
    }

    /// [`IpPair::pseudo_header`] before folding.
    #[inline(always)]
    pub(crate) fn pseudo_header_unfolded(&self, protocol: u8, length: u32) -> u64 {
        match *self {
            IpPair::V4 { src, dst } => pseudo_header_unfolded(src, dst, protocol, length),
            IpPair::V6 { src, dst } => pseudo_header_v6_unfolded(src, dst, protocol, length),
        }
    }
}

/// Incrementally updates a header's checksum field (the final, inverted
/// value) when one 16-bit word of the header changes from `old_word` to
/// `new_word` (RFC 1624, eqn. 3: `HC' = ~(~HC + ~m + m')`).
pub fn update(old_checksum: u16, old_word: u16, new_word: u16) -> u16 {
    !combine(&[!old_checksum, !old_word, new_word])
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// The textbook algorithm: big-endian byte pairs into a wide sum.
    fn naive(bytes: &[u8]) -> u16 {
        let mut sum: u64 = 0;
        let mut i = 0;
        while i + 1 < bytes.len() {
            sum += u64::from(bytes[i]) << 8 | u64::from(bytes[i + 1]);
            i += 2;
        }
        if i < bytes.len() {
            sum += u64::from(bytes[i]) << 8;
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the sum of 0001 f203 f4f5 f6f7 is ddf2.
        let b = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(data(&b), 0xddf2);
        assert_eq!(naive(&b), 0xddf2);
        // Odd length: the last byte is the high byte of a word.
        assert_eq!(data(&[0x01]), 0x0100);
        assert_eq!(data(&[]), 0);
        assert_eq!(data(&[0xff, 0xff]), 0xffff);
    }

    #[test]
    fn known_ipv4_header() {
        // A header from Wikipedia's "IPv4 header checksum" article: the
        // checksum field is b861.
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(!data(&h), 0xb861);
        let mut with = h;
        with[10] = 0xb8;
        with[11] = 0x61;
        assert_eq!(data(&with), 0xffff);
    }

    #[test]
    fn rfc1624_update() {
        // RFC 1624 §4: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285, HC' = 0x0000.
        assert_eq!(update(0xdd2f, 0x5555, 0x3285), 0x0000);
        // Recomputing gives the same value as updating.
        let mut h = [
            0x45u8, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        // Decrement the TTL (word 4: 0x4011 -> 0x3f11).
        let new = update(0xb861, 0x4011, 0x3f11);
        h[8] = 0x3f;
        h[10] = 0;
        h[11] = 0;
        assert_eq!(new, !data(&h));
    }

    #[test]
    fn pseudo_header_value() {
        // 198.18.0.2 -> 198.18.0.1, TCP, 40 bytes: c612 + 0002 + c612 + 0001
        // + 0006 + 0028 = 1 8c55 -> 8c56.
        let ph = pseudo_header(
            Ipv4Addr::new(198, 18, 0, 2),
            Ipv4Addr::new(198, 18, 0, 1),
            6,
            40,
        );
        assert_eq!(ph, 0x8c56);
        assert_eq!(combine(&[0xffff, 0x0001]), 0x0001);
        assert_eq!(combine(&[]), 0);
    }

    #[test]
    fn pseudo_header_v6_value() {
        // By hand: 2001:2::2 -> 2001:2::1, TCP, 40 bytes: 2001 + 0002 + 0002
        // + 2001 + 0002 + 0001 + 0028 + 0006 = 4037.
        let src: Ipv6Addr = "2001:2::2".parse().unwrap();
        let dst: Ipv6Addr = "2001:2::1".parse().unwrap();
        assert_eq!(pseudo_header_v6(src, dst, 6, 40), 0x4037);
        assert_eq!(IpPair::V6 { src, dst }.pseudo_header(6, 40), 0x4037);
        // A length above 16 bits counts both halves.
        assert_eq!(
            pseudo_header_v6(
                Ipv6Addr::UNSPECIFIED,
                Ipv6Addr::UNSPECIFIED,
                58,
                0x0001_0002
            ),
            58 + 3
        );
        // All ones fold to 0xffff, never overflow.
        let ones = Ipv6Addr::from(u128::MAX);
        assert_eq!(pseudo_header_v6(ones, ones, 0, u32::MAX), 0xffff);
        assert_eq!(pseudo_header_v6(ones, ones, 255, u32::MAX), 0x00ff);
        let (a, b) = (Ipv4Addr::new(198, 18, 0, 2), Ipv4Addr::new(198, 18, 0, 1));
        assert_eq!(
            IpPair::V4 { src: a, dst: b }.pseudo_header(6, 40),
            pseudo_header(a, b, 6, 40)
        );
    }

    #[test]
    fn every_length_and_alignment() {
        let mut buf = [0u8; 2100];
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i.wrapping_mul(131) ^ (i >> 3)) as u8;
        }
        for off in 0..8 {
            for len in 0..2000 {
                let s = &buf[off..off + len];
                assert_eq!(data(s), naive(s), "off {off} len {len}");
            }
        }
        // All ones: carries in every lane.
        let ones = [0xffu8; 1999];
        for len in 0..ones.len() {
            assert_eq!(data(&ones[..len]), naive(&ones[..len]), "len {len}");
        }
    }

    proptest! {
        #[test]
        fn matches_naive(bytes in proptest::collection::vec(any::<u8>(), 0..2000), off in 0usize..8) {
            let off = off.min(bytes.len());
            prop_assert_eq!(data(&bytes[off..]), naive(&bytes[off..]));
        }

        #[test]
        fn update_matches_recompute(mut words in proptest::collection::vec(any::<u16>(), 1..40), idx: usize, new: u16) {
            let idx = idx % words.len();
            words[0] = 0; // the checksum field
            let bytes = |w: &[u16]| w.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
            let ck = !data(&bytes(&words));
            words[0] = ck;
            prop_assume!(idx != 0);
            let old = words[idx];
            words[idx] = new;
            let updated = update(ck, old, new);
            words[0] = 0;
            let recomputed = !data(&bytes(&words));
            // Both are valid encodings; one's complement has two zeros, so
            // compare the sums they produce.
            words[0] = updated;
            prop_assert_eq!(data(&bytes(&words)), 0xffff);
            words[0] = recomputed;
            prop_assert_eq!(data(&bytes(&words)), 0xffff);
        }
    }
}
