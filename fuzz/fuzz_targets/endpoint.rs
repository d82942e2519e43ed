//! Structure-aware: sequences of frames (built from fuzzer-chosen fields,
//! around the connections' real sequence numbers), raw garbage, time steps
//! and application calls (active opens among them: SYN-SENT, and ARP
//! resolution) go into one endpoint. After every step: no panic,
//! RCV.NXT of every connection never goes back, the advertised right edge
//! never moves left, the delivered bytes of each connection are a prefix of
//! what its client sends (byte `s` of a stream is a function of `s`), and
//! the table never holds more than its capacity. No frame is longer than
//! the link's MTU (RFC 9293 §3.7.1, whatever MSS the peer announces) unless
//! it is a GSO frame, and a GSO frame's segments each fit the MTU.
//!
//! The medium (issue #17) comes from the input's first byte: Ethernet, or
//! `Medium::Ip`, where the same steps go in as bare IPv4 packets and every
//! packet out must be one, and no ARP is ever sent or answered. Its second
//! bit picks the family: with it, the endpoint has an IPv6 address and the
//! client's segments (and ICMPv6: neighbor solicitations, echo requests,
//! packets too big) go in as IPv6, and every TCP segment out must be IPv6
//! (its checksum over the IPv6 pseudo-header), never a GSO frame. Its
//! third bit turns pacing on (`Config::pacing`: the pacing timer, paced
//! segments of offload, in every state).
#![no_main]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use tcpcore::wire::{
    self, ChecksumPolicy, EtherType, EthernetAddress, EthernetRepr, IpProtocol, Ipv4Repr,
    SackBlocks, TcpControl, TcpOptions, TcpRepr, Timestamps,
};
use tcpcore::{
    AppEvent, Config, ConnId, Duration, Endpoint, EndpointConfig, FourTuple, Instant, Io, Medium,
    OwnedStorage, SeqNum, TxPayload,
};

const SERVER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const CLIENT_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const SERVER6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);
const CONNS: usize = 4;
/// The link's MTU; the endpoint's MSS is this less 40.
const MTU: usize = 1500;

fn pattern(seq: u32) -> u8 {
    (seq % 251) as u8
}

#[derive(Arbitrary, Debug)]
enum Step {
    Segment {
        client: u8,
        flags: u8,
        seq_off: i16,
        seq_far: bool,
        ack_off: i16,
        len: u16,
        window: u16,
        tsval: Option<u32>,
        sack: Option<(i16, u8)>,
        mss: Option<u16>,
        wscale: Option<u8>,
    },
    Garbage(Vec<u8>),
    Wait(u32),
    /// `Endpoint::send_borrowed` of the static `FILE` from `off`.
    SendBorrowed {
        client: u8,
        off: u16,
    },
    Send {
        client: u8,
        len: u16,
    },
    Close(u8),
    Abort(u8),
    Budget(Option<u16>),
    Resume(u8),
    /// ACK batching on or off (tcp-server runs with it on).
    Batching(bool),
    /// The held ACKs go out.
    FlushAcks,
    /// An ARP request or reply, for the server's address or another one.
    Arp {
        request: bool,
        for_us: bool,
    },
    /// Echo mode: what the connection received goes into its send buffer.
    Echo(u8),
    /// Every connection closed (or aborted) at once, as on shutdown.
    CloseAll(bool),
    /// An active open (SYN-SENT) to client `client`: from the listening
    /// port (so that the client's segments reach it) or an ephemeral one,
    /// with the client's MAC known or to be resolved by ARP.
    Connect {
        client: u8,
        ephemeral: bool,
        known: bool,
    },
    /// The transport takes GSO frames (`Io::gso`) or not.
    Gso(bool),
    /// The listener of port 3000 taken away, and made again (queued, with
    /// this backlog) when `Some`.
    Listen(Option<u8>),
    /// The any-port listener on (queued, backlog 2) or off.
    ListenAny(bool),
    /// One connection taken off each listener's accept queue.
    Accept,
    /// ICMPv6 from the client (IPv6 runs): a neighbor solicitation for our
    /// address (kind 0, to the solicited-node group; its hop limit `hop`),
    /// an echo request (1), a packet too big quoting client `client`'s
    /// connection at our last sequence number plus `seq_off` (2), a
    /// neighbor advertisement of our address to all-nodes (3); or kind 4:
    /// duplicate address detection started (`Endpoint::start_dad`).
    Icmp6 {
        kind: u8,
        hop: u8,
        client: u8,
        mtu: u16,
        seq_off: i16,
    },
}

