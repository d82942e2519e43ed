//! ICMP errors for a connection other than "too big" (`pmtu.rs` has
//! those): destination unreachable, time exceeded, parameter problem, as
//! RFC 5461 and RFC 1122 §4.2.3.9 ask and Linux does (`tcp_v4_err`,
//! `tcp_v6_err`, `tcp_req_err`, `tcp_write_err`, `tcp_ld_RTO_revert`):
//!
//! - the quoted sequence number must be of data in flight,
//!   `SND.UNA <= SEG.SEQ < SND.NXT` (RFC 5927 §4.1; in SYN-SENT and
//!   SYN-RECEIVED that is the ISS), else the message is ignored (Linux
//!   counts it as `OutOfWindowIcmps`);
//! - SYN-SENT: the connection request is aborted at once with the error,
//!   soft or not (RFC 5461 §4.1: "rejects pending connection-requests";
//!   Linux `tcp_v4_err` calls `tcp_done_with_error` for every error in
//!   SYN-SENT), without a reset;
//! - SYN-RECEIVED of a passive open: the half-open connection is dropped,
//!   silently, only when [`IcmpSignal::drops_request`] (Linux
//!   `tcp_req_err`; the application never knew of it); otherwise nothing
//!   happens. After a simultaneous open it is aborted as in SYN-SENT
//!   (Linux: a full socket in `TCP_SYN_RECV`);
//! - the synchronized states never abort (Linux without `IP_RECVERR`):
//!   the error is kept as the connection's soft error, and when the
//!   connection later gives up (retransmissions or the user timeout run
//!   out, keep-alive probes go unanswered) that error is the close reason
//!   instead of [`CloseReason::TimedOut`] (Linux `tcp_write_err`:
//!   `sk_err_soft ?: ETIMEDOUT`). Any acceptable ACK clears it (Linux
//!   `tcp_ack`: "We passed data and got it acked, remove any soft error
//!   log. Something worked...");
//! - RFC 6069 (TCP-LCD): a net or host unreachable (ICMPv6 no route)
//!   quoting SND.UNA while the retransmission timer is backed off undoes
//!   one doubling: the path is down, the segment was not lost to
//!   congestion (Linux `tcp_ld_RTO_revert`).

use crate::conn::send::backed_off;
use crate::conn::state::{SendHalf, Tcb};
use crate::conn::{CloseReason, Config, Event, State, Timer, Transition};
use crate::seq::SeqNum;
use crate::time::Instant;

/// What an ICMP or ICMPv6 error says about the path to the peer, as it is
/// reported in [`CloseReason::Icmp`]. The Linux error number each one
/// becomes (`icmp_err_convert`, `icmpv6_err_convert`) is in its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcmpError {
    /// ICMP destination unreachable codes 0 (net unreachable), 6 (net
    /// unknown), 11 (net unreachable for the TOS); ICMPv6 code 0 (no route
    /// to destination). `ENETUNREACH`.
    NetUnreachable,
    /// ICMP codes 1 (host unreachable), 12 (host unreachable for the TOS),
    /// 14 (host precedence violation), 15 (precedence cutoff); ICMPv6
    /// codes 2 (beyond scope) and 3 (address unreachable); ICMP and ICMPv6
    /// time exceeded. `EHOSTUNREACH`.
    HostUnreachable,
    /// ICMP code 2 (protocol unreachable). `ENOPROTOOPT`.
    ProtocolUnreachable,
    /// ICMP code 3, ICMPv6 code 4 (port unreachable). `ECONNREFUSED`.
    PortUnreachable,
    /// ICMP codes 9, 10 (net, host administratively prohibited) and 13
    /// (communication administratively prohibited, RFC 1812); ICMPv6 codes
    /// 1 (administratively prohibited), 5 (source address failed
    /// policy), 6 (reject route). Linux: `ENETUNREACH`/`EHOSTUNREACH` for
    /// ICMP, `EACCES` for ICMPv6.
    AdminProhibited,
    /// ICMP code 5 (source route failed). `EOPNOTSUPP`.
    SourceRouteFailed,
    /// ICMP code 7 (destination host unknown). `EHOSTDOWN`.
    HostUnknown,
    /// ICMP code 8 (source host isolated). `ENONET`.
    HostIsolated,
    /// ICMP or ICMPv6 parameter problem, or an ICMPv6 destination
    /// unreachable code not defined. `EPROTO`.
    ProtocolError,
}

