//! The endpoint: whole frames in, through parsing, lookup and the transition.
//!
//! - `segment_1448`: an in-order 1448-byte data segment (with timestamps, as
//!   Linux sends them) on one established connection, checksums verified or
//!   skipped (the kernel vouched for them);
//! - `connection`: a whole connection per iteration (SYN, ACK, a 100-byte
//!   segment, FIN, the final ACK; the server closes on the peer's FIN);
//! - `lookup`: a pure ACK to a random one of 10,000 established connections,
//!   against the same with one connection.
//!
//! The peer in the same run: `segment_1448/smoltcp` feeds the same frames to
//! a smoltcp 0.12 interface with one listening TCP socket (checksums
//! verified, timestamps on), reading the data out of its buffer after every
//! frame.
//!
//! At start it prints the per-connection state sizes next to smoltcp's TCP
//! socket.
//!
//! ```text
//! cargo bench -p benches --bench endpoint -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::mem::size_of;
use std::net::Ipv4Addr;
use std::rc::Rc;
use std::time::Duration as StdDuration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tcpcore::conn::Config;
use tcpcore::wire::{
    self, ChecksumPolicy, EtherType, EthernetAddress, EthernetRepr, IpProtocol, Ipv4Repr,
    TcpControl, TcpOptions, TcpRepr, Timestamps,
};
use tcpcore::{
    AppEvent, ConnId, Endpoint, EndpointConfig, FourTuple, Instant, Io, OwnedStackStorage,
    OwnedStorage, SeqNum, Slot, Stack, StackEvent, State,
};

const SERVER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
const CLIENT_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 2]);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const SERVER_PORT: u16 = 3000;
const KEY: [u8; 16] = [7; 16];
/// Receive buffer of the single-connection benches.
const BUF: usize = 1 << 16;
/// Receive buffer of each of the 10,000 connections.
const SMALL: usize = 2048;
const PAYLOAD: usize = 1448;
const CLIENT_ISN: u32 = 0x1000_0000;

/// Discards frames (written into one reused buffer) and consumes data.
#[derive(Default)]
struct Sink {
    buf: Vec<u8>,
    bytes: u64,
}

impl Io for Sink {
    fn tx(&mut self, len: usize) -> Option<&mut [u8]> {
        if self.buf.len() < len {
            self.buf.resize(len, 0);
        }
        Some(&mut self.buf[..len])
    }

    fn event(&mut self, _id: ConnId, _tuple: &FourTuple, event: AppEvent<'_>) {
        if let AppEvent::Data(d) = event {
            self.bytes += black_box(d).len() as u64;
        }
    }
}

impl Sink {
    /// The sequence number of the last frame written (a SYN-ACK after a SYN).
    fn last_seq(&self) -> u32 {
        // Ethernet 14 + IPv4 20 (no options) + TCP offset 4.
        u32::from_be_bytes(self.buf[38..42].try_into().expect("frame"))
    }
}

fn config() -> EndpointConfig {
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
            close_on_peer_fin: true,
            ..Config::default()
        },
    }
}

/// Room for `n` connections with `rx` bytes of receive buffer each.
fn storage(n: usize, rx: usize) -> OwnedStorage {
    OwnedStorage::new(n, rx, 0).expect("storage")
}

fn at(us: u64) -> Instant {
    Instant::from_micros(us)
}

/// A client segment to the server.
struct Seg<'a> {
    port: u16,
    seq: u32,
    ack: Option<u32>,
    control: TcpControl,
    options: TcpOptions,
    payload: &'a [u8],
}

fn frame(s: &Seg<'_>) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: s.port,
        dst_port: SERVER_PORT,
        seq_number: SeqNum::new(s.seq),
        ack_number: s.ack.map(SeqNum::new),
        control: s.control,
        push: !s.payload.is_empty(),
        urgent: None,
        ece: false,
        cwr: false,
        window_len: 502,
        options: s.options,
        payload: s.payload,
    };
    let eth = EthernetRepr {
        src_addr: CLIENT_MAC,
        dst_addr: SERVER_MAC,
        ethertype: EtherType::Ipv4,
    };
    let ip = Ipv4Repr {
        src_addr: CLIENT_IP,
        dst_addr: SERVER_IP,
        protocol: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut buf = vec![0u8; wire::tcp_frame_len(&tcp)];
    let n = wire::emit_tcp_frame(&mut buf, &eth, &ip, &tcp).expect("emit");
    buf.truncate(n);
    buf
}

