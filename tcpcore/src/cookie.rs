//! SYN cookies (RFC 4987 §3.6): when the half-open bound is reached, the
//! SYN-ACK's sequence number encodes what the connection needs, under a
//! keyed MAC, and no state is kept until the client's ACK returns it.
//!
//! The ISS is `slot (5 bits) | MSS index (3 bits) | MAC (24 bits)`, where
//! `slot` counts 64-second periods and the MAC is SipHash-2-4 (keyed) of the
//! 4-tuple, the period and the client's ISN. A cookie is accepted for two
//! periods (64 to 128 seconds).
//!
//! What a cookie cannot hold is lost, as in Linux: the client's window scale,
//! SACK-permitted and whether ECN was accepted (RFC 3168, Linux
//! `cookie_ecn_ok`) are carried in the low 6 bits of our timestamp when the
//! client offered timestamps (and come back in its TSecr); without
//! timestamps the SYN-ACK offers neither window scaling nor SACK nor ECN, so
//! such a connection has at most a 64 KiB window, no selective
//! acknowledgments and no ECN.
//! The MSS is rounded down to one of eight values.
//!
//! The MAC covers the client's ISN, which only a segment at ISN + 1 tells.
//! When the handshake ACK and the client's first segment are both lost,
//! its later segments cannot verify; the endpoint drops those whose slot
//! is current ([`slot_is_current`]) without the reset Linux sends, and the
//! client's retransmission of its first segment completes the handshake.

use crate::isn::{FourTuple, Keyed};
use crate::seq::SeqNum;
use crate::time::Instant;

/// The MSS values a cookie can carry (3 bits).
pub const MSS_TABLE: [u16; 8] = [536, 1200, 1360, 1400, 1440, 1460, 4312, 8960];

/// Seconds per cookie period.
const PERIOD_SECS: u64 = 64;
/// The low bits of our TSval that carry the options.
pub const TS_BITS: u32 = 6;
const TS_MASK: u32 = (1 << TS_BITS) - 1;
/// ECN accepted, in the timestamp bits (Linux `TS_OPT_ECN`).
const TS_ECN: u32 = 1 << 5;
/// Window scale "none" in the timestamp bits.
const NO_WSCALE: u32 = 15;

/// The options a cookie brought back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieOptions {
    /// The MSS, from [`MSS_TABLE`].
    pub mss: u16,
    /// The client's window shift, when it offered one and timestamps.
    pub window_scale: Option<u8>,
    /// The client offered SACK (known only with timestamps).
    pub sack_permitted: bool,
    /// The client asked for ECN and the SYN-ACK accepted it (known only
    /// with timestamps).
    pub ecn: bool,
}

fn period(now: Instant) -> u32 {
    (now.as_micros() / 1_000_000 / PERIOD_SECS) as u32
}

fn mac(keyed: &Keyed, t: &FourTuple, period: u32, client_isn: SeqNum) -> u32 {
    let extra = (u64::from(period) << 32) | u64::from(client_isn.get());
    (keyed.hash_with(t, 3, extra) & 0x00ff_ffff) as u32
}

/// The cookie ISS for a SYN with sequence number `client_isn` and MSS
/// option `mss` (none: 536).
pub fn make(
    keyed: &Keyed,
    t: &FourTuple,
    client_isn: SeqNum,
    mss: Option<u16>,
    now: Instant,
) -> SeqNum {
    let mss = mss.unwrap_or(536);
    let index = MSS_TABLE.iter().rposition(|&m| m <= mss).unwrap_or(0) as u32;
    let p = period(now);
    SeqNum::new(((p & 31) << 27) | (index << 24) | mac(keyed, t, p, client_isn))
}

/// The timestamp bits carrying the client's window scale, SACK-permitted,
/// and whether the SYN-ACK accepted ECN.
pub fn ts_bits(window_scale: Option<u8>, sack_permitted: bool, ecn: bool) -> u32 {
    let ws = window_scale.map_or(NO_WSCALE, |w| u32::from(w.min(14)));
    (ws << 1) | u32::from(sack_permitted) | if ecn { TS_ECN } else { 0 }
}

/// Our TSval for a cookie SYN-ACK: the connection's clock (`tsval`, which
/// later segments continue) rounded down below itself, so that TSvals never
/// go back, with `bits` in the low bits.
pub fn ts_value(tsval: u32, bits: u32) -> u32 {
    (tsval.wrapping_sub(TS_MASK + 1) & !TS_MASK) | (bits & TS_MASK)
}

/// The period a cookie returned in SEG.ACK `ack` was made in, if its slot
/// bits name this period or the one before (they differ in the slot, so at
/// most one matches).
fn period_of(ack: SeqNum, now: Instant) -> Option<u32> {
    let slot = (ack - 1u32).get() >> 27;
    let p = period(now);
    [p, p.wrapping_sub(1)].into_iter().find(|q| q & 31 == slot)
}

/// Whether SEG.ACK `ack` could return a cookie sent in this period or the
/// one before: its slot bits match (2 of 32 values). Says nothing of the
/// MAC.
pub fn slot_is_current(ack: SeqNum, now: Instant) -> bool {
    period_of(ack, now).is_some()
}

