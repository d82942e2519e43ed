//! Packet-trace tests in the spirit of packetdrill: a script of segments
//! going in (`<`) and expected coming out (`>`), each at a time, run through
//! a real [`Endpoint`] as whole Ethernet frames.
//!
//! ```text
//! # comment
//! 0.000 < S 1000:1000(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
//! 0.000 > S. 0:0(0) ack 1001 win 65535 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>
//! 0.010 < . 1001:1001(0) ack 1 win 512
//! 0.020 < P. 1001:1101(100) ack 1 win 512
//! 0.060 > . 1:1(0) ack 1101
//! 0.060 ! delivered 100
//! 0.060 ! state ESTABLISHED
//! 1.000 tick
//! ```
//!
//! Incoming lines use the client's absolute sequence numbers and an ACK
//! relative to our ISS; outgoing lines use our sequence numbers relative to
//! the ISS (learnt from the SYN-ACK) and the client's absolute ACK, as
//! packetdrill does. On an outgoing line, fields left out are not checked;
//! `win` and `<options>` are checked when given (`TS val *` matches any
//! TSval). Every outgoing frame must be expected: an unexpected one fails at
//! the next `<`, `tick` or `!` line, or at the end. An outgoing line's time
//! must match when the frame was sent within 1 ms.
//!
//! Checks (`!`): `delivered N` (bytes handed to the application so far, and
//! they are exactly the client's bytes), `state NAME` (`CLOSED` when the
//! connection is gone), `closed REASON`, `conns N`, `drops REASON N`, `rsts N` (RSTs written),
//! `established N`, `peer-closed`. Actions of the application (`!` too):
//! `app-close`, `app-abort`, `app-budget N` (take only N more bytes),
//! `app-resume` (take everything again, and say so to the endpoint),
//! `batching on`, `flush-acks` and `acks-held N` (ACK batching,
//! `Endpoint::set_batching`; N ACKs held),
//! `connect` (an active open from `Harness::local_port` to the client),
//! `app-send N` (queue N bytes to send), `app-echo` (move what was received
//! and not taken into the send buffer: `Endpoint::echo`).
//!
//! The same script runs on [`Medium::Ip`] too (`run_both`): the harness
//! takes the Ethernet header off each incoming frame, checks that each
//! outgoing one is a bare IPv4 packet and puts the link's header on it
//! before the checks.
//!
//! `run_both` also runs the script over IPv6 on both media (`run_v6`): the
//! harness turns the client's frames into IPv6 ones from 2001:2::2 to
//! 2001:2::1 and checks that ours are IPv6 before the script's checks.
//!
//! The IP header's ECN field, as packetdrill writes it, before the flags:
//! `[noecn]`, `[ect0]`, `[ect1]`, `[ce]`; set on an incoming segment
//! (Not-ECT when left out), checked on an outgoing one when given.

#![allow(dead_code)]

use std::collections::VecDeque;

use tcpcore::conn::Config;
use tcpcore::endpoint::{OwnedStorage, Storage};
use tcpcore::wire::{
    self, ChecksumPolicy, Frame, SackBlocks, TcpControl, TcpOptions, TcpRepr, Timestamps,
};
use tcpcore::{
    AppEvent, CloseReason, ConnId, DropReason, Duration, Endpoint, EndpointConfig, FourTuple,
    Instant, Io, Medium, SeqNum, StateName, TxPayload,
};

mod link;
pub use link::*;
pub const CLIENT_PORT: u16 = 40000;
/// Receive buffer per connection in trace tests: 64 KiB (window shift 1).
pub const BUF: usize = 1 << 16;
/// Send buffer per connection in trace tests.
pub const TXBUF: usize = 1 << 16;

/// `TS ... ecr *` in an incoming line: the harness echoes our last TSval.
const ECHO_LAST: u32 = u32::MAX;

/// The byte the client sends at sequence number `seq`.
pub fn pattern(seq: u32) -> u8 {
    (seq % 251) as u8
}

