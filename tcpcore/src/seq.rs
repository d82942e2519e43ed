//! Sequence-number arithmetic (RFC 9293 §3.4).
//!
//! Sequence numbers live in a 32-bit space that wraps around. [`SeqNum`]
//! deliberately implements neither `PartialOrd` nor `Ord`: "less than" only
//! makes sense for numbers less than 2^31 apart, so comparisons go through
//! [`SeqNum::before`] and [`SeqNum::after`], which are correct across the wrap.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};

/// A TCP sequence number, compared modulo 2^32.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(u32);

impl SeqNum {
    /// Wraps a raw 32-bit sequence number.
    pub const fn new(raw: u32) -> Self {
        SeqNum(raw)
    }

    /// The raw 32-bit value, as written on the wire.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Signed distance from `other` to `self` (`self - other`), in
    /// `-2^31 .. 2^31`.
    pub const fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// `self` comes strictly before `other` (RFC 9293's `<`).
    pub const fn before(self, other: SeqNum) -> bool {
        self.diff(other) < 0
    }

    /// `self` comes before `other` or is equal to it (`=<`).
    pub const fn before_eq(self, other: SeqNum) -> bool {
        self.diff(other) <= 0
    }

    /// `self` comes strictly after `other` (`>`).
    pub const fn after(self, other: SeqNum) -> bool {
        self.diff(other) > 0
    }

    /// `self` comes after `other` or is equal to it (`>=`).
    pub const fn after_eq(self, other: SeqNum) -> bool {
        self.diff(other) >= 0
    }

    /// `low =< self < high`, the half-open window test of RFC 9293 §3.4.
    pub const fn in_window(self, low: SeqNum, high: SeqNum) -> bool {
        low.before_eq(self) && self.before(high)
    }

    /// The later of two sequence numbers.
    pub const fn max(self, other: SeqNum) -> SeqNum {
        if self.after(other) {
            self
        } else {
            other
        }
    }

    /// The earlier of two sequence numbers.
    pub const fn min(self, other: SeqNum) -> SeqNum {
        if self.before(other) {
            self
        } else {
            other
        }
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    fn add(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(rhs))
    }
}

impl AddAssign<u32> for SeqNum {
    fn add_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    fn sub(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(rhs))
    }
}

/// Distance in bytes from `rhs` forward to `self`. Only meaningful when
/// `rhs` is not after `self`; a negative distance saturates to zero.
impl Sub<SeqNum> for SeqNum {
    type Output = u32;
    fn sub(self, rhs: SeqNum) -> u32 {
        let d = self.diff(rhs);
        if d < 0 {
            0
        } else {
            d as u32
        }
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeqNum({})", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wraps_around() {
        let a = SeqNum::new(u32::MAX - 1);
        let b = a + 4;
        assert_eq!(b.get(), 2);
        assert!(a.before(b));
        assert!(b.after(a));
        assert_eq!(b - a, 4);
        assert_eq!(a - b, 0);
        assert!(SeqNum::new(u32::MAX).in_window(a, b));
        assert!(!b.in_window(a, b));
    }

    proptest! {
        #[test]
        fn ordering_laws(x: u32, d in 1u32..(1 << 31)) {
            let a = SeqNum::new(x);
            let b = a + d;
            // Exactly one of before / equal / after holds.
            prop_assert!(a.before(b));
            prop_assert!(!a.after(b));
            prop_assert!(b.after(a));
            prop_assert!(!b.before(a));
            prop_assert!(a.before_eq(b) && a.before_eq(a) && a.after_eq(a));
            prop_assert_eq!(b - a, d);
            prop_assert_eq!(b.diff(a), d as i32);
            prop_assert_eq!(a.max(b), b);
            prop_assert_eq!(a.min(b), a);
        }

        #[test]
        fn transitive_within_half_space(x: u32, d1 in 1u32..(1 << 30), d2 in 1u32..(1 << 30)) {
            let a = SeqNum::new(x);
            let b = a + d1;
            let c = b + d2;
            prop_assert!(a.before(b) && b.before(c) && a.before(c));
            prop_assert!(b.in_window(a, c));
            prop_assert!(!c.in_window(a, b));
        }

        #[test]
        fn add_sub_inverse(x: u32, d: u32) {
            let a = SeqNum::new(x);
            prop_assert_eq!((a + d) - d, a);
        }
    }
}