/// Checks the cookie an ACK returns: `ack` is SEG.ACK (the cookie plus
/// one), `seq` SEG.SEQ (the client's ISN plus one), `tsecr` the echoed
/// timestamp, if any. The options on success.
pub fn check(
    keyed: &Keyed,
    t: &FourTuple,
    seq: SeqNum,
    ack: SeqNum,
    tsecr: Option<u32>,
    now: Instant,
) -> Option<CookieOptions> {
    let cookie = (ack - 1u32).get();
    let q = period_of(ack, now)?;
    if mac(keyed, t, q, seq - 1u32) != cookie & 0x00ff_ffff {
        return None;
    }
    let mss = MSS_TABLE[((cookie >> 24) & 7) as usize];
    let (window_scale, sack_permitted, ecn) = match tsecr {
        Some(e) => {
            let bits = e & TS_MASK;
            let ws = (bits >> 1) & 0xf;
            (
                (ws != NO_WSCALE).then_some(ws.min(14) as u8),
                bits & 1 == 1,
                bits & TS_ECN != 0,
            )
        }
        None => (None, false, false),
    };
    Some(CookieOptions {
        mss,
        window_scale,
        sack_permitted,
        ecn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;

    fn tuple() -> FourTuple {
        FourTuple {
            local_addr: Ipv4Addr::new(198, 18, 0, 1).into(),
            local_port: 3000,
            remote_addr: Ipv4Addr::new(198, 18, 0, 2).into(),
            remote_port: 40000,
        }
    }

    #[test]
    fn ipv6_cookie_covers_the_whole_address() {
        use core::net::Ipv6Addr;
        let t6 = |last: u16| FourTuple {
            local_addr: Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1).into(),
            local_port: 3000,
            remote_addr: Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, last).into(),
            remote_port: 40000,
        };
        let k = Keyed::new([9; 16]);
        let now = Instant::from_micros(1_000_000_000);
        let isn = SeqNum::new(777);
        let c = make(&k, &t6(2), isn, Some(1440), now);
        assert!(check(&k, &t6(2), isn + 1, c + 1, None, now).is_some());
        assert!(check(&k, &t6(3), isn + 1, c + 1, None, now).is_none());
    }

    #[test]
    fn round_trip_and_expiry() {
        let k = Keyed::new([9; 16]);
        let now = Instant::from_micros(1_000_000_000);
        let isn = SeqNum::new(777);
        let c = make(&k, &tuple(), isn, Some(1460), now);
        let bits = ts_bits(Some(7), true, true);
        let ok = check(
            &k,
            &tuple(),
            isn + 1,
            c + 1,
            Some(ts_value(123_456, bits)),
            now,
        )
        .unwrap();
        assert_eq!(
            ok,
            CookieOptions {
                mss: 1460,
                window_scale: Some(7),
                sack_permitted: true,
                ecn: true,
            }
        );
        // Without timestamps: no window scale, no SACK, no ECN.
        let plain = check(&k, &tuple(), isn + 1, c + 1, None, now).unwrap();
        assert_eq!(plain.window_scale, None);
        assert!(!plain.ecn);
        let bits = ts_bits(None, false, false);
        let no_ecn = check(&k, &tuple(), isn + 1, c + 1, Some(ts_value(1, bits)), now);
        assert_eq!(no_ecn.map(|o| (o.window_scale, o.ecn)), Some((None, false)));
        // A minute later it still holds; after two periods it does not.
        let later = Instant::from_micros(now.as_micros() + 64_000_000);
        assert!(check(&k, &tuple(), isn + 1, c + 1, None, later).is_some());
        let expired = Instant::from_micros(now.as_micros() + 129_000_000);
        assert!(check(&k, &tuple(), isn + 1, c + 1, None, expired).is_none());
        // Another client ISN, port or key: rejected.
        assert!(check(&k, &tuple(), isn + 2, c + 1, None, now).is_none());
        let mut t2 = tuple();
        t2.remote_port = 40001;
        assert!(check(&k, &t2, isn + 1, c + 1, None, now).is_none());
        assert!(check(&Keyed::new([8; 16]), &tuple(), isn + 1, c + 1, None, now).is_none());
        // A forged cookie: one bit off in the MAC.
        assert!(check(&k, &tuple(), isn + 1, c + 2, None, now).is_none());
    }

    #[test]
    fn mss_rounds_down_and_ts_never_goes_back() {
        let k = Keyed::new([1; 16]);
        let now = Instant::from_micros(5_000_000);
        let c = make(&k, &tuple(), SeqNum::new(1), Some(1450), now);
        let o = check(&k, &tuple(), SeqNum::new(2), c + 1, None, now).unwrap();
        assert_eq!(o.mss, 1440);
        let c = make(&k, &tuple(), SeqNum::new(1), None, now);
        assert_eq!(
            check(&k, &tuple(), SeqNum::new(2), c + 1, None, now)
                .unwrap()
                .mss,
            536
        );
        for tsval in [0u32, 31, 32, 1000, u32::MAX] {
            let v = ts_value(tsval, 0b110101);
            assert!((tsval.wrapping_sub(v) as i32) > 0, "{tsval} -> {v}");
            assert_eq!(v & TS_MASK, 0b110101);
        }
    }
}