impl IcmpError {
    /// Every kind, in order.
    pub const ALL: [IcmpError; 9] = [
        IcmpError::NetUnreachable,
        IcmpError::HostUnreachable,
        IcmpError::ProtocolUnreachable,
        IcmpError::PortUnreachable,
        IcmpError::AdminProhibited,
        IcmpError::SourceRouteFailed,
        IcmpError::HostUnknown,
        IcmpError::HostIsolated,
        IcmpError::ProtocolError,
    ];

    /// A short text, e.g. `host unreachable`.
    pub const fn as_str(self) -> &'static str {
        match self {
            IcmpError::NetUnreachable => "network unreachable",
            IcmpError::HostUnreachable => "host unreachable",
            IcmpError::ProtocolUnreachable => "protocol unreachable",
            IcmpError::PortUnreachable => "port unreachable",
            IcmpError::AdminProhibited => "administratively prohibited",
            IcmpError::SourceRouteFailed => "source route failed",
            IcmpError::HostUnknown => "host unknown",
            IcmpError::HostIsolated => "host isolated",
            IcmpError::ProtocolError => "protocol error",
        }
    }
}

impl core::fmt::Display for IcmpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One ICMP or ICMPv6 error message, classified: the error and what Linux
/// does with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpSignal {
    /// What it says.
    pub error: IcmpError,
    /// A hard error (the `fatal` flag of Linux's `icmp_err_convert` and
    /// `icmpv6_err_convert`; RFC 1122 §4.2.3.9 names protocol and port
    /// unreachable).
    pub fatal: bool,
    /// A half-open passive connection it quotes is dropped (Linux
    /// `tcp_req_err`'s `abort`: for ICMP, net or host unreachable, time
    /// exceeded, parameter problem; for ICMPv6, [`IcmpSignal::fatal`]).
    pub drops_request: bool,
    /// It may undo one RTO backoff (RFC 6069: ICMP net or host
    /// unreachable, ICMPv6 no route).
    pub lcd: bool,
}

/// The ICMP destination unreachable codes, as RFC 792 and RFC 1812
/// §5.2.7.1 number them, with Linux's `icmp_err_convert` fatal flag.
const V4_UNREACH: [(IcmpError, bool); 16] = [
    (IcmpError::NetUnreachable, false),     // 0 net unreachable
    (IcmpError::HostUnreachable, false),    // 1 host unreachable
    (IcmpError::ProtocolUnreachable, true), // 2 protocol unreachable
    (IcmpError::PortUnreachable, true),     // 3 port unreachable
    (IcmpError::HostUnreachable, false),    // 4 frag needed (pmtu.rs)
    (IcmpError::SourceRouteFailed, false),  // 5 source route failed
    (IcmpError::NetUnreachable, true),      // 6 net unknown
    (IcmpError::HostUnknown, true),         // 7 host unknown
    (IcmpError::HostIsolated, true),        // 8 host isolated
    (IcmpError::AdminProhibited, true),     // 9 net prohibited
    (IcmpError::AdminProhibited, true),     // 10 host prohibited
    (IcmpError::NetUnreachable, false),     // 11 net unreachable, TOS
    (IcmpError::HostUnreachable, false),    // 12 host unreachable, TOS
    (IcmpError::AdminProhibited, true),     // 13 communication prohibited
    (IcmpError::HostUnreachable, true),     // 14 precedence violation
    (IcmpError::HostUnreachable, true),     // 15 precedence cutoff
];

/// The ICMPv6 destination unreachable codes (RFC 4443 §3.1), with Linux's
/// `icmpv6_err_convert` fatal flag.
const V6_UNREACH: [(IcmpError, bool); 7] = [
    (IcmpError::NetUnreachable, false),  // 0 no route
    (IcmpError::AdminProhibited, true),  // 1 administratively prohibited
    (IcmpError::HostUnreachable, false), // 2 beyond scope
    (IcmpError::HostUnreachable, false), // 3 address unreachable
    (IcmpError::PortUnreachable, true),  // 4 port unreachable
    (IcmpError::AdminProhibited, true),  // 5 source address failed policy
    (IcmpError::AdminProhibited, true),  // 6 reject route
];

impl IcmpSignal {
    /// ICMP destination unreachable (type 3) with `code`. `None` for code 4
    /// (fragmentation needed: path MTU, `pmtu.rs`) and for codes past 15,
    /// which Linux ignores (`code > NR_ICMP_UNREACH`).
    pub fn v4_unreachable(code: u8) -> Option<IcmpSignal> {
        if code == 4 {
            return None;
        }
        let &(error, fatal) = V4_UNREACH.get(usize::from(code))?;
        let lcd = code <= 1;
        Some(IcmpSignal {
            error,
            fatal,
            // Linux tcp_v4_err: tcp_req_err(.., code == ICMP_NET_UNREACH
            // || code == ICMP_HOST_UNREACH).
            drops_request: lcd,
            lcd,
        })
    }