/// Frames and events collected from the endpoint.
#[derive(Default)]
pub struct Recorder {
    pub now: Instant,
    pub out: VecDeque<(Instant, Vec<u8>)>,
    buf: Vec<u8>,
    pub data: Vec<u8>,
    pub events: Vec<AppEvent<'static>>,
    pub closed: Vec<CloseReason>,
    pub states: Vec<(StateName, StateName)>,
    pub peer_closed: usize,
    pub established: usize,
    pub last_id: Option<ConnId>,
    /// How many more bytes the application takes (`None`: all).
    pub budget: Option<usize>,
    /// The transport takes GSO frames ([`Io::gso`]).
    pub gso: bool,
    /// GSO frames come through [`Io::tx_gso_gather`] as a transport that
    /// sends headers and payload by a gather write sees them: the headers
    /// written into a buffer of their own (filled with 0xA5 first, so a
    /// byte left unwritten shows), the payload borrowed; both are then
    /// joined into one frame here. Without it, the trait's default (one
    /// `tx_gso` buffer).
    pub gather: bool,
    /// The endpoint is on [`Medium::Ip`]: what it writes must be a bare
    /// IPv4 packet, and gets the link's Ethernet header added here (in
    /// `flush`), so that the scripts' checks read it as on Ethernet.
    pub ip_medium: bool,
    /// The endpoint has an IPv6 address ([`EndpointConfig::addr6`]): the
    /// client's IPv4 TCP frames become IPv6 ones from [`CLIENT_IP6`] to
    /// [`SERVER_IP6`] on the way in (`Harness::send`), and what the
    /// endpoint writes must be IPv6/TCP (hop limit 64, flow label 0, the
    /// checksum over the IPv6 pseudo-header), which goes back to IPv4 (the
    /// ECN field kept) for the scripts' checks. Other frames (ARP, NDP,
    /// ICMPv6) pass as they are.
    pub ipv6: bool,
}

impl Io for Recorder {
    fn tx(&mut self, len: usize) -> Option<&mut [u8]> {
        // Frames are written into `buf` and moved to `out` on the next call
        // (or by `flush`).
        self.flush();
        self.buf.clear();
        self.buf.resize(len, 0);
        Some(&mut self.buf)
    }

    fn gso(&self) -> bool {
        self.gso
    }

    fn tx_gso(&mut self, len: usize, _gso_size: u16) -> Option<&mut [u8]> {
        if self.gso {
            self.tx(len)
        } else {
            None
        }
    }

    fn tx_gso_gather<F: FnOnce(&mut [u8]) -> bool>(
        &mut self,
        head_len: usize,
        gso_size: u16,
        payload: TxPayload<'_>,
        write: F,
    ) -> bool {
        if !self.gather {
            // As the trait's default, for an Io that does not override it.
            let buf = self.tx_gso(head_len + payload.bytes.len(), gso_size);
            return payload.write_whole(buf, head_len, write);
        }
        let payload = payload.bytes;
        assert!(self.gso, "tx_gso_gather without gso");
        let mut head = vec![0xa5u8; head_len];
        if !write(&mut head) {
            return false;
        }
        head.extend_from_slice(payload);
        let buf = self.tx(head.len()).expect("room");
        buf.copy_from_slice(&head);
        true
    }

    fn deliver(&mut self, id: ConnId, _tuple: &FourTuple, data: &[u8]) -> usize {
        self.last_id = Some(id);
        self.take(data)
    }

    fn event(&mut self, id: ConnId, _tuple: &FourTuple, event: AppEvent<'_>) {
        self.last_id = Some(id);
        match event {
            AppEvent::Data(d) => self.data.extend_from_slice(d),
            AppEvent::Closed(r) => self.closed.push(r),
            AppEvent::StateChange { from, to } => self.states.push((from, to)),
            AppEvent::PeerClosed => self.peer_closed += 1,
            AppEvent::Established => self.established += 1,
        }
    }
}

impl Recorder {
    fn take(&mut self, data: &[u8]) -> usize {
        let n = self.budget.map_or(data.len(), |b| b.min(data.len()));
        if let Some(b) = self.budget.as_mut() {
            *b -= n;
        }
        self.data.extend_from_slice(&data[..n]);
        n
    }

    pub fn flush(&mut self) {
        if !self.buf.is_empty() {
            let mut f = std::mem::take(&mut self.buf);
            if self.ipv6 {
                f = v6_to_v4(&f, self.ip_medium);
            } else if self.ip_medium {
                f = with_ethernet(&f);
            }
            self.out.push_back((self.now, f));
        }
    }
}

/// A parsed script line.
#[derive(Debug, Clone)]
enum Line {
    In(f64, Seg),
    Out(f64, Seg),
    Tick(f64),
    Check(f64, String),
}

/// A segment as written in a script.
#[derive(Debug, Clone, Default)]
pub struct Seg {
    pub flags: String,
    pub seq: u32,
    pub len: u32,
    pub ack: Option<u32>,
    pub win: Option<u16>,
    pub options: Option<OptSpec>,
    /// The IP header's ECN field (`[ect0]` ...), when written.
    pub ecn: Option<u8>,
}

/// Options as written in a script; `ts_val: None` with `ts` set means `*`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptSpec {
    pub mss: Option<u16>,
    pub wscale: Option<u8>,
    pub sack_ok: bool,
    pub ts: Option<(Option<u32>, u32)>,
    pub sack: Vec<(u32, u32)>,
}

