//! Tunables of a connection, with defaults close to Linux's.

use crate::conn::ecn::Ecn;
use crate::time::Duration;

/// What a connection may do and how long it waits. One `Config` is shared by
/// every connection of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// The MSS we advertise in the SYN-ACK: the interface MTU minus 40
    /// (an endpoint's IPv6 connections take 20 less, the MTU minus 60: see
    /// [`EndpointConfig::addr6`](crate::EndpointConfig::addr6)). It
    /// also bounds what we send (RFC 9293 §3.7.1 MUST-16): no segment is
    /// larger, whatever MSS the peer announces.
    pub mss: u16,
    /// Offer window scaling when the client offers it (RFC 7323 §2).
    pub window_scale: bool,
    /// Offer SACK when the client offers it (RFC 2018).
    pub sack: bool,
    /// Use timestamps when the client offers them (RFC 7323 §3).
    pub timestamps: bool,
    /// The retransmission timeout before any RTT sample (RFC 6298 §2.1: 1 s).
    pub rto_initial: Duration,
    /// The lower bound of the RTO. RFC 6298 §2.4 says 1 s; Linux uses 200 ms,
    /// and so does the default here.
    pub rto_min: Duration,
    /// The upper bound of the RTO (RFC 6298 §2.5: at least 60 s).
    pub rto_max: Duration,
    /// SYN-ACK retransmissions before a half-open connection is dropped.
    pub synack_retries: u8,
    /// SYN retransmissions of an active open before it gives up with
    /// [`CloseReason::TimedOut`](crate::CloseReason::TimedOut) (Linux
    /// `tcp_syn_retries`, 6: with the initial RTO of 1 s doubling, the
    /// SYN goes at 0, 1, 3, 7, 15, 31 and 63 s).
    pub syn_retries: u8,
    /// Retransmissions of data or FIN (timeouts in a row) before the
    /// connection is reset. Zero-window probes do not count while the peer
    /// answers them.
    pub max_retries: u8,
    /// Nagle's algorithm (RFC 896, RFC 9293 §3.7.4): hold back small
    /// segments while data is in flight. Off for echo and interactive use.
    pub nagle: bool,
    /// A retransmitted SYN in SYN-RECEIVED gets the SYN-ACK again at most
    /// once per this interval (the seed's "retransmission debounce").
    pub syn_debounce: Duration,
    /// How long an ACK may be delayed (RFC 9293 §3.8.6.3: under 0.5 s; RFC
    /// 1122 and the issue: at most 200 ms).
    pub delayed_ack: Duration,
    /// With the endpoint's ACK batching on
    /// ([`Endpoint::set_batching`](crate::Endpoint::set_batching)), an ACK
    /// that only acknowledges new in-order data is held until the end of
    /// the batch of frames, until this many bytes are unacknowledged, or
    /// for at most [`Config::ack_hold`]: a burst of segments then costs one
    /// ACK, as GRO makes it for Linux.
    pub ack_hold_bytes: u32,
    /// The longest an ACK is held by batching (see
    /// [`Config::ack_hold_bytes`]).
    pub ack_hold: Duration,
    /// How long TIME-WAIT lasts (2 × MSL).
    pub time_wait: Duration,
    /// How long FIN-WAIT-2 waits for the peer's FIN before giving up,
    /// counted from the last acceptable segment received (data may still
    /// flow after our half-close).
    pub fin_wait2_timeout: Duration,
    /// Challenge ACKs a connection may send per second (RFC 5961 §7).
    pub challenge_acks_per_sec: u8,
    /// Close our side as soon as the peer's FIN has arrived and the
    /// application has read everything before it (the seed's behaviour):
    /// the endpoint takes CLOSE-WAIT straight on to LAST-ACK, and our FIN
    /// carries the ACK of the peer's FIN.
    pub close_on_peer_fin: bool,
    /// Answer SYNs with SYN cookies (RFC 4987) when the half-open bound is
    /// reached, instead of dropping them.
    pub syn_cookies: bool,
    /// Most connections from one source address (0: no limit). Counted in
    /// keyed-hash buckets, so it may refuse a little early, never late.
    pub max_per_source: u32,
    /// A connection that receives nothing for this long is reset (zero:
    /// never).
    pub idle_timeout: Duration,
    /// Largest payload of one outgoing segment handed to the transport for
    /// segmentation offload (GSO/TSO: the transport or the device cuts it
    /// into MSS-sized segments); 0 or below the MSS: off. Used only when the
    /// endpoint's [`Io`](crate::Io) says it can ([`Io::gso`](crate::Io::gso)).
    pub gso_max: u32,
    /// The congestion-control algorithm of new connections: CUBIC (RFC
    /// 9438, Linux's default) unless NewReno (RFC 5681, RFC 6582) is
    /// chosen.
    pub congestion_control: CongestionControl,
    /// Keep-alive (RFC 1122 §4.2.3.6; Linux `SO_KEEPALIVE`): off (`None`)
    /// by default, as the RFC requires. See [`KeepAlive`].
    pub keepalive: Option<KeepAlive>,
    /// The user timeout (RFC 5482; Linux `TCP_USER_TIMEOUT`): when data (or
    /// a zero-window probe) has stayed unacknowledged for this long, the
    /// connection is reset at the next retransmission timeout
    /// ([`CloseReason::TimedOut`](crate::CloseReason::TimedOut)) instead of
    /// after [`Config::max_retries`]. With keep-alive on, it also ends the
    /// probing once this long has passed without an answer. `None` (or zero,
    /// as for Linux): off.
    pub user_timeout: Option<Duration>,
    /// Explicit Congestion Notification (RFC 3168): accepted when the peer
    /// asks for it, not asked for on our active opens (Linux's default
    /// `tcp_ecn = 2`), unless [`Ecn::On`]; see [`Ecn`].
    pub ecn: Ecn,
    /// The black-hole fallback (RFC 4821's idea, `conn/pmtu.rs`): at the
    /// third retransmission timeout in a row with full-sized segments in
    /// flight, the MSS is halved (down to 536), for a path that drops big
    /// packets without an ICMP message. On by default (Linux has it behind
    /// `tcp_mtu_probing`, off by default, because its variant also probes
    /// upwards; this one only steps down, and costs nothing until three
    /// timeouts have passed).
    pub blackhole_fallback: bool,
    /// Pacing (`conn/send/pace.rs`): new data and resent holes leave at
    /// twice cwnd per round trip in slow start and 1.2 times it after,
    /// spread over the round trip, as Linux sends with `sch_fq` (its
    /// `tcp_update_pacing_rate`); the first ten segments go unpaced, and
    /// a segmentation-offload segment carries about a millisecond of the
    /// rate. Off by default, as Linux's own default (no `sch_fq`, CUBIC)
    /// sends: with it on, the endpoint's timer fires for each paced
    /// segment, so the caller's clock and `poll_timeout` need
    /// sub-millisecond precision to send at the rate. tcp-server turns it
    /// on: a whole window landing at once keeps a Linux receiver's buffer
    /// autotuning from growing its window.
    pub pacing: bool,
}

