//! LISTEN (RFC 9293 §3.10.7.2): a segment for no connection, to a port
//! with a listener (`endpoint/listeners.rs`), opens one (a SYN, within the
//! table's, the listener's accept-queue and half-open, and the per-source
//! bounds), is answered with a reset (an ACK) or dropped; past the
//! listener's half-open bound, SYN cookies (RFC 4987) answer instead, and a
//! valid returning cookie opens the connection its SYN would have.

use core::net::IpAddr;

use crate::conn::{ecn, reset_for, IpEcn, State, StateName};
use crate::cookie;
use crate::isn::FourTuple;
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::{EthernetAddress, TcpControl, TcpRepr};

use super::listeners::Membership;
use super::{AppEvent, Conn, ConnId, DropReason, Endpoint, Io, NIL};

impl Endpoint<'_> {
    /// A segment for no connection, to a port with a listener: LISTEN (RFC
    /// 9293 §3.10.7.2). `iss` is the ISS to use when it opens a new
    /// incarnation of a connection that was in TIME-WAIT; `ecn` is the IP
    /// header's ECN field.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn listen_segment<I: Io>(
        &mut self,
        now: Instant,
        mac: EthernetAddress,
        tuple: &FourTuple,
        tcp: &TcpRepr<'_>,
        ecn: IpEcn,
        iss: Option<SeqNum>,
        io: &mut I,
    ) {
        // LISTEN (RFC 9293 §3.10.7.2): first check for a RST, then an ACK,
        // then a SYN.
        if tcp.control == TcpControl::Rst {
            return self.drop_frame(DropReason::NoConnection);
        }
        if self.returning_cookie(now, mac, tuple, tcp, io) {
            return;
        }
        if tcp.ack_number.is_some() {
            // RFC 9293 §3.10.7.2, second: "Any acknowledgment is bad if it
            // arrives on a connection still in the LISTEN state. An
            // acceptable reset segment should be formed for any arriving
            // ACK-bearing segment. The RST should be formatted as follows:
            // <SEQ=SEG.ACK><CTL=RST>".
            self.drop_frame(DropReason::NoConnection);
            if let Some(rst) = reset_for(tcp) {
                self.stats.resets_sent += 1;
                self.emit(tuple, mac, &rst, io);
            }
            return;
        }
        if tcp.control != TcpControl::Syn {
            // RFC 9293 §3.10.7.2, fourth, other text or control: "Any other
            // control or text-bearing segment (not containing SYN) must have
            // an ACK and thus would be discarded by the ACK processing ...
            // if you get here, drop the segment, and return." (No flags, a
            // FIN alone, data without ACK; Linux `tcp_rcv_state_process`
            // discards them too.)
            return self.drop_frame(DropReason::NoConnection);
        }
        // RFC 3168 §6.1.1: whether the SYN asks for ECN (`conn/ecn.rs`).
        let syn = ecn::syn_as_offered(tcp, ecn);
        self.open(now, mac, tuple, &syn, iss, io);
    }

    /// While SYN cookies are out, an ACK (with no other control) may bring
    /// one back: a valid cookie opens the connection its SYN would have
    /// ([`Endpoint::accept_cookie`]). Returns whether the segment was taken
    /// care of here (accepted, or dropped as an unverified cookie).
    fn returning_cookie<I: Io>(
        &mut self,
        now: Instant,
        mac: EthernetAddress,
        tuple: &FourTuple,
        tcp: &TcpRepr<'_>,
        io: &mut I,
    ) -> bool {
        let (Some(ack), TcpControl::None | TcpControl::Fin) = (tcp.ack_number, tcp.control) else {
            return false;
        };
        if self.cookies_until.is_none_or(|u| now > u) {
            return false;
        }
        let tsecr = tcp.options.timestamps.map(|t| t.tsecr);
        if let Some(opts) = cookie::check(&self.keyed, tuple, tcp.seq_number, ack, tsecr, now) {
            self.accept_cookie(tuple, mac, tcp, opts, now, io);
            return true;
        }
        // The MAC covers the client's ISN, known only from a segment at
        // ISN + 1. When the handshake ACK and the first segment after it
        // were lost, later segments fail the check; the reset of RFC 9293
        // §3.10.7.2 (which Linux sends) would kill a connection that the
        // client's retransmission of its first segment completes.
        if cookie::slot_is_current(ack, now) {
            self.drop_frame(DropReason::CookieUnverified);
            return true;
        }
        false
    }

    /// A SYN in LISTEN (RFC 9293 §3.10.7.2, third): a new connection in
    /// SYN-RECEIVED, within the per-source, table and half-open bounds (past
    /// the half-open bound, a SYN cookie instead when they are on; in a full
    /// table, the oldest TIME-WAIT gives way).
    fn open<I: Io>(
        &mut self,
        now: Instant,
        mac: EthernetAddress,
        tuple: &FourTuple,
        tcp: &TcpRepr<'_>,
        iss: Option<SeqNum>,
        io: &mut I,
    ) {
        let lid = self.listeners.find(tuple.local_port);
        let listener = self.listeners.get(lid).copied();
        if listener.is_some_and(|l| l.queue_full()) {
            // Linux `tcp_conn_request`: `sk_acceptq_is_full` drops the SYN,
            // cookies or not.
            return self.drop_frame(DropReason::AcceptQueueFull);
        }
        if self.source_full(tuple.remote_addr) {
            return self.drop_frame(DropReason::PerSourceLimit);
        }
        if self.free == NIL && self.tw_head == NIL {
            // A full table with no TIME-WAIT to recycle drops new SYNs and
            // leaves every connection as it is.
            return self.drop_frame(DropReason::TableFull);
        }
        // The half-open bound is the listener's (Linux's SYN queue).
        let half_open = listener.map_or(self.half_open, |l| l.half_open);
        if half_open >= self.cfg.max_half_open {
            if self.cfg.conn.syn_cookies {
                return self.send_cookie(tuple, mac, tcp, now, io);
            }
            return self.drop_frame(DropReason::HalfOpenFull);
        }
        if self.free == NIL {
            self.recycle_time_wait(now, io);
        }
        let iss = iss.unwrap_or_else(|| self.keyed.isn(tuple, now));
        let ts_offset = self.keyed.ts_offset(tuple);
        let t = State::accept(
            tcp,
            iss,
            ts_offset,
            now,
            self.conn_cfg(tuple.is_ipv6()),
            self.bufs,
        );
        let conn = Conn {
            tuple: *tuple,
            peer_mac: mac,
            state: t.state,
            last_rx: now,
            active: false,
            lq: Membership::of(lid),
        };
        let Some(i) = self.insert(conn) else {
            return self.drop_frame(DropReason::TableFull);
        };
        self.half_open += 1;
        self.listener_half_open(conn.lq, true);
        self.apply(i, StateName::Listen, &t, now, io);
    }

    /// Whether the source address `addr` has its most connections
    /// ([`crate::Config::max_per_source`], 0 for no bound). IPv6 sources
    /// are counted by their /64 prefix (see [`Keyed::hash_addr`](crate::isn::Keyed::hash_addr)).
    fn source_full(&self, addr: IpAddr) -> bool {
        let max_src = self.cfg.conn.max_per_source;
        max_src > 0 && u32::from(self.per_source[self.source_bucket(addr)]) >= max_src
    }

    /// RFC 4987 §3.6: the half-open bound is reached; answer with a SYN
    /// cookie and keep nothing. Without timestamps the SYN-ACK offers no
    /// window scaling and no SACK (see [`crate::cookie`]).
    fn send_cookie<I: Io>(
        &mut self,
        tuple: &FourTuple,
        mac: EthernetAddress,
        syn: &TcpRepr<'_>,
        now: Instant,
        io: &mut I,
    ) {
        let iss = cookie::make(&self.keyed, tuple, syn.seq_number, syn.options.mss, now);
        let mut syn = *syn;
        let with_ts = self.cfg.conn.timestamps && syn.options.timestamps.is_some();
        if !with_ts {
            syn.options.window_scale = None;
            syn.options.sack_permitted = false;
            // Linux tcp_conn_request: "if (!tmp_opt.tstamp_ok)
            // inet_rsk(req)->ecn_ok = 0" -- the cookie cannot carry it.
            syn.ece = false;
            syn.cwr = false;
        }
        let t = State::accept(
            &syn,
            iss,
            self.keyed.ts_offset(tuple),
            now,
            self.conn_cfg(tuple.is_ipv6()),
            self.bufs,
        );
        if let Some(mut r) = t.replies.first().copied() {
            // The SYN-ACK's ECE says ECN was accepted (Linux cookie_ecn_ok).
            let bits = cookie::ts_bits(syn.options.window_scale, syn.options.sack_permitted, r.ece);
            if let Some(ts) = r.options.timestamps.as_mut() {
                ts.tsval = cookie::ts_value(ts.tsval, bits);
            }
            self.stats.syn_cookies_sent += 1;
            self.cookies_until = Some(now + crate::time::Duration::from_secs(128));
            self.emit(tuple, mac, &r, io);
        }
    }

    /// A valid cookie came back: the connection is made as if its SYN had
    /// just arrived, and the ACK completes the handshake as usual.
    #[allow(clippy::too_many_arguments)]
    fn accept_cookie<I: Io>(
        &mut self,
        tuple: &FourTuple,
        mac: EthernetAddress,
        ack: &TcpRepr<'_>,
        opts: cookie::CookieOptions,
        now: Instant,
        io: &mut I,
    ) {
        let lid = self.listeners.find(tuple.local_port);
        if self.listeners.get(lid).is_some_and(|l| l.queue_full()) {
            // Linux `cookie_v4_check` → `tcp_v4_syn_recv_sock`: no room
            // in the accept queue, the ACK is dropped.
            return self.drop_frame(DropReason::AcceptQueueFull);
        }
        if self.source_full(tuple.remote_addr) {
            return self.drop_frame(DropReason::PerSourceLimit);
        }
        let Some(iss) = ack.ack_number.map(|a| a - 1u32) else {
            return;
        };
        let syn = cookie_syn(ack, opts);
        let t = State::accept(
            &syn,
            iss,
            self.keyed.ts_offset(tuple),
            now,
            self.conn_cfg(tuple.is_ipv6()),
            self.bufs,
        );
        let conn = Conn {
            tuple: *tuple,
            peer_mac: mac,
            state: t.state,
            last_rx: now,
            active: false,
            lq: Membership::of(lid),
        };
        if self.free == NIL {
            self.recycle_time_wait(now, io);
        }
        let Some(i) = self.insert(conn) else {
            return self.drop_frame(DropReason::TableFull);
        };
        self.stats.syn_cookies_accepted += 1;
        self.half_open += 1;
        self.listener_half_open(conn.lq, true);
        // The SYN-ACK went out with the cookie; now the ACK as usual.
        let cfg = *self.conn_cfg(tuple.is_ipv6());
        let (_, mut rx) = self.rx_buf(i);
        let t = t.state.on_segment(ack, now, &cfg, &mut rx);
        if let Some(d) = t.dropped {
            self.drop_frame(DropReason::from_segment_drop(d));
        }
        io.event(
            ConnId {
                index: i,
                generation: self.slots[i as usize].generation,
            },
            tuple,
            AppEvent::StateChange {
                from: StateName::Listen,
                to: StateName::SynReceived,
            },
        );
        self.apply(i, StateName::SynReceived, &t, now, io);
    }
}

/// The SYN a returning cookie stands for, rebuilt from the ACK that brought
/// it (SEG.SEQ - 1) and the options the cookie encodes.
fn cookie_syn<'a>(ack: &TcpRepr<'a>, opts: cookie::CookieOptions) -> TcpRepr<'a> {
    TcpRepr {
        seq_number: ack.seq_number - 1u32,
        ack_number: None,
        control: TcpControl::Syn,
        payload: &[],
        options: crate::wire::TcpOptions {
            mss: Some(opts.mss),
            window_scale: opts.window_scale,
            sack_permitted: opts.sack_permitted,
            sack_blocks: crate::wire::SackBlocks::new(),
            timestamps: ack.options.timestamps.map(|t| crate::wire::Timestamps {
                tsval: t.tsval,
                tsecr: 0,
            }),
        },
        // RFC 3168 §6.1.1: the SYN asked for ECN, and it was accepted.
        ece: opts.ecn,
        cwr: opts.ecn,
        ..*ack
    }
}