fn parse_options(s: &str) -> OptSpec {
    let mut o = OptSpec::default();
    for item in s.split(',') {
        let w: Vec<&str> = item.split_whitespace().collect();
        match w.as_slice() {
            ["mss", v] => o.mss = Some(v.parse().unwrap()),
            ["wscale", v] => o.wscale = Some(v.parse().unwrap()),
            ["sackOK"] => o.sack_ok = true,
            ["nop"] | ["eol"] | [] => {}
            ["TS", "val", v, "ecr", e] => {
                let val = if *v == "*" {
                    None
                } else {
                    Some(v.parse().unwrap())
                };
                // `ecr *` on an incoming segment: echo our last TSval.
                let ecr = if *e == "*" {
                    ECHO_LAST
                } else {
                    e.parse().unwrap()
                };
                o.ts = Some((val, ecr));
            }
            ["sack", blocks @ ..] => {
                for b in blocks {
                    let (l, r) = b.split_once(':').unwrap();
                    o.sack.push((l.parse().unwrap(), r.parse().unwrap()));
                }
            }
            other => panic!("unknown option {other:?}"),
        }
    }
    o
}

fn parse_seg(rest: &str) -> Seg {
    let (head, opts) = match rest.find('<') {
        Some(i) => {
            let end = rest.rfind('>').expect("unclosed <");
            (&rest[..i], Some(parse_options(&rest[i + 1..end])))
        }
        None => (rest, None),
    };
    let mut w: Vec<&str> = head.split_whitespace().collect();
    let ecn = match w[0] {
        "[noecn]" => Some(0),
        "[ect1]" => Some(1),
        "[ect0]" => Some(2),
        "[ce]" => Some(3),
        _ => None,
    };
    if ecn.is_some() {
        w.remove(0);
    }
    let flags = w[0].to_string();
    let (range, len) = w[1].split_once('(').expect("seq:end(len)");
    let len: u32 = len.trim_end_matches(')').parse().unwrap();
    let seq: u32 = range.split_once(':').unwrap().0.parse().unwrap();
    let mut seg = Seg {
        flags,
        seq,
        len,
        options: opts,
        ecn,
        ..Seg::default()
    };
    let mut i = 2;
    while i < w.len() {
        match w[i] {
            "ack" => seg.ack = Some(w[i + 1].parse().unwrap()),
            "win" => seg.win = Some(w[i + 1].parse().unwrap()),
            other => panic!("unknown field {other}"),
        }
        i += 2;
    }
    seg
}

fn parse_script(script: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    for raw in script.lines() {
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with("//") {
            continue;
        }
        let (t, rest) = l.split_once(' ').expect("time first");
        let t: f64 = t.trim_start_matches('+').parse().expect("time");
        let rest = rest.trim();
        let line = if let Some(r) = rest.strip_prefix("< ") {
            Line::In(t, parse_seg(r))
        } else if let Some(r) = rest.strip_prefix("> ") {
            Line::Out(t, parse_seg(r))
        } else if rest == "tick" {
            Line::Tick(t)
        } else if let Some(r) = rest.strip_prefix("! ") {
            Line::Check(t, r.to_string())
        } else {
            panic!("cannot parse line: {l}");
        };
        lines.push(line);
    }
    lines
}

fn at(t: f64) -> Instant {
    Instant::from_micros((t * 1e6).round() as u64)
}

/// A client-side helper that builds frames and drives an endpoint.
pub struct Harness {
    pub ep: Endpoint<'static>,
    pub rec: Recorder,
    pub iss: Option<u32>,
    pub port: u16,
    pub tcp_checksum: ChecksumPolicy,
    pub client_isn: Option<u32>,
    /// Our TSval in the last segment checked.
    pub last_tsval: u32,
    /// Our port: the listening port, or the one `! connect` opens from.
    pub local_port: u16,
    /// `! connect` opened the connection (the peer's SYN-ACK then carries
    /// the first byte's sequence number, for `delivered`).
    pub active: bool,
}

pub fn default_config() -> EndpointConfig {
    EndpointConfig {
        medium: tcpcore::Medium::Ethernet,
        mac: SERVER_MAC,
        addr: SERVER_IP,
        addr6: None,
        port: SERVER_PORT,
        answer_arp: true,
        reset_other_ports: true,
        max_half_open: 64,
        gateway: None,
        prefix_len: 0,
        conn: Config {
            close_on_peer_fin: false,
            ..Config::default()
        },
    }
}

/// [`default_config`] without Nagle's algorithm (RFC 896), for traces of
/// the send path where small segments must go at once.
pub fn no_nagle() -> EndpointConfig {
    let mut c = default_config();
    c.conn.nagle = false;
    c
}

/// Storage for `n` connections with trace-test buffers, leaked for the
/// test's lifetime.
pub fn storage(n: usize) -> Storage<'static> {
    let owned = Box::leak(Box::new(
        OwnedStorage::new(n, BUF, TXBUF).expect("trace storage"),
    ));
    owned.storage()
}