/// A congestion-control algorithm ([`Config::congestion_control`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CongestionControl {
    /// RFC 9438 CUBIC as Linux `tcp_cubic.c` runs it by default (β 0.7,
    /// C 0.4, fast convergence, the Reno-friendly region, the epoch
    /// shifted over idle periods), with HyStart++ (RFC 9406) in place of
    /// Linux's HyStart for the first slow start.
    #[default]
    Cubic,
    /// RFC 5681 slow start and congestion avoidance with RFC 3465 byte
    /// counting, halving on a loss; HyStart++ (RFC 9406) for the first
    /// slow start too.
    NewReno,
}

/// Keep-alive parameters (RFC 1122 §4.2.3.6; Linux `tcp_keepalive_time`,
/// `tcp_keepalive_intvl`, `tcp_keepalive_probes`). In ESTABLISHED and
/// CLOSE-WAIT with nothing in flight and nothing queued, after `idle`
/// without a segment from the peer a probe `<SEQ=SND.UNA-1><ACK=RCV.NXT>`
/// goes out, then one every `interval`; `count` probes unanswered and the
/// connection is reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeepAlive {
    /// How long the connection stays idle before the first probe (RFC
    /// 1122: "MUST be configurable and MUST default to no less than two
    /// hours"; Linux's default 7200 s).
    pub idle: Duration,
    /// Between probes (Linux's default 75 s).
    pub interval: Duration,
    /// Unanswered probes before the connection is reset (Linux's default 9).
    pub count: u8,
}

impl KeepAlive {
    /// Probes after `idle`, with Linux's interval (75 s) and count (9).
    pub const fn after(idle: Duration) -> Self {
        KeepAlive {
            idle,
            interval: Duration::from_secs(75),
            count: 9,
        }
    }
}

impl Default for KeepAlive {
    /// Linux's defaults: 7200 s idle, 75 s interval, 9 probes.
    fn default() -> Self {
        KeepAlive::after(Duration::from_secs(7200))
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mss: 1460,
            window_scale: true,
            sack: true,
            timestamps: true,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(60),
            synack_retries: 5,
            syn_retries: 6,
            max_retries: 8,
            nagle: true,
            syn_debounce: Duration::from_millis(500),
            delayed_ack: Duration::from_millis(40),
            ack_hold_bytes: 32 * 1024,
            ack_hold: Duration::from_micros(50),
            time_wait: Duration::from_secs(60),
            fin_wait2_timeout: Duration::from_secs(60),
            challenge_acks_per_sec: 10,
            close_on_peer_fin: true,
            syn_cookies: true,
            max_per_source: 0,
            idle_timeout: Duration::ZERO,
            gso_max: 0,
            congestion_control: CongestionControl::Cubic,
            keepalive: None,
            user_timeout: None,
            ecn: Ecn::Passive,
            blackhole_fallback: true,
            pacing: false,
        }
    }
}
