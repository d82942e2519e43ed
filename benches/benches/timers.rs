//! The endpoint's timers: a delayed ACK due among 65,536 connections.
//!
//! 65,536 established connections (4-byte receive buffers, no send
//! buffers), each with its delayed ACK armed by a one-byte data segment,
//! the segments 1 µs apart, so the ACKs fall due 1 µs apart. Each measured call is one
//! [`Endpoint::handle_timeout`] at an instant where exactly `K` more of them
//! are due:
//!
//! - `due_1_of_65536`: exactly one delayed ACK due (issue #14 §3, "a delayed
//!   ACK due among 65,536 connections"); time per call;
//! - `due_64_of_65536`, `due_1024_of_65536`: `K` due at once; time per due
//!   timer (throughput in elements = timers fired).
//!
//! The table is built once; when every armed timer has fired, each
//! connection gets one more byte (outside the timing) and the timers are
//! armed again. Every due timer sends exactly one ACK: the count is checked.
//!
//! ```text
//! cargo bench -p benches --bench timers
//! ```

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Duration as StdDuration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tcpcore::conn::Config;
use tcpcore::wire::{
    self, ChecksumPolicy, EtherType, EthernetAddress, EthernetRepr, IpProtocol, Ipv4Repr,
    TcpControl, TcpOptions, TcpRepr,
};
use tcpcore::{
    AppEvent, ConnId, Endpoint, EndpointConfig, FourTuple, Instant, Io, OwnedStorage, SeqNum,
};

const SERVER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
const CLIENT_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 2]);
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const SERVER_PORT: u16 = 3000;
const KEY: [u8; 16] = [7; 16];
const CLIENT_ISN: u32 = 0x1000_0000;
/// Connections in the table.
const CONNS: usize = 1 << 16;
/// The delayed-ACK timeout (the default, 40 ms), in µs.
const DELACK_US: u64 = 40_000;

/// Discards frames (written into one reused buffer) and consumes data.
#[derive(Default)]
struct Sink {
    buf: Vec<u8>,
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
            black_box(d);
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
        reset_other_ports: false,
        max_half_open: 64,
        gateway: None,
        prefix_len: 0,
        conn: Config::default(),
    }
}

fn at(us: u64) -> Instant {
    Instant::from_micros(us)
}

/// Connection `k`'s address and port: 32,768 ports on each of two addresses.
fn peer(k: usize) -> (Ipv4Addr, u16) {
    (
        Ipv4Addr::new(198, 18, 1, 2 + (k >> 15) as u8),
        1024 + (k & 0x7fff) as u16,
    )
}

