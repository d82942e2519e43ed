//! The application reading its connection's receive buffer itself (the
//! pull side of [`Io::deliver`]): [`Endpoint::read`] copies the unread
//! in-order bytes out and consumes them, which reopens the window.

use crate::conn::{RecvBuffer, State, Transition};
use crate::time::Instant;

use super::{ConnId, Endpoint, Io};

impl Endpoint<'_> {
    /// Copies up to `buf.len()` of connection `id`'s unread in-order bytes
    /// (those an [`Io::deliver`] left in its receive buffer) into `buf` and
    /// consumes them: the window reopens as with [`Endpoint::resume`], and
    /// a window update goes out through `io` when it had shrunk (RFC 9293
    /// §3.8.6.2.2). Whatever is still unread afterwards is offered to
    /// [`Io::deliver`] again. Returns how many bytes were copied (0 when
    /// nothing is unread), or `None` when there is no such connection or
    /// it has no receive half (SYN-SENT).
    pub fn read<I: Io>(
        &mut self,
        id: ConnId,
        buf: &mut [u8],
        now: Instant,
        io: &mut I,
    ) -> Option<usize> {
        let (read, end) = self.state(id)?.unread()?;
        let n = ((end - read) as usize).min(buf.len());
        if n == 0 {
            return Some(0);
        }
        let i = id.index as usize;
        let each = self.bufs.rx;
        let at = i * each;
        let slot = &mut self.slots[i];
        let rx = RecvBuffer::from_checked(&mut slot.rx, &mut self.rx_mem[at..at + each]);
        let (a, b) = rx.slices(read, read + n as u32);
        buf[..a.len()].copy_from_slice(a);
        buf[a.len()..a.len() + b.len()].copy_from_slice(b);
        self.stats.bytes_delivered += n as u64;
        let conn = slot.conn.as_mut()?;
        // Consumed in place: a window update it makes owed goes out below.
        let owed = conn.state.consume(n as u32, &self.cfg.conn);
        let all = n as u32 == end - read;
        if !owed && all && !matches!(conn.state, State::CloseWait(_)) {
            // Nothing else changes: no segment is due, no timer moves,
            // nothing is left to offer.
            return Some(n);
        }
        let state = conn.state;
        let t = Transition::idle(state);
        self.apply(id.index, state.name(), &t, now, io);
        Some(n)
    }
}