fn syn_options(ts: bool) -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: ts.then_some(Timestamps {
            tsval: 1000,
            tsecr: 0,
        }),
        ..TcpOptions::default()
    }
}

fn ts_options(tsval: u32) -> TcpOptions {
    TcpOptions {
        timestamps: Some(Timestamps { tsval, tsecr: 1 }),
        ..TcpOptions::default()
    }
}

/// Opens a connection from `port` at `now` (SYN, then ACK 10 µs later);
/// returns the server's ISS.
fn handshake(ep: &mut Endpoint<'_>, sink: &mut Sink, port: u16, now: u64, ts: bool) -> u32 {
    let syn = frame(&Seg {
        port,
        seq: CLIENT_ISN,
        ack: None,
        control: TcpControl::Syn,
        options: syn_options(ts),
        payload: &[],
    });
    ep.handle_frame(at(now), &syn, ChecksumPolicy::Verify, sink);
    let iss = sink.last_seq();
    let ack = frame(&Seg {
        port,
        seq: CLIENT_ISN + 1,
        ack: Some(iss.wrapping_add(1)),
        control: TcpControl::None,
        options: if ts {
            ts_options(1000)
        } else {
            TcpOptions::default()
        },
        payload: &[],
    });
    ep.handle_frame(at(now + 10), &ack, ChecksumPolicy::Verify, sink);
    iss
}

/// The handshake of [`handshake`] through a [`Stack`]; returns the
/// connection (its ISS checked against the endpoint's, `iss`).
fn stack_handshake(stack: &mut Stack<'_>, iss: u32) -> ConnId {
    let syn = frame(&Seg {
        port: 40000,
        seq: CLIENT_ISN,
        ack: None,
        control: TcpControl::Syn,
        options: syn_options(true),
        payload: &[],
    });
    stack.handle_frame(at(0), &syn);
    let synack = stack.poll_transmit().expect("SYN-ACK");
    assert_eq!(synack.frame[38..42], iss.to_be_bytes(), "same ISS");
    let ack = frame(&Seg {
        port: 40000,
        seq: CLIENT_ISN + 1,
        ack: Some(iss.wrapping_add(1)),
        control: TcpControl::None,
        options: ts_options(1000),
        payload: &[],
    });
    stack.handle_frame(at(10), &ack);
    match stack.poll_event() {
        Some(StackEvent::Established(id)) => id,
        other => panic!("no connection: {other:?}"),
    }
}

fn print_sizes() {
    let state = size_of::<State>();
    let slot = size_of::<Slot>();
    let smol = size_of::<smoltcp::socket::tcp::Socket<'static>>();
    println!("per-connection state, bytes (buffers excluded):");
    println!("  tcpcore::State                      {state:>5}");
    println!("  tcpcore::Slot (state, SACK ranges, table links) {slot:>5}");
    println!("  smoltcp::socket::tcp::Socket<'static> {smol:>3}  (its rx/tx buffers are separate)");
    println!(
        "  ratio smoltcp Socket / tcpcore Slot  {:.2}",
        smol as f64 / slot as f64
    );
}