impl Harness {
    pub fn new(cfg: EndpointConfig) -> Self {
        Self::with_slots(cfg, 4)
    }

    pub fn with_slots(cfg: EndpointConfig, n: usize) -> Self {
        Harness {
            ep: Endpoint::new(cfg, storage(n), [42; 16]).expect("endpoint"),
            rec: Recorder {
                ip_medium: cfg.medium == Medium::Ip,
                ipv6: cfg.addr6.is_some(),
                ..Recorder::default()
            },
            iss: None,
            port: CLIENT_PORT,
            tcp_checksum: ChecksumPolicy::Verify,
            client_isn: None,
            last_tsval: 0,
            local_port: SERVER_PORT,
            active: false,
        }
    }

    /// Runs timers up to `t`.
    pub fn advance(&mut self, t: Instant) {
        for _ in 0..10_000 {
            match self.ep.poll_timeout() {
                Some(w) if w <= t => {
                    self.rec.now = w.max(self.rec.now);
                    self.ep.handle_timeout(self.rec.now, &mut self.rec);
                    self.rec.flush();
                }
                _ => break,
            }
        }
        self.rec.now = t.max(self.rec.now);
    }

    /// Builds the frame for an incoming script segment.
    pub fn frame_for(&self, s: &Seg) -> Vec<u8> {
        let payload: Vec<u8> = (0..s.len).map(|i| pattern(s.seq.wrapping_add(i))).collect();
        let mut options = TcpOptions::default();
        if let Some(o) = &s.options {
            options.mss = o.mss;
            options.window_scale = o.wscale;
            options.sack_permitted = o.sack_ok;
            options.timestamps = o.ts.map(|(v, e)| Timestamps {
                tsval: v.unwrap_or(0),
                tsecr: if e == ECHO_LAST { self.last_tsval } else { e },
            });
            let mut sb = SackBlocks::new();
            for &(l, r) in &o.sack {
                sb.push(self.our(l), self.our(r));
            }
            options.sack_blocks = sb;
        }
        let has = |c| s.flags.contains(c);
        let control = if has('S') {
            TcpControl::Syn
        } else if has('R') {
            TcpControl::Rst
        } else if has('F') {
            TcpControl::Fin
        } else {
            TcpControl::None
        };
        let ack = if has('.') || s.ack.is_some() {
            Some(self.our(s.ack.unwrap_or(0)))
        } else {
            None
        };
        let tcp = TcpRepr {
            src_port: self.port,
            dst_port: self.local_port,
            seq_number: SeqNum::new(s.seq),
            ack_number: ack,
            control,
            push: has('P'),
            urgent: None,
            ece: has('E'),
            cwr: has('W'),
            window_len: s.win.unwrap_or(65535),
            options,
            payload: &payload,
        };
        client_frame_ecn(&tcp, s.ecn.unwrap_or(0))
    }

    /// Our sequence number `rel` relative to the ISS.
    fn our(&self, rel: u32) -> SeqNum {
        SeqNum::new(self.iss.unwrap_or(0).wrapping_add(rel))
    }

    /// Hands the endpoint the incoming segment `seg` (a script line's
    /// segment, as `. 1001:1001(0) ack 1 win 502`) and keeps what it sends
    /// in `rec.out`, unchecked.
    pub fn inject(&mut self, seg: &str) {
        let f = self.frame_for(&parse_seg(seg));
        self.send(&f);
        self.rec.flush();
    }

    /// Hands `frame` to the endpoint: on [`Medium::Ip`], without its
    /// Ethernet header.
    pub fn send(&mut self, frame: &[u8]) {
        let v6;
        let frame = if self.rec.ipv6 {
            v6 = v4_to_v6(frame);
            &v6[..]
        } else {
            frame
        };
        let frame = if self.rec.ip_medium {
            frame.get(ETH_HEADER_LEN..).unwrap_or_default()
        } else {
            frame
        };
        self.ep
            .handle_frame(self.rec.now, frame, self.tcp_checksum, &mut self.rec);
        self.rec.flush();
    }

