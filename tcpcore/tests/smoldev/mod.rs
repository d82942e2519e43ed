//! An in-memory Ethernet `phy::Device` for smoltcp, whose queues the
//! interop tests fill and drain (shared by `interop_smoltcp.rs` and
//! `interop_smoltcp_client.rs`).

#![allow(dead_code)]

use std::cell::Cell;
use std::collections::VecDeque;

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant as SmolInstant;

thread_local! {
    /// The simulated clock in milliseconds, for smoltcp's TSval generator.
    static NOW_MS: Cell<u32> = const { Cell::new(0) };
}

/// Sets the simulated clock (microseconds) that [`tsval`] reads.
pub fn set_clock(now_us: u64) {
    NOW_MS.with(|c| c.set((now_us / 1000) as u32));
}

/// smoltcp's TSval generator: the simulated clock in milliseconds, offset
/// so that it does not start at zero.
pub fn tsval() -> u32 {
    NOW_MS.with(|c| c.get()).wrapping_add(7_000_000)
}

/// A simulated time (microseconds) as smoltcp's `Instant`.
pub fn smol(now: u64) -> SmolInstant {
    SmolInstant::from_micros(now as i64)
}

/// An Ethernet device whose queues the test fills and drains.
pub struct SimDevice {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: Vec<Vec<u8>>,
    /// Largest Ethernet frame (header included, FCS not).
    pub mtu: usize,
}

pub struct RxTok(Vec<u8>);

pub struct TxTok<'a>(&'a mut Vec<Vec<u8>>);

impl phy::RxToken for RxTok {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxTok<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0; len];
        let r = f(&mut buf);
        self.0.push(buf);
        r
    }
}

impl Device for SimDevice {
    type RxToken<'a> = RxTok;
    type TxToken<'a> = TxTok<'a>;

    fn receive(&mut self, _now: SmolInstant) -> Option<(RxTok, TxTok<'_>)> {
        let f = self.rx.pop_front()?;
        Some((RxTok(f), TxTok(&mut self.tx)))
    }

    fn transmit(&mut self, _now: SmolInstant) -> Option<TxTok<'_>> {
        Some(TxTok(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.mtu;
        caps
    }
}