/// In-order 1448-byte segments on one connection.
fn segment(c: &mut Criterion) {
    print_sizes();
    const FRAMES: usize = 4096;
    // The ISS is a function of the key, the 4-tuple and the time, so a
    // first run tells the ACK numbers that every later run will see.
    let iss = {
        let mut s = storage(1, BUF);
        let mut ep = Endpoint::new(config(), s.storage(), KEY).expect("endpoint");
        handshake(&mut ep, &mut Sink::default(), 40000, 0, true)
    };
    let payload: Vec<u8> = (0..PAYLOAD).map(|i| i as u8).collect();
    let frames: Vec<Vec<u8>> = (0..FRAMES)
        .map(|i| {
            frame(&Seg {
                port: 40000,
                seq: CLIENT_ISN + 1 + (i * PAYLOAD) as u32,
                ack: Some(iss.wrapping_add(1)),
                control: TcpControl::None,
                options: ts_options(1001 + i as u32),
                payload: &payload,
            })
        })
        .collect();
    let mut g = c.benchmark_group("endpoint/segment_1448");
    g.throughput(Throughput::Bytes(PAYLOAD as u64));
    for (name, policy) in [
        ("verify", ChecksumPolicy::Verify),
        ("skip", ChecksumPolicy::Skip),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = StdDuration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(FRAMES as u64) as usize;
                    let mut s = storage(1, BUF);
                    let mut ep = Endpoint::new(config(), s.storage(), KEY).expect("endpoint");
                    let mut sink = Sink::default();
                    assert_eq!(handshake(&mut ep, &mut sink, 40000, 0, true), iss);
                    let start = std::time::Instant::now();
                    for (i, f) in frames[..n].iter().enumerate() {
                        ep.handle_frame(at(100 + i as u64 * 10), f, policy, &mut sink);
                    }
                    total += start.elapsed();
                    assert_eq!(sink.bytes, (n * PAYLOAD) as u64, "not all delivered");
                    left -= n as u64;
                }
                total
            })
        });
    }
    // The same frames through the pull API, as an embedder drives it: each
    // frame in, the bytes pulled out with `recv` (a copy the callback layer
    // does not make), the events and the frames to send drained.
    g.bench_function("stack", |b| {
        b.iter_custom(|iters| {
            let mut total = StdDuration::ZERO;
            let mut left = iters;
            let mut buf = vec![0u8; BUF];
            while left > 0 {
                let n = left.min(FRAMES as u64) as usize;
                let mut s = OwnedStackStorage::new(1, BUF, 0, 1 << 16).expect("storage");
                let mut stack = Stack::new(config(), s.storage(), KEY).expect("stack");
                let id = stack_handshake(&mut stack, iss);
                let start = std::time::Instant::now();
                let mut got = 0usize;
                for (i, f) in frames[..n].iter().enumerate() {
                    let now = at(100 + i as u64 * 10);
                    stack.handle_frame(now, f);
                    while let Ok(k) = stack.recv(id, &mut buf, now) {
                        got += k;
                    }
                    while stack.poll_event().is_some() {}
                    while let Some(t) = stack.poll_transmit() {
                        black_box(t.frame);
                    }
                }
                total += start.elapsed();
                assert_eq!(got, n * PAYLOAD, "not all received");
                left -= n as u64;
            }
            total
        })
    });
    // The same frames into smoltcp. Its ISS is random, so each batch's
    // frames are built with its ACK number, outside the timing.
    g.bench_function("smoltcp", |b| {
        b.iter_custom(|iters| {
            let mut total = StdDuration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(FRAMES as u64) as usize;
                let mut server = smol::Server::new(SERVER_MAC.0, SERVER_IP.octets(), SERVER_PORT);
                let iss = smol_open(&mut server);
                let batch: Vec<Vec<u8>> = (0..n)
                    .map(|i| {
                        frame(&Seg {
                            port: 40000,
                            seq: CLIENT_ISN + 1 + (i * PAYLOAD) as u32,
                            ack: Some(iss.wrapping_add(1)),
                            control: TcpControl::None,
                            options: ts_options(1001 + i as u32),
                            payload: &payload,
                        })
                    })
                    .collect();
                server.dev.frames = Rc::new(batch);
                let mut got = 0;
                let start = std::time::Instant::now();
                for i in 0..n {
                    got += server.frame(100 + i as u64 * 10, i);
                }
                total += start.elapsed();
                assert_eq!(got, n * PAYLOAD, "smoltcp did not deliver everything");
                left -= n as u64;
            }
            total
        })
    });
    g.finish();
}

/// smoltcp as the receiver of the same in-order segments.
mod smol {
    use std::rc::Rc;

    use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
    use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
    use smoltcp::socket::tcp;
    use smoltcp::time::Instant;
    use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

    /// Hands out one of its frames (shared, not copied); writes transmitted
    /// frames into one buffer.
    pub struct Dev {
        pub frames: Rc<Vec<Vec<u8>>>,
        pub next: Option<usize>,
        pub tx: Vec<u8>,
    }