    fn check_out(&mut self, t: f64, want: &Seg, line: &str) {
        let Some((sent, frame)) = self.rec.out.pop_front() else {
            panic!("expected `{line}`, but nothing was sent");
        };
        let dt = sent.as_micros() as i64 - at(t).as_micros() as i64;
        assert!(
            dt.abs() <= 1000,
            "`{line}`: sent at {sent:?}, expected at {t}s"
        );
        // A GSO frame's TCP checksum is left partial for the transport.
        let policy = if self.rec.gso {
            ChecksumPolicy::Skip
        } else {
            ChecksumPolicy::Verify
        };
        let Ok(Frame::Tcp { eth, ip, tcp }) = wire::parse_frame(&frame, policy) else {
            panic!("`{line}`: sent frame does not parse as TCP: {frame:02x?}");
        };
        assert_eq!(eth.dst_addr, CLIENT_MAC, "`{line}`: destination MAC");
        assert_eq!(ip.dst_addr, CLIENT_IP, "`{line}`: destination address");
        assert_eq!(tcp.dst_port, self.port, "`{line}`: destination port");
        assert_eq!(tcp.src_port, self.local_port, "`{line}`: source port");
        if let Some(ts) = tcp.options.timestamps {
            self.last_tsval = ts.tsval;
        }
        let flags = tcp.flags().to_string();
        assert_eq!(flags, want.flags, "`{line}`: flags (got {tcp:?})");
        if tcp.control == TcpControl::Syn && self.iss.is_none() {
            self.iss = Some(tcp.seq_number.get().wrapping_sub(want.seq));
        }
        let rel = tcp.seq_number.get().wrapping_sub(self.iss.unwrap_or(0));
        // A reset for a segment with no connection has an absolute number.
        let abs_ok = tcp.control == TcpControl::Rst && tcp.seq_number.get() == want.seq;
        assert!(
            rel == want.seq || abs_ok,
            "`{line}`: seq {rel} (got {tcp:?})"
        );
        assert_eq!(tcp.payload.len() as u32, want.len, "`{line}`: length");
        if let Some(a) = want.ack {
            assert_eq!(
                tcp.ack_number.map(|n| n.get()),
                Some(a),
                "`{line}`: ack (got {tcp:?})"
            );
        } else {
            assert!(
                tcp.ack_number.is_none() || want.flags.contains('.'),
                "`{line}`: unexpected ack"
            );
        }
        if let Some(w) = want.win {
            assert_eq!(tcp.window_len, w, "`{line}`: window");
        }
        if let Some(e) = want.ecn {
            assert_eq!(ip.ecn, e, "`{line}`: IP ECN field");
        }
        if let Some(o) = &want.options {
            let got = &tcp.options;
            assert_eq!(got.mss, o.mss, "`{line}`: mss");
            assert_eq!(got.window_scale, o.wscale, "`{line}`: wscale");
            assert_eq!(got.sack_permitted, o.sack_ok, "`{line}`: sackOK");
            match (got.timestamps, o.ts) {
                (None, None) => {}
                (Some(g), Some((val, ecr))) => {
                    assert_eq!(g.tsecr, ecr, "`{line}`: TS ecr");
                    if let Some(v) = val {
                        assert_eq!(g.tsval, v, "`{line}`: TS val");
                    }
                }
                (g, w) => panic!("`{line}`: timestamps {g:?}, expected {w:?}"),
            }
            let blocks: Vec<(u32, u32)> = got
                .sack_blocks
                .as_slice()
                .iter()
                .map(|(l, r)| (l.get(), r.get()))
                .collect();
            assert_eq!(blocks, o.sack, "`{line}`: SACK blocks");
        } else {
            let _ = ip;
        }
    }

    fn conn_id(&self) -> Option<ConnId> {
        self.ep
            .connections()
            .find(|(_, t, _)| t.remote_port == self.port)
            .map(|(id, _, _)| id)
    }

    fn assert_quiet(&mut self, line: &str) {
        if let Some((t, f)) = self.rec.out.front() {
            let desc = match wire::parse_frame(f, ChecksumPolicy::Skip) {
                Ok(Frame::Tcp { tcp, .. }) => format!(
                    "{} seq {} ack {:?} len {}",
                    tcp.flags(),
                    tcp.seq_number,
                    tcp.ack_number,
                    tcp.payload.len()
                ),
                _ => format!("{f:02x?}"),
            };
            panic!("before `{line}`: unexpected frame sent at {t:?}: {desc}");
        }
    }

