//! The public, read-only surface of the per-state structs: their fields
//! are `pub(crate)` (only the transitions change a state, so an embedder
//! cannot build an impossible one); embedders, tests and tracing read them
//! through these accessors, each named after its field.

use crate::conn::{
    Congestion, EcnState, FinWait2, HalfClosed, Open, RecvClosed, RecvHalf, Rtx, SendHalf,
    SynReceived, SynSent, Tcb, TimeWait, TimerTable, TsState,
};
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};

/// Accessors: `name: T` returns the field by value, `&name: T` by
/// reference.
macro_rules! getters {
    ($ty:ty { $($(#[$m:meta])* $(& $r:ident)? $($v:ident)? : $t:ty),* $(,)? }) => {
        impl $ty {
            $( getters!(@one $(#[$m])* $(& $r)? $($v)? : $t); )*
        }
    };
    (@one $(#[$m:meta])* & $name:ident : $t:ty) => {
        $(#[$m])*
        pub const fn $name(&self) -> &$t {
            &self.$name
        }
    };
    (@one $(#[$m:meta])* $name:ident : $t:ty) => {
        $(#[$m])*
        pub const fn $name(&self) -> $t {
            self.$name
        }
    };
}

getters!(TsState {
    /// TS.Recent: the peer's timestamp to echo.
    recent: u32,
    /// When TS.Recent was last updated.
    recent_at: Instant,
    /// The offset added to our millisecond clock for TSval.
    offset: u32,
});

getters!(Tcb {
    /// Timestamps, if negotiated.
    ts: Option<TsState>,
    /// SACK was negotiated.
    sack: bool,
    /// Last.ACK.sent (RFC 7323 §4.3).
    last_ack_sent: SeqNum,
    /// RFC 6298 retransmission-timer state.
    &rtx: Rtx,
    /// The connection's timers.
    &timers: TimerTable,
    /// ECN (RFC 3168) state.
    ecn: EcnState,
});

getters!(Rtx {
    /// SRTT and RTTVAR in microseconds, once a sample was taken.
    rtt: Option<(u64, u64)>,
    /// The current RTO (before backoff).
    rto: Duration,
    /// Retransmission timeouts (or unanswered zero-window probes) in a row.
    retries: u8,
    /// How many times the RTO has doubled since the last RTT sample.
    backoff: u8,
});

getters!(SendHalf {
    /// ISS.
    iss: SeqNum,
    /// SND.UNA.
    una: SeqNum,
    /// SND.NXT.
    nxt: SeqNum,
    /// SND.WND, in bytes (already scaled).
    wnd: u32,
    /// MAX.SND.WND (RFC 5961 §5.2).
    max_wnd: u32,
    /// SND.WL1.
    wl1: SeqNum,
    /// SND.WL2.
    wl2: SeqNum,
    /// The peer's window shift.
    wscale: u8,
    /// The effective send MSS.
    mss: u16,
    /// SND.MAX: the highest sequence number sent so far.
    max: SeqNum,
    /// The end of the data the application queued.
    end: SeqNum,
    /// The application closed: our FIN follows the byte before `end`.
    fin: bool,
    /// Congestion control and loss recovery.
    &cc: Congestion,
});

getters!(RecvHalf {
    /// IRS.
    irs: SeqNum,
    /// RCV.NXT.
    nxt: SeqNum,
    /// The first byte the application has not consumed yet.
    read: SeqNum,
    /// Our window shift.
    wscale: u8,
    /// The size of the receive buffer.
    cap: u32,
    /// The right edge of the window last advertised.
    adv_right: SeqNum,
    /// In-order bytes received since we last sent an ACK.
    unacked: u32,
});

getters!(RecvClosed {
    /// RCV.NXT (one past the peer's FIN).
    nxt: SeqNum,
    /// The window field we advertise, already scaled.
    window: u16,
    /// The first byte the application has not consumed yet.
    read: SeqNum,
    /// The right edge of the receive window last advertised.
    right: SeqNum,
});

getters!(SynSent {
    /// ISS.
    iss: SeqNum,
    /// The SYN's retransmission-timer state.
    &rtx: Rtx,
    /// The connection's timers.
    &timers: TimerTable,
});

getters!(SynReceived {
    /// Common state.
    &tcb: Tcb,
    /// Send half.
    &snd: SendHalf,
    /// Receive half.
    &rcv: RecvHalf,
});

getters!(Open {
    /// Common state.
    &tcb: Tcb,
    /// Send half.
    &snd: SendHalf,
    /// Receive half.
    &rcv: RecvHalf,
});

getters!(FinWait2 {
    /// Common state.
    &tcb: Tcb,
    /// Send half.
    &snd: SendHalf,
    /// Receive half.
    &rcv: RecvHalf,
});

getters!(HalfClosed {
    /// Common state.
    &tcb: Tcb,
    /// Send half.
    &snd: SendHalf,
    /// What is left of the receive half.
    &rcv: RecvClosed,
});

getters!(TimeWait {
    /// Timestamps, to answer with.
    ts: Option<TsState>,
    /// SND.NXT.
    snd_nxt: SeqNum,
    /// What is left of the receive half.
    &rcv: RecvClosed,
    /// The TIME-WAIT timer.
    &timers: TimerTable,
});