/// A segment from connection `k`'s peer to the server.
fn frame(k: usize, seq: u32, ack: Option<u32>, control: TcpControl, payload: &[u8]) -> Vec<u8> {
    let (src, port) = peer(k);
    let tcp = TcpRepr {
        src_port: port,
        dst_port: SERVER_PORT,
        seq_number: SeqNum::new(seq),
        ack_number: ack.map(SeqNum::new),
        control,
        push: !payload.is_empty(),
        urgent: None,
        ece: false,
        cwr: false,
        window_len: 502,
        options: if control == TcpControl::Syn {
            TcpOptions {
                mss: Some(1460),
                ..TcpOptions::default()
            }
        } else {
            TcpOptions::default()
        },
        payload,
    };
    let eth = EthernetRepr {
        src_addr: CLIENT_MAC,
        dst_addr: SERVER_MAC,
        ethertype: EtherType::Ipv4,
    };
    let ip = Ipv4Repr {
        src_addr: src,
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

/// The table of established connections and the virtual clock.
struct Table<'s> {
    ep: Endpoint<'s>,
    sink: Sink,
    /// Each connection's server ISS.
    iss: Vec<u32>,
    /// Bytes each connection has received so far (the same for all).
    round: u32,
    /// When connection 0's armed delayed ACK falls due; connection `k`'s is
    /// `k` µs later.
    base: u64,
    /// The next connection whose armed timer has not fired.
    next: usize,
    /// The virtual clock, µs.
    now: u64,
}

impl<'s> Table<'s> {
    fn new(s: &'s mut OwnedStorage) -> Self {
        let mut ep = Endpoint::new(config(), s.storage(), KEY).expect("endpoint");
        let mut sink = Sink::default();
        let mut iss = Vec::with_capacity(CONNS);
        for k in 0..CONNS {
            let t = k as u64;
            let syn = frame(k, CLIENT_ISN, None, TcpControl::Syn, &[]);
            ep.handle_frame(at(t), &syn, ChecksumPolicy::Skip, &mut sink);
            let i = sink.last_seq();
            let ack = frame(
                k,
                CLIENT_ISN + 1,
                Some(i.wrapping_add(1)),
                TcpControl::None,
                &[],
            );
            ep.handle_frame(at(t), &ack, ChecksumPolicy::Skip, &mut sink);
            iss.push(i);
        }
        assert_eq!(ep.len(), CONNS);
        assert_eq!(ep.stats().established, CONNS as u64);
        // The SYN-ACK timers are gone; a wake may still be recorded for
        // them (an early wake is allowed), and one call clears it.
        let now = 2_000_000;
        ep.handle_timeout(at(now), &mut sink);
        assert_eq!(ep.poll_timeout(), None, "a timer after the handshakes");
        let mut t = Table {
            ep,
            sink,
            iss,
            round: 0,
            base: 0,
            next: CONNS,
            now,
        };
        t.arm();
        t
    }

    /// One more byte to every connection, 1 µs apart: each arms its delayed
    /// ACK (one byte is less than two full segments).
    fn arm(&mut self) {
        if self.next < CONNS {
            // Fire the timers a run left behind.
            self.now = self.base + CONNS as u64;
            self.ep.handle_timeout(at(self.now), &mut self.sink);
        }
        assert_eq!(self.ep.poll_timeout(), None, "a timer left before arming");
        let start = self.now + 1;
        let tx = self.ep.stats().tx_frames;
        for k in 0..CONNS {
            let f = frame(
                k,
                CLIENT_ISN + 1 + self.round,
                Some(self.iss[k].wrapping_add(1)),
                TcpControl::None,
                b"x",
            );
            self.ep.handle_frame(
                at(start + k as u64),
                &f,
                ChecksumPolicy::Skip,
                &mut self.sink,
            );
        }
        assert_eq!(
            self.ep.stats().tx_frames,
            tx,
            "an ACK sent before its timer"
        );
        assert_eq!(
            self.ep.stats().bytes_delivered,
            (self.round as u64 + 1) * CONNS as u64
        );
        self.round += 1;
        self.base = start + DELACK_US;
        self.next = 0;
        self.now = start + CONNS as u64;
        assert_eq!(self.ep.poll_timeout(), Some(at(self.base)));
    }

    /// Calls `handle_timeout` `iters` times, each with `due` more delayed
    /// ACKs due; returns the time spent in those calls.
    fn run(&mut self, iters: u64, due: usize) -> StdDuration {
        let mut total = StdDuration::ZERO;
        let mut left = iters;
        while left > 0 {
            if self.next + due > CONNS {
                self.arm();
            }
            let n = left.min(((CONNS - self.next) / due) as u64);
            let tx = self.ep.stats().tx_frames;
            let first = self.base + (self.next + due - 1) as u64;
            let start = std::time::Instant::now();
            for j in 0..n {
                let now = at(first + j * due as u64);
                self.ep.handle_timeout(black_box(now), &mut self.sink);
            }
            total += start.elapsed();
            let fired = n as usize * due;
            assert_eq!(
                self.ep.stats().tx_frames - tx,
                fired as u64,
                "not exactly one ACK per due timer"
            );
            self.next += fired;
            self.now = self.now.max(first + (n - 1) * due as u64);
            left -= n;
        }
        total
    }
}

fn timers(c: &mut Criterion) {
    // 4 bytes of receive buffer each: reading the byte reopens a quarter of
    // the window, no window update is due, and the delayed ACK is armed.
    // With 2 bytes (the least allowed), the update would go out at once.
    let mut s = OwnedStorage::new(CONNS, 4, 0).expect("storage");
    let mut table = Table::new(&mut s);
    let mut g = c.benchmark_group("timers");
    g.sample_size(10)
        .warm_up_time(StdDuration::from_secs(1))
        .measurement_time(StdDuration::from_secs(3));
    for due in [1usize, 64, 1024] {
        g.throughput(Throughput::Elements(due as u64));
        g.bench_function(format!("due_{due}_of_{CONNS}"), |b| {
            b.iter_custom(|iters| table.run(iters, due))
        });
    }
    g.finish();
    assert_eq!(table.ep.len(), CONNS, "a connection was lost");
}

criterion_group!(benches, timers);
criterion_main!(benches);