#[derive(Default)]
struct App {
    /// What each connection incarnation delivered (a client port may have
    /// several: the passive one and our active opens to it).
    data: HashMap<ConnId, Vec<u8>>,
    out: Vec<u8>,
    budget: Option<usize>,
    gso: bool,
    /// The segment size of the GSO frame in `out`, checked once written.
    pending_gso: Option<u16>,
    /// `Medium::Ip`: frames are bare IPv4 packets (no Ethernet header).
    ip: bool,
    /// IPv6: the client's segments are IPv6, and so must ours be.
    v6: bool,
    /// A frame was written into `out` and not checked yet.
    written: bool,
    /// The data of each GSO frame sent through `tx_gso_gather` this step,
    /// with where it lies in its connection's send buffer: checked
    /// against `Endpoint::unacked` after the step.
    gathers: Vec<(ConnId, SeqNum, Vec<u8>)>,
}

impl App {
    /// The GSO frame written last: each segment it is cut into (its IPv4
    /// and TCP headers plus `gso_size` bytes) fits the MTU.
    fn check_gso(&mut self) {
        if std::mem::take(&mut self.written) && self.v6 {
            // IPv6: every frame is IPv6 (TCP whose checksum verifies, or
            // ICMPv6) or, on Ethernet, an ARP reply.
            let link = self.link();
            let is_arp = !self.ip && self.out.get(12..14) == Some(&[0x08, 0x06][..]);
            if !is_arp {
                let p = wire::Ipv6Packet::new_checked(&self.out[link..])
                    .unwrap_or_else(|e| panic!("IPv6 run wrote no IPv6 ({e}): {:02x?}", self.out));
                let ip = wire::Ipv6Repr::parse(&p).expect("IPv6 header");
                if ip.next_header == IpProtocol::Tcp {
                    assert_eq!(ip.hop_limit, 64);
                    let t = wire::TcpPacket::new_checked(p.payload()).expect("TCP header");
                    let pair = wire::IpPair::V6 {
                        src: ip.src_addr,
                        dst: ip.dst_addr,
                    };
                    match self.pending_gso.take() {
                        // A GSO frame: the pseudo-header sum in place
                        // (CHECKSUM_PARTIAL), and each segment (40 + TCP
                        // header + gso_size) fits the MTU.
                        Some(g) => {
                            let len = p.payload().len() as u32;
                            let ph = pair.pseudo_header(6, len);
                            assert_eq!(t.checksum(), ph, "IPv6 GSO frame's partial checksum");
                            let doff = usize::from(p.payload()[12] >> 4) * 4;
                            assert!(
                                40 + doff + usize::from(g) <= MTU,
                                "IPv6 GSO segments of {g} bytes do not fit the MTU"
                            );
                        }
                        None => {
                            wire::TcpRepr::parse_ip(&t, pair, ChecksumPolicy::Verify)
                                .expect("TCP over IPv6 with a valid checksum");
                        }
                    }
                }
            }
            assert!(
                self.pending_gso.is_none(),
                "a GSO frame other than TCP over IPv6"
            );
        } else if std::mem::take(&mut self.written) && self.ip {
            // Medium::Ip: a bare IPv4/TCP packet (the TCP checksum of a
            // GSO packet is partial), never ARP.
            if let Err(e) = wire::parse_ip_packet(&self.out, ChecksumPolicy::Skip) {
                panic!(
                    "Medium::Ip wrote no IPv4/TCP packet ({e}): {:02x?}",
                    self.out
                );
            }
        }
        let Some(g) = self.pending_gso.take() else {
            return;
        };
        let link = self.link();
        let ihl = usize::from(self.out[link] & 0x0f) * 4;
        let doff = usize::from(self.out[link + ihl + 12] >> 4) * 4;
        assert!(
            ihl + doff + usize::from(g) <= MTU,
            "GSO segments of {g} bytes do not fit the MTU"
        );
    }
}