    fn check(&mut self, what: &str, line: &str) {
        let w: Vec<&str> = what.split_whitespace().collect();
        match w.as_slice() {
            ["delivered", n] => {
                let n: usize = n.parse().unwrap();
                assert_eq!(self.rec.data.len(), n, "`{line}`: bytes delivered");
                // The client's first data byte is right after its ISN.
                if let Some(first) = self.client_isn {
                    for (i, b) in self.rec.data.iter().enumerate() {
                        assert_eq!(
                            *b,
                            pattern(first.wrapping_add(1 + i as u32)),
                            "`{line}`: byte {i}"
                        );
                    }
                }
            }
            ["connect"] => {
                // An active open from `local_port` to the client's address,
                // its MAC known (see `trace_syn_sent.rs` for ARP).
                self.active = true;
                let client: std::net::IpAddr = if self.rec.ipv6 {
                    CLIENT_IP6.into()
                } else {
                    CLIENT_IP.into()
                };
                if !self.rec.ip_medium {
                    self.ep.set_neighbor(client, CLIENT_MAC);
                }
                let remote = std::net::SocketAddr::new(client, self.port);
                self.ep
                    .connect(self.local_port, remote, self.rec.now, &mut self.rec)
                    .expect("connect");
                self.rec.flush();
            }
            ["app-close"] => {
                let id = self.conn_id().expect("no connection to close");
                self.ep.close(id, self.rec.now, &mut self.rec);
                self.rec.flush();
            }
            ["app-send", n] => {
                let id = self.conn_id().expect("no connection to send on");
                let n: usize = n.parse().unwrap();
                let data: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
                let took = self.ep.send(id, &data, self.rec.now, &mut self.rec);
                self.rec.flush();
                assert_eq!(took, n, "`{line}`: send buffer took less");
            }
            ["app-echo"] => {
                let id = self.conn_id().expect("no connection to echo on");
                self.ep.echo(id, self.rec.now, &mut self.rec);
                self.rec.flush();
            }
            ["batching", "on"] => self.ep.set_batching(true),
            ["acks-held", n] => {
                assert_eq!(self.ep.acks_held(), n.parse::<usize>().unwrap(), "`{line}`");
            }
            ["flush-acks"] => {
                self.ep.flush_acks(self.rec.now, &mut self.rec);
                self.rec.flush();
            }
            ["app-budget", n] => self.rec.budget = Some(n.parse().unwrap()),
            ["app-resume"] => {
                self.rec.budget = None;
                let id = self.conn_id().expect("no connection to resume");
                self.ep.resume(id, self.rec.now, &mut self.rec);
                self.rec.flush();
            }
            ["app-keepalive", "off"] => {
                let id = self.conn_id().expect("no connection for keep-alive");
                assert!(self.ep.set_keepalive(id, None, self.rec.now, &mut self.rec));
                self.rec.flush();
            }
            ["app-keepalive", idle, interval, count] => {
                let id = self.conn_id().expect("no connection for keep-alive");
                let ka = tcpcore::KeepAlive {
                    idle: Duration::from_millis(idle.parse().unwrap()),
                    interval: Duration::from_millis(interval.parse().unwrap()),
                    count: count.parse().unwrap(),
                };
                assert!(self
                    .ep
                    .set_keepalive(id, Some(ka), self.rec.now, &mut self.rec));
                self.rec.flush();
            }
            ["app-user-timeout", ms] => {
                let id = self.conn_id().expect("no connection for the user timeout");
                let t = Duration::from_millis(ms.parse().unwrap());
                assert!(self
                    .ep
                    .set_user_timeout(id, Some(t), self.rec.now, &mut self.rec));
                self.rec.flush();
            }
            ["app-abort"] => {
                let id = self.conn_id().expect("no connection to abort");
                self.ep.abort(id, self.rec.now, &mut self.rec);
                self.rec.flush();
            }
            ["state", name] => {
                let got = self
                    .ep
                    .connections()
                    .find(|(_, t, _)| t.remote_port == self.port)
                    .map(|(_, _, s)| s.as_str())
                    .unwrap_or("CLOSED");
                assert_eq!(got, *name, "`{line}`: state");
            }
            ["closed", reason] => {
                let got = self
                    .rec
                    .closed
                    .last()
                    .map(|r| format!("{r:?}"))
                    .unwrap_or_default();
                assert_eq!(
                    got.to_lowercase(),
                    reason.to_lowercase(),
                    "`{line}`: close reason"
                );
            }
            ["rsts", n] => assert_eq!(
                self.ep.stats().tx_rsts,
                n.parse::<u64>().unwrap(),
                "`{line}`: RSTs written"
            ),
            ["conns", n] => assert_eq!(self.ep.len(), n.parse::<usize>().unwrap(), "`{line}`"),
            ["established", n] => assert_eq!(
                self.rec.established,
                n.parse::<usize>().unwrap(),
                "`{line}`"
            ),
            ["peer-closed"] => assert!(self.rec.peer_closed > 0, "`{line}`: no PeerClosed event"),
            ["drops", reason, n] => {
                let r = DropReason::ALL
                    .iter()
                    .find(|r| r.as_str() == *reason)
                    .unwrap_or_else(|| panic!("unknown drop reason {reason}"));
                assert_eq!(
                    self.ep.stats().dropped(*r),
                    n.parse::<u64>().unwrap(),
                    "`{line}`: drops {reason}"
                );
            }
            other => panic!("unknown check {other:?}"),
        }
    }
}

/// Runs `script` against a fresh endpoint with `cfg`.
pub fn run(cfg: EndpointConfig, script: &str) -> Harness {
    let mut h = Harness::new(cfg);
    h.run(script);
    h
}