    /// ICMP time exceeded (type 11), any code: host unreachable, soft
    /// (Linux `tcp_v4_err`: `EHOSTUNREACH`); it drops a half-open request.
    pub const fn v4_time_exceeded() -> IcmpSignal {
        IcmpSignal {
            error: IcmpError::HostUnreachable,
            fatal: false,
            drops_request: true,
            lcd: false,
        }
    }

    /// ICMP parameter problem (type 12): a protocol error (`EPROTO`); it
    /// drops a half-open request.
    pub const fn v4_param_problem() -> IcmpSignal {
        IcmpSignal {
            error: IcmpError::ProtocolError,
            fatal: true,
            drops_request: true,
            lcd: false,
        }
    }

    /// ICMPv6 destination unreachable (type 1) with `code`; a code not
    /// defined is a fatal protocol error (`icmpv6_err_convert`).
    pub fn v6_unreachable(code: u8) -> IcmpSignal {
        let (error, fatal) = V6_UNREACH
            .get(usize::from(code))
            .copied()
            .unwrap_or((IcmpError::ProtocolError, true));
        IcmpSignal {
            error,
            fatal,
            drops_request: fatal,
            lcd: code == 0,
        }
    }

    /// ICMPv6 time exceeded (type 3): host unreachable, soft.
    pub const fn v6_time_exceeded() -> IcmpSignal {
        IcmpSignal {
            error: IcmpError::HostUnreachable,
            fatal: false,
            drops_request: false,
            lcd: false,
        }
    }

    /// ICMPv6 parameter problem (type 4): a fatal protocol error.
    pub const fn v6_param_problem() -> IcmpSignal {
        IcmpSignal {
            error: IcmpError::ProtocolError,
            fatal: true,
            drops_request: true,
            lcd: false,
        }
    }
}

/// What an ICMP error did to a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpEffect {
    /// The connection request (SYN-SENT, or SYN-RECEIVED after a
    /// simultaneous open) was aborted with the error.
    Aborted,
    /// The half-open passive connection was dropped, silently.
    RequestDropped,
    /// Kept as the soft error of a synchronized connection; `reverted`:
    /// one RTO backoff was undone as well (RFC 6069).
    SoftError {
        /// One backoff step was undone.
        reverted: bool,
    },
    /// The quoted sequence number is not of data in flight (RFC 5927
    /// §4.1): ignored.
    NotInFlight,
    /// Not acted on in this state: a soft error in SYN-RECEIVED, or
    /// TIME-WAIT, CLOSED.
    Ignored,
}

impl IcmpEffect {
    /// The message changed something (the connection ended, or its soft
    /// error was recorded).
    pub const fn acted(self) -> bool {
        matches!(
            self,
            IcmpEffect::Aborted | IcmpEffect::RequestDropped | IcmpEffect::SoftError { .. }
        )
    }
}

/// The ACK-clocked state of a synchronized connection.
fn synced(state: &mut State) -> Option<(&mut Tcb, &mut SendHalf)> {
    match state {
        State::Established(s) | State::FinWait1(s) => Some((&mut s.tcb, &mut s.snd)),
        State::FinWait2(s) => Some((&mut s.tcb, &mut s.snd)),
        State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => {
            Some((&mut s.tcb, &mut s.snd))
        }
        _ => None,
    }
}

/// The end of a connection request: CLOSED with the error, no reset.
fn aborted(error: IcmpError) -> Transition<'static> {
    let reason = CloseReason::Icmp(error);
    let mut t = Transition::new(State::Closed(reason));
    t.event(Event::Closed(reason));
    t
}