    pub struct Rx(Rc<Vec<Vec<u8>>>, usize);
    pub struct Tx<'a>(&'a mut Vec<u8>);

    impl phy::RxToken for Rx {
        fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
            f(&self.0[self.1])
        }
    }

    impl phy::TxToken for Tx<'_> {
        fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
            if self.0.len() < len {
                self.0.resize(len, 0);
            }
            f(&mut self.0[..len])
        }
    }

    impl Device for Dev {
        type RxToken<'a>
            = Rx
        where
            Self: 'a;
        type TxToken<'a>
            = Tx<'a>
        where
            Self: 'a;

        fn receive(&mut self, _t: Instant) -> Option<(Rx, Tx<'_>)> {
            let i = self.next.take()?;
            Some((Rx(Rc::clone(&self.frames), i), Tx(&mut self.tx)))
        }

        fn transmit(&mut self, _t: Instant) -> Option<Tx<'_>> {
            Some(Tx(&mut self.tx))
        }

        fn capabilities(&self) -> DeviceCapabilities {
            let mut c = DeviceCapabilities::default();
            c.medium = Medium::Ethernet;
            c.max_transmission_unit = 1514;
            c
        }
    }

    pub struct Server {
        iface: Interface,
        pub dev: Dev,
        sockets: SocketSet<'static>,
        h: SocketHandle,
    }

    impl Server {
        pub fn new(mac: [u8; 6], ip: [u8; 4], port: u16) -> Self {
            let mut dev = Dev {
                frames: Rc::new(Vec::new()),
                next: None,
                tx: Vec::new(),
            };
            let cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
            let mut iface = Interface::new(cfg, &mut dev, Instant::from_micros(0));
            iface.update_ip_addrs(|a| {
                a.push(IpCidr::new(IpAddress::v4(ip[0], ip[1], ip[2], ip[3]), 15))
                    .expect("addr");
            });
            let mut sock = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; 1 << 16]),
                tcp::SocketBuffer::new(vec![0; 1024]),
            );
            sock.set_tsval_generator(Some(|| 1));
            sock.listen(port).expect("listen");
            let mut sockets = SocketSet::new(vec![]);
            let h = sockets.add(sock);
            Server {
                iface,
                dev,
                sockets,
                h,
            }
        }

        /// Frame `i` of the device's frames in, then the socket's data out;
        /// returns the bytes read.
        pub fn frame(&mut self, now_us: u64, i: usize) -> usize {
            self.dev.next = Some(i);
            let now = Instant::from_micros(now_us as i64);
            self.iface.poll(now, &mut self.dev, &mut self.sockets);
            let s = self.sockets.get_mut::<tcp::Socket>(self.h);
            let mut n = 0;
            while let Ok(k) = s.recv(|d| (d.len(), std::hint::black_box(d).len())) {
                if k == 0 {
                    break;
                }
                n += k;
            }
            n
        }

        /// The sequence number of the last frame sent.
        pub fn last_seq(&self) -> u32 {
            u32::from_be_bytes(self.dev.tx[38..42].try_into().expect("frame"))
        }

        pub fn established(&mut self) -> bool {
            self.sockets.get_mut::<tcp::Socket>(self.h).state() == tcp::State::Established
        }
    }
}

/// Opens a connection to smoltcp from port 40000: an ARP request first (it
/// learns our MAC from it), the SYN, the ACK. Returns smoltcp's ISS.
fn smol_open(server: &mut smol::Server) -> u32 {
    let mut arp = vec![0u8; wire::ARP_FRAME_LEN];
    wire::emit_arp_frame(
        &mut arp,
        &EthernetRepr {
            src_addr: CLIENT_MAC,
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EtherType::Arp,
        },
        &wire::ArpRepr {
            operation: wire::ArpOperation::Request,
            source_hardware_addr: CLIENT_MAC,
            source_protocol_addr: CLIENT_IP,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: SERVER_IP,
        },
    )
    .expect("arp");
    let syn = frame(&Seg {
        port: 40000,
        seq: CLIENT_ISN,
        ack: None,
        control: TcpControl::Syn,
        options: syn_options(true),
        payload: &[],
    });
    server.dev.frames = Rc::new(vec![arp, syn]);
    server.frame(0, 0);
    server.frame(1, 1);
    let iss = server.last_seq();
    let ack = frame(&Seg {
        port: 40000,
        seq: CLIENT_ISN + 1,
        ack: Some(iss.wrapping_add(1)),
        control: TcpControl::None,
        options: ts_options(1000),
        payload: &[],
    });
    server.dev.frames = Rc::new(vec![ack]);
    server.frame(10, 0);
    assert!(server.established(), "smoltcp did not establish");
    iss
}

