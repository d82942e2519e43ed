//! The application reading its connection's receive buffer itself (the
//! pull side of [`Io::deliver`]): [`Endpoint::read`] copies the unread
//! in-order bytes out and consumes them, which reopens the window.

use crate::conn::{RecvBuffer, Transition};
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
        let mut state = self.state(id).copied()?;
        let (read, end) = state.unread()?;
        let n = ((end - read) as usize).min(buf.len());
        if n == 0 {
            return Some(0);
        }
        let i = id.index;
        let each = self.bufs.rx;
        let at = i as usize * each;
        let rx = RecvBuffer::from_checked(
            &mut self.slots[i as usize].rx,
            &mut self.rx_mem[at..at + each],
        );
        let (a, b) = rx.slices(read, read + n as u32);
        buf[..a.len()].copy_from_slice(a);
        buf[a.len()..a.len() + b.len()].copy_from_slice(b);
        // A window update it makes owed goes out with `apply`'s transmit.
        let _ = state.consume(n as u32, &self.cfg.conn);
        self.stats.bytes_delivered += n as u64;
        let t = Transition::idle(state);
        if let Some(conn) = self.slots[i as usize].conn.as_mut() {
            conn.state = state;
        }
        self.apply(i, state.name(), &t, now, io);
        Some(n)
    }
}