impl App {
    /// The link-layer header's length.
    fn link(&self) -> usize {
        if self.ip {
            0
        } else {
            14
        }
    }

    /// What the endpoint sent last, parsed as its medium frames it.
    fn last_tcp(&self) -> Option<TcpRepr<'_>> {
        if self.v6 {
            let p = wire::Ipv6Packet::new_checked(self.out.get(self.link()..)?).ok()?;
            let ip = wire::Ipv6Repr::parse(&p).ok()?;
            if ip.next_header != IpProtocol::Tcp {
                return None;
            }
            let t = wire::TcpPacket::new_checked(p.payload()).ok()?;
            let pair = wire::IpPair::V6 {
                src: ip.src_addr,
                dst: ip.dst_addr,
            };
            wire::TcpRepr::parse_ip(&t, pair, ChecksumPolicy::Skip).ok()
        } else if self.ip {
            wire::parse_ip_packet(&self.out, ChecksumPolicy::Skip)
                .ok()
                .map(|(_, t)| t)
        } else {
            match wire::parse_frame(&self.out, ChecksumPolicy::Skip) {
                Ok(wire::Frame::Tcp { tcp, .. }) => Some(tcp),
                _ => None,
            }
        }
    }
}

impl Io for App {
    fn tx(&mut self, len: usize) -> Option<&mut [u8]> {
        self.check_gso();
        let link = self.link();
        assert!(len <= link + MTU, "a {len}-byte frame on a {MTU}-byte link");
        self.written = true;
        self.out.clear();
        self.out.resize(len, 0);
        Some(&mut self.out)
    }
    fn gso(&self) -> bool {
        self.gso
    }
    fn tx_gso(&mut self, len: usize, gso_size: u16) -> Option<&mut [u8]> {
        assert!(self.gso, "a GSO frame to a transport without GSO");
        self.check_gso();
        assert!(gso_size > 0);
        self.pending_gso = Some(gso_size);
        self.written = true;
        self.out.clear();
        self.out.resize(len, 0);
        Some(&mut self.out)
    }
    fn tx_gso_gather<F: FnOnce(&mut [u8]) -> bool>(
        &mut self,
        head_len: usize,
        gso_size: u16,
        payload: TxPayload<'_>,
        write: F,
    ) -> bool {
        self.gathers
            .push((payload.conn, payload.seq, payload.bytes.to_vec()));
        let buf = self.tx_gso(head_len + payload.bytes.len(), gso_size);
        payload.write_whole(buf, head_len, write)
    }
    fn event(&mut self, id: ConnId, _: &FourTuple, e: AppEvent<'_>) {
        if let AppEvent::Data(d) = e {
            self.data.entry(id).or_default().extend_from_slice(d);
        }
    }
    fn deliver(&mut self, id: ConnId, _: &FourTuple, d: &[u8]) -> usize {
        let n = self.budget.map_or(d.len(), |b| b.min(d.len()));
        if let Some(b) = self.budget.as_mut() {
            *b -= n;
        }
        self.data.entry(id).or_default().extend_from_slice(&d[..n]);
        n
    }
}

/// What the fuzzer's client knows of a connection: its ISN and the last
/// sequence numbers seen from us.
#[derive(Clone, Copy, Default)]
struct Client {
    isn: Option<u32>,
    next: u32,
    ours: u32,
    /// Our last TSval, echoed in the client's TSecr (a SYN cookie with
    /// timestamps is checked against it).
    tsval: u32,
}

/// The connection of fuzzer client `client`, if it has one.
fn conn_of(ep: &Endpoint<'_>, client: u8) -> Option<ConnId> {
    let port = 40000 + (client % 8) as u16;
    ep.connections()
        .find(|c| c.1.remote_port == port)
        .map(|c| c.0)
}