/// Runs `script` against an endpoint with `cfg` on Ethernet, and against
/// one on [`Medium::Ip`] (bare IPv4 packets, no ARP; see
/// [`Recorder::ip_medium`]); then both again over IPv6 ([`run_v6`]).
/// Returns the IPv4 harnesses, Ethernet first.
pub fn run_both(cfg: EndpointConfig, script: &str) -> (Harness, Harness) {
    let both = run_both_v4(cfg, script);
    if cfg.addr6.is_none() {
        run_v6(cfg, script);
    }
    both
}

/// [`run_both`] without the IPv6 runs.
pub fn run_both_v4(cfg: EndpointConfig, script: &str) -> (Harness, Harness) {
    let eth = run(
        EndpointConfig {
            medium: Medium::Ethernet,
            ..cfg
        },
        script,
    );
    let ip = run(
        EndpointConfig {
            medium: Medium::Ip,
            ..cfg
        },
        script,
    );
    assert_eq!(ip.ep.stats().arp_requests, 0, "ARP on Medium::Ip");
    (eth, ip)
}

/// Runs `script` over IPv6 (see [`Recorder::ipv6`]), on Ethernet and on
/// [`Medium::Ip`], with our IPv6 address [`SERVER_IP6`]. The MTU is taken
/// 20 bytes larger (`conn.mss` + 20) so that the IPv6 MSS, the MTU less
/// 60, is the script's. Returns both harnesses, Ethernet first.
pub fn run_v6(cfg: EndpointConfig, script: &str) -> (Harness, Harness) {
    let cfg = EndpointConfig {
        addr6: Some(SERVER_IP6),
        conn: Config {
            mss: cfg.conn.mss + 20,
            ..cfg.conn
        },
        ..cfg
    };
    let (eth, ip) = run_both_v4(cfg, script);
    for h in [&eth, &ip] {
        assert_eq!(h.ep.stats().arp_requests, 0, "ARP over IPv6");
        assert_eq!(h.ep.stats().drops[DropReason::BadIpv6 as usize], 0);
        assert!(h.rec.ipv6);
    }
    (eth, ip)
}

/// An IPv4 address of the link as IPv6: ours and the client's to
/// [`SERVER_IP6`] and [`CLIENT_IP6`], any other `a.b.c.d` to
/// `2001:2::a.b.c.d`'s bits.
fn map6(a: std::net::Ipv4Addr) -> std::net::Ipv6Addr {
    match a {
        SERVER_IP => SERVER_IP6,
        CLIENT_IP => CLIENT_IP6,
        a => {
            let o = a.octets();
            std::net::Ipv6Addr::new(
                0x2001,
                2,
                0,
                0,
                0,
                0x00ff,
                u16::from_be_bytes([o[0], o[1]]),
                u16::from_be_bytes([o[2], o[3]]),
            )
        }
    }
}

/// An Ethernet/IPv4/TCP frame from the client as the same segment in an
/// Ethernet/IPv6/TCP frame (hop limit 64, the ECN field kept); any other
/// frame as it is.
pub fn v4_to_v6(frame: &[u8]) -> Vec<u8> {
    let Ok(Frame::Tcp { eth, ip, tcp }) = wire::parse_frame(frame, ChecksumPolicy::Skip) else {
        return frame.to_vec();
    };
    let ip6 = wire::Ipv6Repr {
        src_addr: map6(ip.src_addr),
        dst_addr: map6(ip.dst_addr),
        next_header: wire::IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
        dscp: ip.dscp,
        ecn: ip.ecn,
        flow_label: 0,
    };
    let mut f = vec![0u8; ETH_HEADER_LEN + ip6.buffer_len()];
    let eth = wire::EthernetRepr {
        ethertype: wire::EtherType::Unknown(0x86dd),
        ..eth
    };
    eth.emit(&mut wire::EthernetFrame::new_unchecked(&mut f[..]))
        .expect("ethernet header");
    ip6.emit(&mut wire::Ipv6Packet::new_unchecked(
        &mut f[ETH_HEADER_LEN..],
    ))
    .expect("ipv6 header");
    tcp.emit_ip(
        &mut wire::TcpPacket::new_unchecked(&mut f[ETH_HEADER_LEN + 40..]),
        wire::IpPair::V6 {
            src: ip6.src_addr,
            dst: ip6.dst_addr,
        },
    )
    .expect("tcp");
    f
}

