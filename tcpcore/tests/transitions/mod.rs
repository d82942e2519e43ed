//! Per-state transition tables (issue #15, Tests): a connection is brought
//! into a state by driving [`State::accept`] (or [`State::connect`]) and
//! [`State::on_segment`] directly, without an endpoint, and each row of a
//! table feeds one segment (or fires one timer) and checks exactly what
//! comes out: the next state, the segments to send, the events, the drop
//! reason, the bytes delivered.
//!
//! Sequence numbers in rows are written relative to the connection's
//! variables before the segment ([`P`]), so a row reads like the RFC:
//! `seg().seq(P::RcvNxt(100))` is "a segment 100 bytes past RCV.NXT".

#![allow(dead_code)] // each test file uses its part

mod fixture;
mod run;

pub use fixture::*;
pub use run::*;

use tcpcore::conn::SegmentDrop;
use tcpcore::wire::TcpControl;
use tcpcore::{Duration, Event, StateName};

/// The peer's initial sequence number (IRS).
pub const IRS: u32 = 1_000;
/// Our initial sequence number (ISS).
pub const ISS: u32 = 50_000;
/// Our receive buffer (its free space is the window).
pub const RX: usize = 4096;
/// Our send buffer.
pub const TX: usize = 4096;
/// The peer's window field in its segments (scaled by 7 with window scaling).
pub const PEER_WND: u16 = 8000;
/// Bytes the application has sent and the peer has not acknowledged in the
/// fixtures from ESTABLISHED on.
pub const IN_FLIGHT: u32 = 300;
/// Bytes the peer sent (and the application read) in ESTABLISHED.
pub const PEER_SENT: u32 = 200;
/// The peer's TSval in its SYN.
pub const SYN_TSVAL: u32 = 100;

static DATA: [u8; 8192] = [0x5a; 8192];

/// Options the peer offers in its SYN (and we accept: `Config::default()`
/// accepts them all).
#[derive(Clone, Copy, Debug)]
pub struct Opts {
    /// RFC 7323 timestamps.
    pub ts: bool,
    /// RFC 2018 SACK-permitted.
    pub sack: bool,
    /// RFC 7323 window scale (the peer's shift is 7).
    pub ws: bool,
}

/// MSS only.
pub const PLAIN: Opts = Opts {
    ts: false,
    sack: false,
    ws: false,
};
/// Timestamps, SACK and window scaling.
pub const FULL: Opts = Opts {
    ts: true,
    sack: true,
    ws: true,
};

/// A point in sequence space, relative to the connection's variables before
/// the segment (or timer) of the row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum P {
    /// RCV.NXT + n.
    RcvNxt(i32),
    /// The right edge of the receive window last advertised, + n.
    RcvRight(i32),
    /// IRS + n.
    Irs(i32),
    /// SND.UNA + n.
    SndUna(i32),
    /// SND.NXT + n (the highest sent: SND.MAX).
    SndNxt(i32),
    /// SND.UNA - MAX.SND.WND + n (RFC 5961 §5.2's lower bound).
    UnaLessMaxWnd(i32),
    /// ISS + n.
    Iss(i32),
    /// The segment's own SEG.ACK.
    SegAck,
    /// Zero.
    Zero,
}

/// The peer's timestamp option in a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ts {
    /// TSval newer than TS.Recent (when timestamps are in use).
    Fresh,
    /// TSval equal to TS.Recent.
    Same,
    /// TSval older than TS.Recent: fails PAWS (RFC 7323 §5.3 R1).
    Old,
    /// No timestamp option.
    Absent,
}

/// A segment from the peer, built from the connection's variables.
#[derive(Clone, Copy, Debug)]
pub struct Seg {
    ctl: TcpControl,
    seq: P,
    ack: Option<P>,
    len: u32,
    wnd: u16,
    ts: Ts,
    /// One SACK block (RFC 2018), if any.
    sack: Option<(P, P)>,
}

/// An ACK at RCV.NXT acknowledging nothing new (SEG.ACK = SND.UNA).
pub fn seg() -> Seg {
    Seg {
        ctl: TcpControl::None,
        seq: P::RcvNxt(0),
        ack: Some(P::SndUna(0)),
        len: 0,
        wnd: PEER_WND,
        ts: Ts::Fresh,
        sack: None,
    }
}

/// A RST at RCV.NXT, without ACK.
pub fn rst() -> Seg {
    Seg {
        ctl: TcpControl::Rst,
        ack: None,
        ..seg()
    }
}

/// A SYN at RCV.NXT, without ACK.
pub fn syn() -> Seg {
    Seg {
        ctl: TcpControl::Syn,
        ack: None,
        ..seg()
    }
}

/// A FIN at RCV.NXT with ACK = SND.UNA.
pub fn fin() -> Seg {
    Seg {
        ctl: TcpControl::Fin,
        ..seg()
    }
}

