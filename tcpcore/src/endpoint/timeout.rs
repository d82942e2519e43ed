//! The timer structure over all connections: each connection's deadline
//! (its state's timers or the idle timeout), its place in the timer heap
//! (`endpoint/timers.rs`), [`Endpoint::poll_timeout`] and
//! [`Endpoint::handle_timeout`].

use crate::conn::CloseReason;
use crate::time::Instant;
use crate::wire::TcpControl;

use super::{Conn, Endpoint, Io};

impl Endpoint<'_> {
    /// When [`Endpoint::handle_timeout`] next has work to do: the earliest
    /// deadline of any connection (its state's timers, or its idle
    /// timeout). O(1): the root of the timer heap.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = self.timers.peek(self.slots);
        match self.dad.deadline() {
            None => t,
            Some(d) => Some(t.map_or(d, |t| t.min(d))),
        }
    }

    /// When connection `i` next needs [`Endpoint::handle_timeout`]: its
    /// state's timers, or the idle timeout.
    pub(super) fn deadline(&self, conn: &Conn) -> Option<Instant> {
        let idle = self.cfg.conn.idle_timeout;
        let idle = (idle > crate::time::Duration::ZERO).then(|| conn.last_rx + idle);
        match (conn.state.poll_timeout(), idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Files connection `i` in the timer heap under its deadline as it is
    /// now, or takes it out when it has none (or no connection). Called
    /// after every change of a connection's state or last-receive time, so
    /// that the heap's keys stay the true deadlines. During
    /// [`Endpoint::handle_timeout`], a connection still due is parked
    /// instead, so that the call runs it only once. O(log n).
    pub(super) fn wake_for(&mut self, i: u32) {
        let d = self.slots[i as usize]
            .conn
            .as_ref()
            .and_then(|c| self.deadline(c));
        match d {
            None => self.timers.remove(self.slots, i),
            Some(d) if self.sweep.is_some_and(|now| d <= now) => self.timers.park(self.slots, i, d),
            Some(d) => self.timers.schedule(self.slots, i, d),
        }
    }

    /// Runs the timers that are due: retransmissions, delayed ACKs, the end
    /// of TIME-WAIT and FIN-WAIT-2, the idle timeout, and drops half-open
    /// connections that ran out of SYN-ACK retries. Each connection whose
    /// deadline is `now` or earlier runs once (in deadline order); an early
    /// call does nothing.
    ///
    /// Cost: O((k + 1) log n) for `k` connections due among `n` slots; the
    /// timer heap hands out the due connections without looking at the
    /// others.
    pub fn handle_timeout<I: Io>(&mut self, now: Instant, io: &mut I) {
        self.dad_timeout(now, io);
        self.sweep = Some(now);
        while let Some(i) = self.timers.pop_due(self.slots, now) {
            let Some(conn) = self.slots[i as usize].conn.as_ref() else {
                continue;
            };
            let before = conn.state;
            if self.deadline(conn).is_none_or(|d| d > now) {
                // Not due after all (the heap's keys are the true
                // deadlines, so this does not happen): file it again.
                self.wake_for(i);
                continue;
            }
            let idle = self.cfg.conn.idle_timeout;
            if idle > crate::time::Duration::ZERO && now >= conn.last_rx + idle {
                // Nothing heard for the idle timeout: reset and report it.
                let t = before.abort_with(CloseReason::TimedOut, now);
                self.apply(i, before.name(), &t, now, io);
                continue;
            }
            let cfg = *self.conn_cfg(conn.tuple.is_ipv6());
            let (_, rx) = self.rx_buf(i);
            let t = before.on_timeout(now, &cfg, &rx);
            self.stats.retransmits += t
                .replies
                .iter()
                .filter(|r| r.control == TcpControl::Syn)
                .count() as u64;
            let (_, _, r0) = crate::conn::send::undo_counts(&before);
            let (_, _, r1) = crate::conn::send::undo_counts(&t.state);
            self.stats.timeouts += u64::from(r1.saturating_sub(r0));
            self.apply(i, before.name(), &t, now, io);
        }
        self.sweep = None;
        self.timers.unpark_all(self.slots);
    }
}