/// A whole connection per iteration: SYN, ACK, 100 bytes, FIN, last ACK.
fn connection(c: &mut Criterion) {
    const CONNS: usize = 4096;
    let start_of = |k: usize| 1_000 + k as u64 * 100;
    let port_of = |k: usize| 10_000 + k as u16;
    let payload = [0x5au8; 100];
    // Learn each connection's ISS as the benchmark will meet it.
    let isss: Vec<u32> = {
        let mut s = storage(4, BUF);
        let mut ep = Endpoint::new(config(), s.storage(), KEY).expect("endpoint");
        let mut sink = Sink::default();
        (0..CONNS)
            .map(|k| {
                let syn = frame(&Seg {
                    port: port_of(k),
                    seq: CLIENT_ISN,
                    ack: None,
                    control: TcpControl::Syn,
                    options: syn_options(true),
                    payload: &[],
                });
                ep.handle_frame(at(start_of(k)), &syn, ChecksumPolicy::Verify, &mut sink);
                let iss = sink.last_seq();
                // Leave no connection behind.
                let id = ep.connections().next().expect("conn").0;
                ep.abort(id, at(start_of(k)), &mut sink);
                iss
            })
            .collect()
    };
    let conns: Vec<[Vec<u8>; 5]> = (0..CONNS)
        .map(|k| {
            let port = port_of(k);
            let ack = isss[k].wrapping_add(1);
            let seg = |seq: u32, ack: Option<u32>, control, payload: &[u8], options| {
                frame(&Seg {
                    port,
                    seq,
                    ack,
                    control,
                    options,
                    payload,
                })
            };
            let ts = ts_options(1000);
            [
                seg(CLIENT_ISN, None, TcpControl::Syn, &[], syn_options(true)),
                seg(CLIENT_ISN + 1, Some(ack), TcpControl::None, &[], ts),
                seg(CLIENT_ISN + 1, Some(ack), TcpControl::None, &payload, ts),
                seg(CLIENT_ISN + 101, Some(ack), TcpControl::Fin, &[], ts),
                seg(CLIENT_ISN + 102, Some(ack + 1), TcpControl::None, &[], ts),
            ]
        })
        .collect();
    let mut g = c.benchmark_group("endpoint");
    g.throughput(Throughput::Elements(1));
    g.bench_function("connection", |b| {
        b.iter_custom(|iters| {
            let mut total = StdDuration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(CONNS as u64) as usize;
                let mut s = storage(4, BUF);
                let mut ep = Endpoint::new(config(), s.storage(), KEY).expect("endpoint");
                let mut sink = Sink::default();
                let start = std::time::Instant::now();
                for (k, frames) in conns[..n].iter().enumerate() {
                    let t = start_of(k);
                    for (j, f) in frames.iter().enumerate() {
                        ep.handle_frame(
                            at(t + j as u64 * 10),
                            f,
                            ChecksumPolicy::Verify,
                            &mut sink,
                        );
                    }
                }
                total += start.elapsed();
                let st = ep.stats();
                assert!(ep.is_empty(), "connections left");
                assert_eq!(st.closed_by(tcpcore::CloseReason::Normal), n as u64);
                assert_eq!(sink.bytes, n as u64 * 100);
                left -= n as u64;
            }
            total
        })
    });
    g.finish();
}

/// A pure ACK to a random one of `conns` established connections.
fn lookup_in(c: &mut Criterion, conns: usize) {
    let mut s = storage(conns, SMALL);
    let mut ep = Endpoint::new(config(), s.storage(), KEY).expect("endpoint");
    let mut sink = Sink::default();
    let acks: Vec<Vec<u8>> = (0..conns)
        .map(|k| {
            let port = 20_000 + k as u16;
            let iss = handshake(&mut ep, &mut sink, port, k as u64, false);
            frame(&Seg {
                port,
                seq: CLIENT_ISN + 1,
                ack: Some(iss.wrapping_add(1)),
                control: TcpControl::None,
                options: TcpOptions::default(),
                payload: &[],
            })
        })
        .collect();
    assert_eq!(ep.len(), conns);
    assert_eq!(ep.stats().established, conns as u64);
    // A fixed pseudo-random order (xorshift).
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let order: Vec<usize> = (0..1 << 16)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % conns as u64) as usize
        })
        .collect();
    let now = at(conns as u64 + 1_000);
    let mut g = c.benchmark_group("endpoint/lookup");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function(format!("pure_ack_{conns}_conns"), |b| {
        b.iter(|| {
            let f = &acks[order[i & 0xffff]];
            i = i.wrapping_add(1);
            ep.handle_frame(now, black_box(f), ChecksumPolicy::Verify, &mut sink);
        })
    });
    g.finish();
    // Nothing was dropped: every ACK found its connection.
    let st = ep.stats();
    assert_eq!(st.drops.iter().sum::<u64>(), 0, "drops: {st:?}");
    assert_eq!(ep.len(), conns);
}

fn lookup(c: &mut Criterion) {
    lookup_in(c, 1);
    lookup_in(c, 10_000);
}

criterion_group!(benches, segment, connection, lookup);
criterion_main!(benches);