impl Seg {
    /// SEG.SEQ.
    pub fn seq(mut self, p: P) -> Self {
        self.seq = p;
        self
    }
    /// SEG.ACK (sets the ACK flag).
    pub fn ack(mut self, p: P) -> Self {
        self.ack = Some(p);
        self
    }
    /// No ACK flag.
    pub fn no_ack(mut self) -> Self {
        self.ack = None;
        self
    }
    /// `n` bytes of payload.
    pub fn len(mut self, n: u32) -> Self {
        self.len = n;
        self
    }
    /// The window field.
    pub fn wnd(mut self, w: u16) -> Self {
        self.wnd = w;
        self
    }
    /// A SACK block `[left, right)` (RFC 2018).
    pub fn sack(mut self, left: P, right: P) -> Self {
        self.sack = Some((left, right));
        self
    }
    /// The SACK block, if any.
    pub fn sack_block(&self) -> Option<(P, P)> {
        self.sack
    }
    /// The timestamp option.
    pub fn ts(mut self, ts: Ts) -> Self {
        self.ts = ts;
        self
    }
}

/// A segment we are expected to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Out {
    ctl: TcpControl,
    seq: P,
    ack: Option<P>,
    len: u32,
    sack: Option<(P, P)>,
}

/// `<SEQ=seq><ACK=ack><CTL=ACK>`.
pub fn ack(seq: P, ack: P) -> Out {
    Out {
        ctl: TcpControl::None,
        seq,
        ack: Some(ack),
        len: 0,
        sack: None,
    }
}

/// The RFC 5961 challenge ACK (and the ACK for an unacceptable segment):
/// `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`.
pub fn challenge() -> Out {
    ack(P::SndNxt(0), P::RcvNxt(0))
}

/// `<SEQ=seq><CTL=RST>`.
pub fn rst_out(seq: P) -> Out {
    Out {
        ctl: TcpControl::Rst,
        seq,
        ack: None,
        len: 0,
        sack: None,
    }
}

/// `<SEQ=seq><ACK=ack><CTL=RST,ACK>`.
pub fn rst_ack_out(seq: P, ack: P) -> Out {
    Out {
        ack: Some(ack),
        ..rst_out(seq)
    }
}

/// `<SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>`.
pub fn syn_ack() -> Out {
    Out {
        ctl: TcpControl::Syn,
        seq: P::Iss(0),
        ack: Some(P::RcvNxt(0)),
        len: 0,
        sack: None,
    }
}

/// `len` bytes of data at `seq`, with the current ACK.
pub fn data(seq: P, len: u32) -> Out {
    Out {
        ctl: TcpControl::None,
        seq,
        ack: Some(P::RcvNxt(0)),
        len,
        sack: None,
    }
}

/// Our FIN at `seq`, with the current ACK.
pub fn fin_out(seq: P) -> Out {
    Out {
        ctl: TcpControl::Fin,
        ..data(seq, 0)
    }
}

impl Out {
    /// The acknowledgment number (where the default one does not apply:
    /// SYN-SENT knows no RCV.NXT before the segment).
    pub fn acking(mut self, p: P) -> Self {
        self.ack = Some(p);
        self
    }

    /// The one SACK block the segment carries (RFC 2018 §4).
    pub fn sack(mut self, left: P, right: P) -> Self {
        self.sack = Some((left, right));
        self
    }
}

/// A check on the state after the transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// SND.UNA afterwards.
    SndUna(P),
    /// RCV.NXT afterwards.
    RcvNxt(P),
    /// TS.Recent afterwards.
    TsRecent(Ts),
    /// The FIN-WAIT-2 deadline or the TIME-WAIT expiry, from now.
    Deadline(Duration),
    /// [`State::poll_timeout`] afterwards, from now.
    Timeout(Option<Duration>),
}

/// What a row expects.
#[derive(Clone, Debug)]
pub struct Expect {
    state: StateName,
    replies: Vec<Out>,
    events: Vec<Event>,
    drop: Option<SegmentDrop>,
    delivered: u32,
    reopen: Option<P>,
    after: Vec<After>,
}

/// The next state is `state`, and (until said otherwise) nothing is sent,
/// nothing happens, nothing is dropped or delivered.
pub fn to(state: StateName) -> Expect {
    Expect {
        state,
        replies: Vec::new(),
        events: Vec::new(),
        drop: None,
        delivered: 0,
        reopen: None,
        after: Vec::new(),
    }
}

impl Expect {
    /// A segment sent, in order.
    pub fn reply(mut self, o: Out) -> Self {
        self.replies.push(o);
        self
    }
    /// An event, in order.
    pub fn event(mut self, e: Event) -> Self {
        self.events.push(e);
        self
    }
    /// Dropped for this reason.
    pub fn drop(mut self, why: SegmentDrop) -> Self {
        self.drop = Some(why);
        self
    }
    /// Bytes handed to the application.
    pub fn delivered(mut self, n: u32) -> Self {
        self.delivered = n;
        self
    }
    /// TIME-WAIT reopens with this ISS (RFC 6191).
    pub fn reopen(mut self, iss: P) -> Self {
        self.reopen = Some(iss);
        self
    }
    /// A check on the state afterwards.
    pub fn then(mut self, a: After) -> Self {
        self.after.push(a);
        self
    }
}

/// One row: a segment and what it must do, with the RFC rule it checks.
pub struct Row {
    /// A short name.
    pub name: &'static str,
    /// The RFC rule, cited.
    pub rule: &'static str,
    /// The segment.
    pub seg: Seg,
    /// The expected outcome.
    pub expect: Expect,
}

/// A row.
pub fn row(name: &'static str, rule: &'static str, seg: Seg, expect: Expect) -> Row {
    Row {
        name,
        rule,
        seg,
        expect,
    }
}
