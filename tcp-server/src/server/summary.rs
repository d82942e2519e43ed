//! The exit summary: the counters of all workers added up, then (with
//! several workers) a line per worker.

use std::fmt::Write as _;
use std::io::Write;

use tcpcore::{CloseReason, DropReason};

use super::Failure;
use crate::worker::Report;

/// Adds `s`'s counters to `total` (every counter: a field added to
/// `tcpcore::Stats` must be added here too).
fn add_stats(total: &mut tcpcore::Stats, s: &tcpcore::Stats) {
    total.rx_frames += s.rx_frames;
    total.tx_frames += s.tx_frames;
    total.established += s.established;
    for (t, n) in total.closed.iter_mut().zip(s.closed) {
        *t += n;
    }
    for (t, n) in total.handshakes_failed.iter_mut().zip(s.handshakes_failed) {
        *t += n;
    }
    total.bytes_delivered += s.bytes_delivered;
    total.retransmits += s.retransmits;
    total.spurious_retransmits += s.spurious_retransmits;
    total.undos += s.undos;
    total.timeouts += s.timeouts;
    total.icmp_sent += s.icmp_sent;
    total.pmtu_lowered += s.pmtu_lowered;
    total.icmp_errors += s.icmp_errors;
    total.icmp_aborts += s.icmp_aborts;
    total.icmp_rto_reverts += s.icmp_rto_reverts;
    total.resets_sent += s.resets_sent;
    total.syn_cookies_sent += s.syn_cookies_sent;
    total.syn_cookies_accepted += s.syn_cookies_accepted;
    total.time_wait_recycled += s.time_wait_recycled;
    for (t, n) in total.drops.iter_mut().zip(s.drops) {
        *t += n;
    }
}

/// Adds `s`'s counters to `total`.
fn add_sock_stats(total: &mut rawnet::Stats, s: &rawnet::Stats) {
    total.packets += s.packets;
    total.drops += s.drops;
    total.freeze_q_cnt += s.freeze_q_cnt;
    total.rx_frames += s.rx_frames;
    total.truncated += s.truncated;
    total.tx_frames += s.tx_frames;
    total.tx_dropped += s.tx_dropped;
    total.tx_retries += s.tx_retries;
    total.ring_grown += s.ring_grown;
    total.ring_dups_skipped += s.ring_dups_skipped;
}

/// The exit summary: the counters of all workers added up, then (with
/// several workers) a line per worker.
pub(super) fn summary(
    err: &mut impl Write,
    reports: &[Result<Report, Failure>],
    elapsed: std::time::Duration,
) {
    let mut s = tcpcore::Stats::default();
    let mut r = rawnet::Stats::default();
    let mut open = 0;
    let mut time_wait = 0;
    for rep in reports.iter().flatten() {
        add_stats(&mut s, &rep.stats);
        add_sock_stats(&mut r, &rep.sock);
        open += rep.open;
        time_wait += rep.time_wait;
    }
    let _ = writeln!(
        err,
        "tcp-server: summary after {:.3} s\n  connections  {} established; closed: {} normal, {} reset, {} timed out, {} aborted\n  payload      {} bytes received in order\n  frames       {} received, {} sent, {} retransmissions, {} resets to unknown connections\n  dropped      {}\n  socket       {} frames dropped by the kernel (ring full), {} truncated, {} not sent",
        elapsed.as_secs_f64(),
        s.established,
        s.closed_by(CloseReason::Normal),
        s.closed_by(CloseReason::Reset),
        s.closed_by(CloseReason::TimedOut),
        s.closed_by(CloseReason::Aborted),
        s.bytes_delivered,
        s.rx_frames,
        s.tx_frames,
        s.retransmits,
        s.resets_sent,
        drops(&s),
        r.drops,
        r.truncated,
        r.tx_dropped,
    );
    if r.ring_grown > 0 {
        // The receive ring starts small and grew under load (see
        // `RING_START` in server.rs).
        let _ = writeln!(
            err,
            "  ring         grew to full size under load ({} frames reached both rings, taken once)",
            r.ring_dups_skipped
        );
    }
    rare_lines(err, &s);
    let _ = write!(err, "  open         {open} connections left in the table");
    if time_wait > 0 {
        let _ = write!(err, " ({time_wait} in TIME-WAIT)");
    }
    let _ = writeln!(err);
    if reports.len() > 1 {
        per_worker(err, reports);
    }
}