/// A frame from the fuzzer's client on `port`, with `ecn` in the IP
/// header's ECN field (RFC 3168: CE is 3); with `ip`, the bare packet.
fn frame(ip_medium: bool, v6: bool, port: u16, tcp: &TcpRepr<'_>, ecn: u8) -> Vec<u8> {
    if v6 {
        let ip = wire::Ipv6Repr {
            src_addr: CLIENT6,
            dst_addr: SERVER6,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
            dscp: 0,
            ecn,
            flow_label: 0,
        };
        let mut buf = ipv6_frame(ip_medium, SERVER_MAC, &ip);
        let at = buf.len() - tcp.buffer_len();
        let pair = wire::IpPair::V6 {
            src: CLIENT6,
            dst: SERVER6,
        };
        let _ = tcp.emit_ip(&mut wire::TcpPacket::new_unchecked(&mut buf[at..]), pair);
        return buf;
    }
    let eth = EthernetRepr {
        src_addr: CLIENT_MAC,
        dst_addr: SERVER_MAC,
        ethertype: EtherType::Ipv4,
    };
    let ip = Ipv4Repr {
        src_addr: Ipv4Addr::new(198, 18, 0, 2),
        dst_addr: SERVER,
        protocol: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        ttl: 64,
        dscp: 0,
        ecn,
        ident: port,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    if ip_medium {
        let mut buf = vec![0u8; wire::tcp_packet_len(tcp)];
        let _ = wire::emit_tcp_packet(&mut buf, &ip, tcp);
        return buf;
    }
    let mut buf = vec![0u8; wire::tcp_frame_len(tcp)];
    let _ = wire::emit_tcp_frame(&mut buf, &eth, &ip, tcp);
    buf
}

/// A frame (a bare packet with `ip_medium`) holding the IPv6 header `ip`
/// from the client to `dst_mac`, its payload zero.
fn ipv6_frame(ip_medium: bool, dst_mac: EthernetAddress, ip: &wire::Ipv6Repr) -> Vec<u8> {
    let link = if ip_medium { 0 } else { 14 };
    let mut buf = vec![0u8; link + ip.buffer_len()];
    if !ip_medium {
        let eth = EthernetRepr {
            src_addr: CLIENT_MAC,
            dst_addr: dst_mac,
            ethertype: EtherType::Unknown(0x86dd),
        };
        let _ = eth.emit(&mut wire::EthernetFrame::new_unchecked(&mut buf[..]));
    }
    let _ = ip.emit(&mut wire::Ipv6Packet::new_unchecked(&mut buf[link..]));
    buf
}

/// An ICMPv6 message from the client to `dst` (at `dst_mac`).
fn icmp6_frame(
    ip_medium: bool,
    dst_mac: EthernetAddress,
    dst: Ipv6Addr,
    hop_limit: u8,
    icmp: &wire::Icmpv6Repr<'_>,
) -> Vec<u8> {
    let ip = wire::Ipv6Repr {
        src_addr: CLIENT6,
        dst_addr: dst,
        next_header: IpProtocol::from(58),
        payload_len: icmp.buffer_len(),
        hop_limit,
        dscp: 0,
        ecn: 0,
        flow_label: 0,
    };
    let mut buf = ipv6_frame(ip_medium, dst_mac, &ip);
    let at = buf.len() - icmp.buffer_len();
    let _ = icmp.emit(
        &mut wire::Icmpv6Packet::new_unchecked(&mut buf[at..]),
        CLIENT6,
        dst,
    );
    buf
}

/// What `Step::SendBorrowed` sends from: 16 KiB of a pattern.
static FILE: [u8; 16384] = {
    let mut a = [0u8; 16384];
    let mut i = 0;
    while i < a.len() {
        a[i] = (i % 251) as u8;
        i += 1;
    }
    a
};

fuzz_target!(|input: (u8, Vec<Step>)| {
    let (medium, steps) = input;
    let ip_medium = medium & 1 == 1;
    let v6 = medium & 2 != 0;
    let pacing = medium & 4 != 0;
    let mut mem = OwnedStorage::new(CONNS, 4096, 4096).unwrap();
    let cfg = EndpointConfig {
        medium: if ip_medium {
            Medium::Ip
        } else {
            Medium::Ethernet
        },
        mac: SERVER_MAC,
        addr: SERVER,
        addr6: v6.then_some(SERVER6),
        port: 3000,
        answer_arp: true,
        reset_other_ports: true,
        max_half_open: 2,
        gateway: None,
        prefix_len: 0,
        conn: Config {
            max_per_source: 3,
            idle_timeout: Duration::from_secs(30),
            mss: (MTU - 40) as u16,
            gso_max: 16 * 1024,
            pacing,
            ..Config::default()
        },
    };
    let mut ep = Endpoint::new(cfg, mem.storage(), [7; 16]).unwrap();
    let mut app = App {
        ip: ip_medium,
        v6,
        ..App::default()
    };
    let mut now = Instant::from_millis(1);
    let mut clients = [Client::default(); 8];
    // Per connection incarnation: a new one on the same port (a TIME-WAIT
    // reopened by RFC 6191 with newer timestamps, or a recycled slot) may
    // start below where the old one ended.
    let mut last: HashMap<ConnId, (SeqNum, Option<SeqNum>)> = HashMap::new();
    for step in steps.into_iter().take(200) {
        match step {
            Step::Segment {
                client,
                flags,
                seq_off,
                seq_far,
                ack_off,
                len,
                window,
                tsval,
                sack,
                mss,
                wscale,
            } => {
                let c = (client % 8) as usize;
                let port = 40000 + c as u16;
                let isn = *clients[c].isn.get_or_insert(1000 + 100_000 * c as u32);
                let base = if flags & 0x02 != 0 {
                    isn
                } else {
                    clients[c].next.max(isn + 1)
                };
                // A SYN always carries the client's ISN (the stream's bytes are
                // a function of their offset from it).
                let seq = if flags & 0x02 != 0 {
                    isn
                } else if seq_far {
                    base.wrapping_add((seq_off as i32 as u32) << 12)
                } else {
                    base.wrapping_add(seq_off as i32 as u32)
                };
                let len = (len % 3000) as usize;
                // A SYN's text starts after the SYN's sequence number (the
                // control is SYN only for these bits, see below).
                let first = if flags & 0x07 == 0x02 {
                    seq.wrapping_add(1)
                } else {
                    seq
                };
                let payload: Vec<u8> = (0..len as u32)
                    .map(|i| pattern(first.wrapping_add(i).wrapping_sub(isn + 1)))
                    .collect();
                let mut sb = SackBlocks::new();
                if let Some((off, l)) = sack {
                    let l0 = clients[c].ours.wrapping_add(off as i32 as u32);
                    sb.push(SeqNum::new(l0), SeqNum::new(l0.wrapping_add(u32::from(l))));
                }
                let control = match flags & 0x07 {
                    0x02 => TcpControl::Syn,
                    0x04 => TcpControl::Rst,
                    0x01 => TcpControl::Fin,
                    _ => TcpControl::None,
                };
                let tcp = TcpRepr {
                    src_port: port,
                    dst_port: 3000,
                    seq_number: SeqNum::new(seq),
                    ack_number: (flags & 0x10 != 0)
                        .then(|| SeqNum::new(clients[c].ours.wrapping_add(ack_off as i32 as u32))),
                    control,
                    push: flags & 0x08 != 0,
                    urgent: None,
                    // RFC 3168: ECE and CWR from the flags' top bits (a
                    // SYN with both asks for ECN).
                    ece: flags & 0x40 != 0,
                    cwr: flags & 0x80 != 0,
                    window_len: window,
                    options: TcpOptions {
                        mss,
                        window_scale: wscale,
                        sack_permitted: flags & 0x20 != 0,
                        sack_blocks: sb,
                        timestamps: tsval.map(|v| Timestamps {
                            tsval: v,
                            tsecr: if flags & 0x10 != 0 {
                                clients[c].tsval
                            } else {
                                0
                            },
                        }),
                    },
                    payload: &payload,
                };
                // The IP ECN field from the client byte's bits above the
                // port's (0, Not-ECT, for the clients 0 to 7).
                let f = frame(ip_medium, v6, port, &tcp, (client >> 3) & 3);
                ep.handle_frame(now, &f, ChecksumPolicy::Verify, &mut app);
                clients[c].next = seq.wrapping_add(tcp.segment_len() as u32);
                // Learn our sequence numbers from what the endpoint sent.
                if let Some(out) = app.last_tcp() {
                    if out.dst_port == port {
                        clients[c].ours =
                            out.seq_number.get().wrapping_add(out.segment_len() as u32);
                        if let Some(ts) = out.options.timestamps {
                            clients[c].tsval = ts.tsval;
                        }
                    }
                }
            }
            Step::Garbage(bytes) => ep.handle_frame(now, &bytes, ChecksumPolicy::Verify, &mut app),
            Step::Wait(ms) => {
                now += Duration::from_millis(u64::from(ms % 200_000));
                if ep.poll_timeout().is_some_and(|t| t <= now) {
                    ep.handle_timeout(now, &mut app);
                }
            }
            Step::Send { client, len } => {
                let found = conn_of(&ep, client);
                if let Some(id) = found {
                    ep.send(id, &vec![0x5a; usize::from(len % 9000)], now, &mut app);
                }
            }
            Step::SendBorrowed { client, off } => {
                // From the static file, at `off` (continuing a span, or
                // not, or past its end).
                let found = conn_of(&ep, client);
                if let Some(id) = found {
                    ep.send_borrowed(id, &FILE, usize::from(off), now, &mut app);
                }
            }
            Step::Close(client) | Step::Abort(client) | Step::Resume(client) => {
                let found = conn_of(&ep, client);
                if let Some(id) = found {
                    match step {
                        Step::Close(_) => ep.close(id, now, &mut app),
                        Step::Abort(_) => ep.abort(id, now, &mut app),
                        _ => {
                            app.budget = None;
                            ep.resume(id, now, &mut app)
                        }
                    }
                }
            }
            Step::Budget(b) => app.budget = b.map(usize::from),
            Step::Batching(on) => ep.set_batching(on),
            Step::Arp { request, for_us } => {
                let arp = wire::ArpRepr {
                    operation: if request {
                        wire::ArpOperation::Request
                    } else {
                        wire::ArpOperation::Reply
                    },
                    source_hardware_addr: CLIENT_MAC,
                    source_protocol_addr: Ipv4Addr::new(198, 18, 0, 2),
                    target_hardware_addr: EthernetAddress([0; 6]),
                    target_protocol_addr: if for_us {
                        SERVER
                    } else {
                        Ipv4Addr::new(198, 18, 0, 9)
                    },
                };
                let eth = EthernetRepr {
                    src_addr: CLIENT_MAC,
                    dst_addr: EthernetAddress([0xff; 6]),
                    ethertype: EtherType::Arp,
                };
                let mut buf = vec![0u8; wire::ARP_FRAME_LEN];
                let _ = wire::emit_arp_frame(&mut buf, &eth, &arp);
                app.out.clear();
                ep.handle_frame(now, &buf, ChecksumPolicy::Verify, &mut app);
                if ip_medium {
                    // No link layer, no ARP: the frame is no IPv4 packet.
                    assert!(app.out.is_empty(), "an answer to ARP on Medium::Ip");
                } else if request && for_us {
                    let Ok(wire::Frame::Arp { arp: reply, .. }) =
                        wire::parse_frame(&app.out, ChecksumPolicy::Verify)
                    else {
                        panic!("no ARP reply for our address");
                    };
                    assert_eq!(reply.source_hardware_addr, SERVER_MAC);
                    assert_eq!(reply.source_protocol_addr, SERVER);
                }
            }
            Step::Echo(client) => {
                let found = conn_of(&ep, client);
                if let Some(id) = found {
                    // Echo consumes unread bytes into the send buffer
                    // without `deliver`: count them as taken, so that the
                    // bytes delivered after them keep their stream offsets.
                    // The application takes nothing meanwhile (the echo
                    // offers what stays unread again), so that the echoed
                    // bytes are counted before any that follow them.
                    let before = ep.state(id).and_then(|s| s.unread());
                    let budget = app.budget.replace(0);
                    ep.echo(id, now, &mut app);
                    app.budget = budget;
                    let after = ep.state(id).and_then(|s| s.unread());
                    if let (Some((r0, _)), Some((r1, _))) = (before, after) {
                        let v = app.data.entry(id).or_default();
                        let have = v.len() as u32;
                        v.extend((0..r1 - r0).map(|k| pattern(have + k)));
                    }
                }
            }
            Step::CloseAll(abort) => {
                if abort {
                    ep.abort_all(now, &mut app);
                } else {
                    ep.close_all(now, &mut app);
                }
            }
            Step::Connect {
                client,
                ephemeral,
                known,
            } => {
                let c = (client % 8) as usize;
                let client_ip: IpAddr = if v6 {
                    CLIENT6.into()
                } else {
                    Ipv4Addr::new(198, 18, 0, 2).into()
                };
                if known {
                    ep.set_neighbor(client_ip, CLIENT_MAC);
                }
                let remote = std::net::SocketAddr::new(client_ip, 40000 + c as u16);
                let local = if ephemeral { 0 } else { 3000 };
                let _ = ep.connect(local, remote, now, &mut app);
            }
            Step::Gso(on) => app.gso = on,
            Step::Listen(backlog) => {
                ep.unlisten(3000, now, &mut app);
                if let Some(b) = backlog {
                    let _ = ep.listen(3000, u16::from(b));
                }
            }
            Step::ListenAny(true) => {
                let _ = ep.listen_any(2);
            }
            Step::ListenAny(false) => {
                ep.unlisten_any(now, &mut app);
            }
            Step::Accept => {
                for l in [ep.listener(3000), ep.any_listener()].into_iter().flatten() {
                    if let Some(id) = ep.accept(l) {
                        assert!(ep.state(id).is_some(), "accepted a connection that is gone");
                    }
                }
            }
            Step::FlushAcks => {
                ep.flush_acks(now, &mut app);
                assert_eq!(ep.acks_held(), 0, "ACKs still held after flush_acks");
            }
            Step::Icmp6 {
                kind,
                hop,
                client,
                mtu,
                seq_off,
            } => {
                let solicited = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 1);
                let group_mac = EthernetAddress([0x33, 0x33, 0xff, 0, 0, 1]);
                let c = (client % 8) as usize;
                let mut quote = [0u8; 48];
                if kind % 5 == 4 {
                    // Duplicate address detection (re)started: the
                    // address tentative until the probe's timer.
                    let _ = ep.start_dad(now, &mut app);
                    app.check_gso();
                    continue;
                }
                let f = match kind % 5 {
                    0 => {
                        let ns = wire::Icmpv6Repr::NeighborSolicit(wire::NdpNeighborSolicit {
                            target_addr: SERVER6,
                            source_lladdr: Some(CLIENT_MAC),
                        });
                        icmp6_frame(ip_medium, group_mac, solicited, hop, &ns)
                    }
                    1 => {
                        let echo = wire::Icmpv6Repr::EchoRequest {
                            ident: u16::from(hop),
                            seq_no: mtu,
                            data: &[1, 2, 3],
                        };
                        icmp6_frame(ip_medium, SERVER_MAC, SERVER6, hop, &echo)
                    }
                    3 => {
                        // Another node advertising our address (a
                        // duplicate while it is tentative).
                        let na = wire::Icmpv6Repr::NeighborAdvert(wire::NdpNeighborAdvert {
                            router_flag: false,
                            solicited_flag: false,
                            override_flag: true,
                            target_addr: SERVER6,
                            target_lladdr: Some(CLIENT_MAC),
                        });
                        let all = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
                        let all_mac = EthernetAddress([0x33, 0x33, 0, 0, 0, 1]);
                        icmp6_frame(ip_medium, all_mac, all, hop, &na)
                    }
                    _ => {
                        let ip = wire::Ipv6Repr {
                            src_addr: SERVER6,
                            dst_addr: CLIENT6,
                            next_header: IpProtocol::Tcp,
                            payload_len: 0,
                            hop_limit: 64,
                            dscp: 0,
                            ecn: 0,
                            flow_label: 0,
                        };
                        let _ = ip.emit(&mut wire::Ipv6Packet::new_unchecked(&mut quote[..]));
                        quote[40..42].copy_from_slice(&3000u16.to_be_bytes());
                        quote[42..44].copy_from_slice(&(40000 + c as u16).to_be_bytes());
                        let seq = clients[c].ours.wrapping_add(seq_off as i32 as u32);
                        quote[44..48].copy_from_slice(&seq.to_be_bytes());
                        let ptb = wire::Icmpv6Repr::PacketTooBig {
                            mtu: u32::from(mtu),
                            quote: &quote,
                        };
                        icmp6_frame(ip_medium, SERVER_MAC, SERVER6, hop, &ptb)
                    }
                };
                ep.handle_frame(now, &f, ChecksumPolicy::Verify, &mut app);
            }
        }
        app.check_gso();
        if ip_medium {
            assert_eq!(ep.stats().arp_requests, 0, "ARP on Medium::Ip");
        }
        assert!(
            ep.acks_held() <= ep.len(),
            "more held ACKs than connections"
        );
        // A gather frame's data can be borrowed again until any of it is
        // acknowledged (a transport sends it after the call), as it was.
        for (id, seq, bytes) in app.gathers.drain(..) {
            let Some(una) = ep.state(id).and_then(|s| s.snd_una()) else {
                assert!(
                    ep.unacked(id, seq, bytes.len()).is_none(),
                    "unacked on a gone connection"
                );
                continue;
            };
            if seq.after_eq(una) {
                assert_eq!(
                    ep.unacked(id, seq, bytes.len()),
                    Some(&bytes[..]),
                    "a gather frame's data changed before it was acknowledged"
                );
            } else {
                assert!(
                    ep.unacked(id, seq, bytes.len()).is_none(),
                    "unacked lent acknowledged bytes"
                );
            }
        }
        // Invariants.
        assert!(ep.len() <= CONNS);
        let mut half_open = 0;
        for l in [ep.listener(3000), ep.any_listener()].into_iter().flatten() {
            let info = ep.listener_info(l).unwrap();
            assert!(
                info.auto_accept || info.queued <= usize::from(info.backlog),
                "accept queue beyond its backlog"
            );
            half_open += info.half_open;
        }
        assert!(
            half_open <= ep.half_open(),
            "listeners count more half-open"
        );
        for (id, _, _) in ep.connections().collect::<Vec<_>>() {
            let st = ep.state(id).unwrap();
            if let Some(nxt) = st.rcv_nxt() {
                let right = st.rcv_adv_right();
                if let Some(&(pn, pr)) = last.get(&id) {
                    assert!(
                        nxt.after_eq(pn) || nxt.diff(pn).unsigned_abs() > 1 << 30,
                        "RCV.NXT went back"
                    );
                    if let (Some(r), Some(p)) = (right, pr) {
                        assert!(
                            r.after_eq(p) || r.diff(p).unsigned_abs() > 1 << 30,
                            "right edge moved left"
                        );
                    }
                }
                last.insert(id, (nxt, right));
            }
        }
        last.retain(|id, _| ep.connections().any(|c| c.0 == *id));
        for bytes in app.data.values() {
            // A stream's bytes from its start (pattern of the offset).
            for (i, b) in bytes.iter().enumerate() {
                assert_eq!(
                    *b,
                    pattern(i as u32),
                    "delivered bytes are not the client's stream"
                );
            }
        }
        // Streams of closed connections start over with a new ISN.
        let open: Vec<u16> = ep.connections().map(|c| c.1.remote_port).collect();
        app.data.retain(|id, _| ep.state(*id).is_some());
        for (c, cl) in clients.iter_mut().enumerate() {
            if !open.contains(&(40000 + c as u16)) && cl.isn.is_some() {
                cl.isn = cl.isn.map(|i| i.wrapping_add(7_777_777));
            }
        }
    }
});
