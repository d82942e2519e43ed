//! The memory an endpoint works in, lent by the caller ([`Storage`]) or
//! owned (`OwnedStorage`, with `std`): the connection table's [`Slot`]s
//! and each connection's share of the receive and send buffers, and the
//! checks of their shapes ([`StorageError`]).

use crate::conn::RecvRanges;

use super::timers::{HasTimer, TimerNode};
use super::{Conn, NIL};

/// One entry of the connection table: a connection (or none), the
/// bookkeeping of its receive buffer, the links of the hash index, and its
/// share of the timer heap. The buffers' bytes are in [`Storage::rx`] and
/// [`Storage::tx`].
pub struct Slot {
    /// Head of the hash chain of the bucket with this slot's index.
    pub(super) bucket: u32,
    /// Next slot in the same chain, or in the free list.
    pub(super) next: u32,
    pub(super) generation: u32,
    pub(super) conn: Option<Conn>,
    pub(super) rx: RecvRanges,
    /// Links of the list of TIME-WAIT slots in the order they entered
    /// TIME-WAIT (see [`Endpoint::recycle_time_wait`](super::Endpoint::recycle_time_wait)).
    pub(super) tw_prev: u32,
    pub(super) tw_next: u32,
    /// The slot is on that list.
    pub(super) tw_linked: bool,
    /// Where this connection is in the timer heap, and the heap entry at
    /// the position of this slot's index (see `endpoint/timers.rs`).
    timer: TimerNode,
}

impl HasTimer for Slot {
    fn timer(&self) -> &TimerNode {
        &self.timer
    }
    fn timer_mut(&mut self) -> &mut TimerNode {
        &mut self.timer
    }
}

impl Slot {
    /// An empty slot.
    pub const fn new() -> Self {
        Slot {
            bucket: NIL,
            next: NIL,
            generation: 0,
            conn: None,
            rx: RecvRanges::new(),
            tw_prev: NIL,
            tw_next: NIL,
            tw_linked: false,
            timer: TimerNode::new(),
        }
    }
}

impl Default for Slot {
    fn default() -> Self {
        Self::new()
    }
}

/// The memory an endpoint works in, lent by the caller: one [`Slot`] per
/// connection, and each connection's share of the receive and send buffers.
///
/// With `n` slots, `rx.len() / n` is each connection's receive buffer (a
/// power of two, at least 2) and `tx.len() / n` its send buffer (a power of
/// two, or 0 for a server that never sends data). Only the bytes where data
/// lands are ever written, so memory the operating system hands out zeroed
/// and lazily (a `vec![0u8; n]`) costs nothing until it is used.
pub struct Storage<'s> {
    /// The connection table.
    pub slots: &'s mut [Slot],
    /// Receive buffers, `slots.len()` equal shares.
    pub rx: &'s mut [u8],
    /// Send buffers, `slots.len()` equal shares.
    pub tx: &'s mut [u8],
}

/// Why [`Endpoint::new`](super::Endpoint::new) refused its [`Storage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageError {
    /// No slots, or more than 2^32 - 2.
    BadSlotCount,
    /// The receive buffer per connection is not a power of two from 2 to
    /// 2^30, or `rx` is not an exact multiple of the slot count.
    BadReceiveBuffer,
    /// The send buffer per connection is not 0 or a power of two up to
    /// 2^30, or `tx` is not an exact multiple of the slot count.
    BadSendBuffer,
}

impl core::fmt::Display for StorageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            StorageError::BadSlotCount => "the connection table needs 1 to 2^32 - 2 slots",
            StorageError::BadReceiveBuffer => {
                "each connection's receive buffer must be a power of two from 2 bytes to 1 GiB"
            }
            StorageError::BadSendBuffer => {
                "each connection's send buffer must be 0 or a power of two up to 1 GiB"
            }
        })
    }
}

pub(super) fn tx_size_ok(n: usize) -> bool {
    n == 0 || (n.is_power_of_two() && n <= 1 << 30)
}

/// Storage that owns its memory (with the `std` feature).
#[cfg(feature = "std")]
pub struct OwnedStorage {
    slots: std::vec::Vec<Slot>,
    rx: std::vec::Vec<u8>,
    tx: std::vec::Vec<u8>,
}

#[cfg(feature = "std")]
impl OwnedStorage {
    /// Room for `conns` connections with `rx` and `tx` bytes of buffer each.
    /// The buffers are allocated zeroed, which the operating system does
    /// lazily: an idle connection costs only its slot.
    pub fn new(conns: usize, rx: usize, tx: usize) -> Result<Self, StorageError> {
        if conns == 0 || conns >= NIL as usize {
            return Err(StorageError::BadSlotCount);
        }
        let rx_total = conns
            .checked_mul(rx)
            .filter(|_| crate::conn::rxbuf_valid_size(rx));
        let tx_total = conns.checked_mul(tx).filter(|_| tx_size_ok(tx));
        let rx_total = rx_total.ok_or(StorageError::BadReceiveBuffer)?;
        let tx_total = tx_total.ok_or(StorageError::BadSendBuffer)?;
        Ok(OwnedStorage {
            slots: (0..conns).map(|_| Slot::new()).collect(),
            rx: std::vec![0u8; rx_total],
            tx: std::vec![0u8; tx_total],
        })
    }

    /// The storage to hand to [`Endpoint::new`](super::Endpoint::new).
    pub fn storage(&mut self) -> Storage<'_> {
        Storage {
            slots: &mut self.slots,
            rx: &mut self.rx,
            tx: &mut self.tx,
        }
    }
}
