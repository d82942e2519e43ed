//! What the workers share: the stop decision ([`Shared`], [`Stop`]), the
//! pcap file, the count of RSTs we sent; and [`ErrOut`], the line-whole
//! stderr of one thread.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};

use tcpcore::{CloseReason, IcmpError};

use crate::pcap::PcapWriter;

/// Bytes of stderr lines a worker gathers before writing them out.
const ERR_BUF: usize = 64 * 1024;

/// Why the run is stopping; the first reason given wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT or SIGTERM.
    Signal,
    /// A worker stopped (an error, or an internal one): the others follow.
    Failed,
    /// `-s`: the first connection ended, so.
    Session(CloseReason),
}

/// The first code of [`Stop::Session`] with an ICMP error (one a kind).
const ICMP_CODES: u8 = 7;

impl Stop {
    fn code(self) -> u8 {
        match self {
            Stop::Signal => 1,
            Stop::Failed => 2,
            Stop::Session(CloseReason::Normal) => 3,
            Stop::Session(CloseReason::Reset) => 4,
            Stop::Session(CloseReason::TimedOut) => 5,
            Stop::Session(CloseReason::Aborted) => 6,
            Stop::Session(CloseReason::Icmp(e)) => {
                let i = IcmpError::ALL.iter().position(|k| *k == e).unwrap_or(0);
                ICMP_CODES + i as u8
            }
        }
    }

    fn from_code(c: u8) -> Option<Stop> {
        Some(match c {
            1 => Stop::Signal,
            2 => Stop::Failed,
            3 => Stop::Session(CloseReason::Normal),
            4 => Stop::Session(CloseReason::Reset),
            5 => Stop::Session(CloseReason::TimedOut),
            6 => Stop::Session(CloseReason::Aborted),
            c if c >= ICMP_CODES => Stop::Session(CloseReason::Icmp(
                *IcmpError::ALL.get(usize::from(c - ICMP_CODES))?,
            )),
            _ => return None,
        })
    }
}

/// The pcap file all workers write to.
pub struct PcapSink {
    pub(super) writer: Option<PcapWriter>,
    /// The first write error; the file is given up after it.
    pub error: Option<io::Error>,
}

/// What the workers share.
pub struct Shared {
    stop: AtomicU8,
    /// RSTs the workers sent, counted before they go out (so that the
    /// [`rawnet::firewall::RstWatch`] never sees one of ours before it is counted).
    pub(super) our_rsts: AtomicU64,
    pub(super) pcap: Option<Mutex<PcapSink>>,
}

impl Shared {
    pub fn new(pcap: Option<PcapWriter>) -> Shared {
        Shared {
            stop: AtomicU8::new(0),
            our_rsts: AtomicU64::new(0),
            pcap: pcap.map(|w| {
                Mutex::new(PcapSink {
                    writer: Some(w),
                    error: None,
                })
            }),
        }
    }

    /// Asks every worker to stop, for `why`, unless a reason was given
    /// already.
    pub fn request_stop(&self, why: Stop) {
        let _ = self
            .stop
            .compare_exchange(0, why.code(), Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Why the run is stopping, if it is.
    pub fn stop(&self) -> Option<Stop> {
        Stop::from_code(self.stop.load(Ordering::SeqCst))
    }

    /// The pcap file, for a [`Trace`](super::trace::Trace).
    pub(crate) fn pcap_sink(&self) -> Option<&Mutex<PcapSink>> {
        self.pcap.as_ref()
    }

    /// The pcap file's state (its first write error), if there is one.
    pub fn pcap(&self) -> Option<MutexGuard<'_, PcapSink>> {
        self.pcap.as_ref().map(lock)
    }
}

/// A mutex's guard; a poisoned mutex (a thread panicked while holding it)
/// is used as it is: what it guards is a writer, still usable.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Asks the other workers to stop when dropped: a worker that ends, by an
/// error or a panic, takes the run down with it instead of leaving it half
/// served. (After a normal end the reason is given already; this changes
/// nothing then.)
pub(super) struct StopOnDrop<'a>(pub(super) &'a Shared);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.request_stop(Stop::Failed);
    }
}

/// stderr for one thread: lines are gathered here and written out whole
/// under stderr's lock, so that threads never cut each other's lines.
pub struct ErrOut {
    buf: Vec<u8>,
}

impl ErrOut {
    pub fn new() -> ErrOut {
        ErrOut {
            buf: Vec::with_capacity(ERR_BUF),
        }
    }

    /// Called after each complete line: writes out once enough is gathered.
    pub(super) fn line_done(&mut self) {
        if self.buf.len() >= ERR_BUF {
            let _ = self.flush();
        }
    }
}

impl Default for ErrOut {
    fn default() -> ErrOut {
        ErrOut::new()
    }
}

impl Write for ErrOut {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = io::stderr().lock().write_all(&self.buf);
        self.buf.clear();
        r
    }
}

impl Drop for ErrOut {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every stop reason, ICMP errors included, survives its code.
    #[test]
    fn stop_codes_round_trip() {
        let mut all = vec![
            Stop::Signal,
            Stop::Failed,
            Stop::Session(CloseReason::Normal),
            Stop::Session(CloseReason::Reset),
            Stop::Session(CloseReason::TimedOut),
            Stop::Session(CloseReason::Aborted),
        ];
        all.extend(IcmpError::ALL.map(|e| Stop::Session(CloseReason::Icmp(e))));
        for s in all {
            assert_eq!(Stop::from_code(s.code()), Some(s));
        }
        assert_eq!(Stop::from_code(0), None);
        assert_eq!(Stop::from_code(ICMP_CODES + 9), None);
    }
}