/// `reason n, ...` for every drop reason counted, or `none`.
fn drops(s: &tcpcore::Stats) -> String {
    let mut drops = String::new();
    for reason in DropReason::ALL {
        let n = s.dropped(reason);
        if n > 0 {
            if !drops.is_empty() {
                drops.push_str(", ");
            }
            let _ = write!(drops, "{} {n}", reason.as_str());
        }
    }
    if drops.is_empty() {
        drops.push_str("none");
    }
    drops
}

/// The lines printed only when their counters are not zero: SYN cookies,
/// failed handshakes, TIME-WAIT recycled.
fn rare_lines(err: &mut impl Write, s: &tcpcore::Stats) {
    if s.syn_cookies_sent > 0 {
        let _ = writeln!(
            err,
            "  syn cookies  {} sent, {} returned valid (the half-open bound was reached)",
            s.syn_cookies_sent, s.syn_cookies_accepted
        );
    }
    let failed: u64 = s.handshakes_failed.iter().sum();
    if failed > 0 {
        let _ = writeln!(
            err,
            "  handshakes   {failed} ended before ESTABLISHED: {} reset, {} timed out, {} aborted, {} ICMP error",
            s.handshakes_failed_by(CloseReason::Reset),
            s.handshakes_failed_by(CloseReason::TimedOut),
            s.handshakes_failed_by(CloseReason::Aborted),
            s.handshakes_failed_by(CloseReason::Icmp(tcpcore::IcmpError::HostUnreachable)),
        );
    }
    let icmp_closed = s.closed_by(CloseReason::Icmp(tcpcore::IcmpError::HostUnreachable));
    if s.icmp_errors > 0 || icmp_closed > 0 {
        let _ = writeln!(
            err,
            "  icmp errors  {} acted on ({} connections ended at once, {} RTO backoffs undone); {icmp_closed} closed after one timed out",
            s.icmp_errors, s.icmp_aborts, s.icmp_rto_reverts
        );
    }
    if s.time_wait_recycled > 0 {
        let _ = writeln!(
            err,
            "  time-wait    {} ended early to make room in a full table",
            s.time_wait_recycled
        );
    }
    if s.timeouts > 0 {
        let _ = writeln!(
            err,
            "  timeouts     {} retransmission timeouts with data unacknowledged",
            s.timeouts
        );
    }
    if s.undos > 0 || s.spurious_retransmits > 0 {
        let _ = writeln!(
            err,
            "  spurious     {} retransmissions shown spurious (D-SACK, timestamps), {} cwnd reductions undone",
            s.spurious_retransmits, s.undos
        );
    }
    if s.icmp_sent > 0 || s.pmtu_lowered > 0 {
        let _ = writeln!(
            err,
            "  icmp         {} echo replies sent, {} connections' MSS lowered by \"fragmentation needed\"",
            s.icmp_sent, s.pmtu_lowered
        );
    }
}

/// A line per worker.
fn per_worker(err: &mut impl Write, reports: &[Result<Report, Failure>]) {
    for (i, rep) in reports.iter().enumerate() {
        let label = format!("worker {i}");
        match rep {
            Ok(rep) => {
                let _ = writeln!(
                    err,
                    "  {label:<11}  {} connections, {} bytes received, {} frames received",
                    rep.stats.established, rep.stats.bytes_delivered, rep.stats.rx_frames
                );
            }
            Err(_) => {
                let _ = writeln!(err, "  {label:<11}  stopped on an error (not counted)");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcpcore::IcmpError;

    /// The ICMP errors acted on get a line, and the failed handshakes
    /// count the ones an ICMP error ended.
    #[test]
    fn icmp_errors_line() {
        let mut s = tcpcore::Stats::default();
        let mut out = Vec::new();
        rare_lines(&mut out, &s);
        assert!(!String::from_utf8_lossy(&out).contains("icmp"));
        s.icmp_errors = 3;
        s.icmp_aborts = 1;
        s.handshakes_failed[4] = 1;
        s.closed[4] = 2;
        assert_eq!(
            s.closed_by(CloseReason::Icmp(IcmpError::PortUnreachable)),
            2
        );
        let mut out = Vec::new();
        rare_lines(&mut out, &s);
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.contains(
                "1 ended before ESTABLISHED: 0 reset, 0 timed out, 0 aborted, 1 ICMP error"
            ),
            "{text}"
        );
        assert!(
            text.contains("icmp errors  3 acted on (1 connections ended at once, 0 RTO backoffs undone); 2 closed after one timed out"),
            "{text}"
        );
    }
}