/// What the endpoint wrote in IPv6 mode (`bare`: a bare packet, on
/// [`Medium::Ip`]): an IPv6/TCP packet from [`SERVER_IP6`] to
/// [`CLIENT_IP6`], checked (hop limit 64, flow label 0, TCP checksum over
/// the IPv6 pseudo-header), as an Ethernet/IPv4/TCP frame from
/// `SERVER_IP` to `CLIENT_IP`. Anything else that is not IPv6/TCP (NDP,
/// ICMPv6) is returned as it is (in an Ethernet frame).
pub fn v6_to_v4(out: &[u8], bare: bool) -> Vec<u8> {
    let (eth, packet) = if bare {
        let eth = wire::EthernetRepr {
            src_addr: SERVER_MAC,
            dst_addr: CLIENT_MAC,
            ethertype: wire::EtherType::Unknown(0x86dd),
        };
        (eth, out)
    } else {
        let f = wire::EthernetFrame::new_checked(out).expect("ethernet");
        let eth = wire::EthernetRepr::parse(&f).expect("ethernet");
        (eth, &out[ETH_HEADER_LEN..])
    };
    assert_eq!(
        eth.ethertype,
        wire::EtherType::Unknown(0x86dd),
        "IPv6 mode: not an IPv6 frame: {out:02x?}"
    );
    let p = wire::Ipv6Packet::new_checked(packet).expect("IPv6 header");
    let ip6 = wire::Ipv6Repr::parse(&p).expect("IPv6 header");
    if ip6.next_header != wire::IpProtocol::Tcp {
        let mut f = vec![0u8; ETH_HEADER_LEN + packet.len()];
        eth.emit(&mut wire::EthernetFrame::new_unchecked(&mut f[..]))
            .expect("ethernet header");
        f[ETH_HEADER_LEN..].copy_from_slice(packet);
        return f;
    }
    assert_eq!(ip6.src_addr, SERVER_IP6, "IPv6 source");
    assert_eq!(ip6.dst_addr, CLIENT_IP6, "IPv6 destination");
    assert_eq!(ip6.hop_limit, 64, "hop limit");
    assert_eq!(ip6.flow_label, 0, "flow label");
    assert_eq!(ip6.dscp, 0, "DSCP");
    let tcp_packet = wire::TcpPacket::new_checked(p.payload()).expect("TCP header");
    let pair = wire::IpPair::V6 {
        src: ip6.src_addr,
        dst: ip6.dst_addr,
    };
    let tcp = wire::TcpRepr::parse_ip(&tcp_packet, pair, ChecksumPolicy::Verify)
        .expect("TCP over IPv6, checksum over the IPv6 pseudo-header");
    let eth = wire::EthernetRepr {
        src_addr: SERVER_MAC,
        dst_addr: if bare { CLIENT_MAC } else { eth.dst_addr },
        ethertype: wire::EtherType::Ipv4,
    };
    let ip = wire::Ipv4Repr {
        src_addr: SERVER_IP,
        dst_addr: CLIENT_IP,
        protocol: wire::IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        ttl: 64,
        dscp: 0,
        ecn: ip6.ecn,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut f = vec![0u8; wire::tcp_frame_len(&tcp)];
    wire::emit_tcp_frame(&mut f, &eth, &ip, &tcp).expect("emit");
    f
}

/// The Ethernet header of the link (client to server), length 14.
const ETH_HEADER_LEN: usize = 14;

/// A bare IPv4 packet the endpoint wrote on [`Medium::Ip`], checked to be
/// one (TCP checksum aside: a GSO packet's is partial), in an Ethernet
/// frame from the server to the client.
pub fn with_ethernet(packet: &[u8]) -> Vec<u8> {
    if let Err(e) = wire::parse_ip_packet(packet, ChecksumPolicy::Skip) {
        panic!("Medium::Ip: not a bare IPv4/TCP packet ({e}): {packet:02x?}");
    }
    let eth = tcpcore::wire::EthernetRepr {
        src_addr: SERVER_MAC,
        dst_addr: CLIENT_MAC,
        ethertype: tcpcore::wire::EtherType::Ipv4,
    };
    let mut f = vec![0u8; ETH_HEADER_LEN + packet.len()];
    eth.emit(&mut tcpcore::wire::EthernetFrame::new_unchecked(&mut f[..]))
        .expect("ethernet header");
    f[ETH_HEADER_LEN..].copy_from_slice(packet);
    f
}

impl Harness {
    /// Runs the lines of `script` in order.
    pub fn run(&mut self, script: &str) {
        for line in parse_script(script) {
            let text = format!("{line:?}");
            match line {
                Line::In(t, seg) => {
                    self.advance(at(t));
                    self.assert_quiet(&text);
                    if seg.flags.contains('S') && (!seg.flags.contains('.') || self.active) {
                        self.client_isn = Some(seg.seq);
                    }
                    let f = self.frame_for(&seg);
                    self.send(&f);
                }
                Line::Out(t, seg) => {
                    self.advance(at(t));
                    self.check_out(t, &seg, &text);
                }
                Line::Tick(t) => {
                    self.advance(at(t));
                    self.assert_quiet(&text);
                }
                Line::Check(t, what) => {
                    self.advance(at(t));
                    self.assert_quiet(&text);
                    self.check(&what, &text);
                }
            }
        }
        self.assert_quiet("end of script");
    }
}