impl State {
    /// An ICMP or ICMPv6 error (`sig`) quoting a segment of this connection
    /// that began with sequence number `seq` (see the module's text for
    /// what each state does). The transition is the state unchanged,
    /// changed in place (soft error, RTO), or CLOSED with
    /// [`CloseReason::Icmp`].
    pub fn on_icmp_error(
        mut self,
        seq: SeqNum,
        sig: IcmpSignal,
        now: Instant,
        cfg: &Config,
    ) -> (Transition<'static>, IcmpEffect) {
        let effect = match &mut self {
            State::SynSent(s) => {
                if seq != s.iss {
                    IcmpEffect::NotInFlight
                } else {
                    return (aborted(sig.error), IcmpEffect::Aborted);
                }
            }
            State::SynReceived(s) => {
                if seq != s.snd.iss {
                    IcmpEffect::NotInFlight
                } else if s.simultaneous {
                    return (aborted(sig.error), IcmpEffect::Aborted);
                } else if sig.drops_request {
                    return (aborted(sig.error), IcmpEffect::RequestDropped);
                } else {
                    IcmpEffect::Ignored
                }
            }
            st => match synced(st) {
                None => IcmpEffect::Ignored,
                Some((tcb, snd)) => {
                    if !(seq.after_eq(snd.una) && seq.before(snd.max)) {
                        IcmpEffect::NotInFlight
                    } else {
                        tcb.soft_err = Some(sig.error);
                        let reverted = sig.lcd && seq == snd.una && lcd_revert(tcb, now, cfg);
                        IcmpEffect::SoftError { reverted }
                    }
                }
            },
        };
        (Transition::new(self), effect)
    }

    /// The soft error a synchronized connection keeps (see
    /// [`State::on_icmp_error`]), if any.
    pub fn soft_error(&self) -> Option<IcmpError> {
        match self {
            State::Established(s) | State::FinWait1(s) => s.tcb.soft_err,
            State::FinWait2(s) => s.tcb.soft_err,
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => s.tcb.soft_err,
            _ => None,
        }
    }
}

/// The reason a connection that gives up reports: its soft error, else
/// [`CloseReason::TimedOut`] (Linux `tcp_write_err`).
pub(crate) fn give_up_reason(tcb: &Tcb) -> CloseReason {
    tcb.soft_err
        .map_or(CloseReason::TimedOut, CloseReason::Icmp)
}

/// An acceptable ACK arrived: the soft error is forgotten (Linux
/// `tcp_ack`).
pub(crate) fn on_ack(state: &mut State) {
    if let Some((tcb, _)) = synced(state) {
        tcb.soft_err = None;
    }
}

/// RFC 6069 §4 (Linux `tcp_ld_RTO_revert`): while the retransmission
/// timer is backed off, undo one doubling; the timer then runs from when
/// the head segment was last sent with the shorter RTO, and fires at once
/// if that is past. Returns whether it did.
fn lcd_revert(tcb: &mut Tcb, now: Instant, cfg: &Config) -> bool {
    if tcb.rtx.retries == 0 || tcb.rtx.backoff == 0 {
        return false;
    }
    let Some((Timer::Retransmit, at)) = tcb.timers.rto() else {
        return false;
    };
    // The timer was set when the head went out last, backed_off ago.
    let sent = Instant::from_micros(
        at.as_micros()
            .saturating_sub(backed_off(&tcb.rtx, cfg).as_micros()),
    );
    tcb.rtx.backoff -= 1;
    let due = sent + backed_off(&tcb.rtx, cfg);
    tcb.timers.set_rto(Timer::Retransmit, due.max(now));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_codes_follow_icmp_err_convert() {
        let s = IcmpSignal::v4_unreachable(1).unwrap();
        assert_eq!(s.error, IcmpError::HostUnreachable);
        assert!(!s.fatal && s.drops_request && s.lcd);
        let s = IcmpSignal::v4_unreachable(3).unwrap();
        assert_eq!(s.error, IcmpError::PortUnreachable);
        assert!(s.fatal && !s.drops_request && !s.lcd);
        assert_eq!(
            IcmpSignal::v4_unreachable(13).unwrap().error,
            IcmpError::AdminProhibited
        );
        assert_eq!(IcmpSignal::v4_unreachable(4), None);
        assert_eq!(IcmpSignal::v4_unreachable(16), None);
    }

    #[test]
    fn v6_codes_follow_icmpv6_err_convert() {
        let s = IcmpSignal::v6_unreachable(0);
        assert_eq!(s.error, IcmpError::NetUnreachable);
        assert!(!s.fatal && !s.drops_request && s.lcd);
        let s = IcmpSignal::v6_unreachable(1);
        assert_eq!(s.error, IcmpError::AdminProhibited);
        assert!(s.fatal && s.drops_request);
        assert_eq!(
            IcmpSignal::v6_unreachable(4).error,
            IcmpError::PortUnreachable
        );
        let s = IcmpSignal::v6_unreachable(200);
        assert_eq!(s.error, IcmpError::ProtocolError);
        assert!(s.fatal);
    }
}
