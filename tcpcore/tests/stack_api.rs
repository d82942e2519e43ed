//! The pull API's own promises ([`Stack`]): a full staging area loses a
//! frame the way a full NIC queue does (counted, then retransmitted);
//! reading in small pieces reopens the window with a window update; a
//! connection's events come in order; misusing the call order panics
//! nowhere and loses nothing uncounted.

use std::net::{Ipv4Addr, SocketAddrV4};

use tcpcore::stack::OwnedStackStorage;
use tcpcore::wire::{self, ChecksumPolicy, EthernetAddress, Frame};
use tcpcore::{
    CloseReason, ConnId, DropReason, EndpointConfig, Instant, RecvError, SendError, Stack,
    StackEvent, StateName,
};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PORT: u16 = 7;

fn config(last: u8, port: u16) -> EndpointConfig {
    let conn = tcpcore::Config {
        close_on_peer_fin: false,
        ..Default::default()
    };
    EndpointConfig {
        medium: tcpcore::Medium::Ethernet,
        mac: EthernetAddress([2, 0, 0, 0, 0, last]),
        addr: Ipv4Addr::new(10, 0, 0, last),
        addr6: None,
        port,
        answer_arp: true,
        reset_other_ports: true,
        max_half_open: 8,
        gateway: None,
        prefix_len: 24,
        conn,
    }
}

fn stack(last: u8, port: u16, slots: usize, rx: usize, staging: usize) -> Stack<'static> {
    let mem = OwnedStackStorage::new(slots, rx, 1 << 15, staging).unwrap();
    let mem = Box::leak(Box::new(mem));
    Stack::new(config(last, port), mem.storage(), [last; 16]).unwrap()
}

/// A client and a server joined without delay; time moves only when
/// nothing is in flight, to the next deadline.
struct Net {
    c: Stack<'static>,
    s: Stack<'static>,
    now: u64,
    /// Every frame the server sent, in order.
    from_server: Vec<Vec<u8>>,
}

impl Net {
    fn new(c: Stack<'static>, s: Stack<'static>) -> Net {
        Net {
            c,
            s,
            now: 0,
            from_server: Vec::new(),
        }
    }

    fn at(&self) -> Instant {
        Instant::from_micros(self.now)
    }

    /// Frames both ways until none is staged. Returns how many moved.
    fn shuttle(&mut self) -> usize {
        let mut moved = 0;
        loop {
            let up: Vec<Vec<u8>> = drain(&mut self.c);
            let down: Vec<Vec<u8>> = drain(&mut self.s);
            if up.is_empty() && down.is_empty() {
                return moved;
            }
            moved += up.len() + down.len();
            let now = self.at();
            up.iter().for_each(|f| self.s.handle_frame(now, f));
            down.iter().for_each(|f| self.c.handle_frame(now, f));
            self.from_server.extend(down);
        }
    }

    /// Moves time to the next deadline and runs the timers.
    fn tick(&mut self) {
        let next = [self.c.poll_timeout(), self.s.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .expect("a deadline");
        self.now = self.now.max(next.as_micros());
        let now = self.at();
        self.c.handle_timeout(now);
        self.s.handle_timeout(now);
    }

    /// Connects, and returns the client's and the server's ids once both
    /// are established.
    fn establish(&mut self) -> (ConnId, ConnId) {
        let remote = SocketAddrV4::new(SERVER, PORT);
        let id = self.c.connect(0, remote, self.at()).unwrap();
        self.shuttle();
        assert_eq!(self.c.poll_event(), Some(StackEvent::Established(id)));
        let Some(StackEvent::Established(sid)) = self.s.poll_event() else {
            panic!("the server did not accept");
        };
        (id, sid)
    }
}

fn drain(s: &mut Stack<'_>) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| s.poll_transmit().map(|t| t.frame.to_vec())).collect()
}

fn read_all(s: &mut Stack<'_>, id: ConnId, now: Instant) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 700];
    while let Ok(n) = s.recv(id, &mut buf, now) {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// The TCP window and payload length of a frame, if it is TCP.
fn window_and_len(f: &[u8]) -> Option<(u16, usize)> {
    match wire::parse_frame(f, ChecksumPolicy::Verify).ok()? {
        Frame::Tcp { tcp, .. } => Some((tcp.window_len, tcp.payload.len())),
        Frame::Arp { .. } => None,
    }
}

#[test]
fn staging_full_drops_like_a_nic_queue_and_tcp_retransmits() {
    // Room for two full frames only (and the handshake's small ones).
    let mut net = Net::new(
        stack(1, 9, 2, 1 << 16, 2 * 1600),
        stack(2, PORT, 2, 1 << 16, 1 << 16),
    );
    let (id, sid) = net.establish();
    let data: Vec<u8> = (0..12_000u32).map(|i| (i * 7) as u8).collect();
    let n = net.c.send(id, &data, net.at()).unwrap();
    assert_eq!(n, data.len());
    let full = net.c.stats().staging_full;
    assert!(full > 0, "frames beyond two were refused");
    assert_eq!(net.c.endpoint().stats().dropped(DropReason::TxNoRoom), full);
    let mut got = Vec::new();
    for _ in 0..200 {
        net.shuttle();
        let now = net.at();
        got.extend(read_all(&mut net.s, sid, now));
        if got.len() == data.len() {
            break;
        }
        net.tick();
    }
    assert_eq!(
        got, data,
        "everything arrived, the refused frames retransmitted"
    );
    assert!(net.c.endpoint().stats().retransmits > 0);
}

#[test]
fn recv_in_small_pieces_opens_the_window_with_an_update() {
    let rx = 4096;
    let mut net = Net::new(
        stack(1, 9, 2, 1 << 16, 1 << 16),
        stack(2, PORT, 2, rx, 1 << 16),
    );
    let (id, sid) = net.establish();
    let data = vec![0x5a; 3 * rx];
    let taken = net.c.send(id, &data, net.at()).unwrap();
    // Fill the server's buffer without reading (time runs for the delayed
    // ACK and the client's probes).
    for _ in 0..4 {
        net.shuttle();
        net.tick();
    }
    net.shuttle();
    let last = net
        .from_server
        .last()
        .and_then(|f| window_and_len(f))
        .unwrap();
    assert!(
        last.0 < 1460,
        "the window closed while nothing was read: {last:?}"
    );
    assert_eq!(net.s.poll_event(), Some(StackEvent::Readable(sid)));
    // Read in pieces of 100 bytes; after some of them, a pure ACK with a
    // larger window goes out -- not after each (silly window avoidance).
    let mut buf = [0u8; 100];
    let (mut reads, mut updates) = (0, Vec::new());
    while let Ok(n) = net.s.recv(sid, &mut buf, net.at()) {
        assert!(n > 0);
        reads += 1;
        for f in drain(&mut net.s) {
            updates.extend(window_and_len(&f).filter(|w| w.1 == 0));
        }
    }
    assert!(!updates.is_empty(), "no window update after {reads} reads");
    assert!(updates.len() < reads, "an update after every read");
    assert!(
        updates.iter().all(|w| w.0 > last.0),
        "{updates:?} after {last:?}"
    );
    assert!(taken > rx);
}

#[test]
fn events_in_order_established_readable_peer_closed_closed() {
    let mut net = Net::new(
        stack(1, 9, 2, 1 << 16, 1 << 16),
        stack(2, PORT, 2, 1 << 16, 1 << 16),
    );
    let (id, sid) = net.establish();
    assert_eq!(net.c.send(id, b"hello", net.at()), Ok(5));
    net.c.close(id, net.at());
    net.shuttle();
    let mut seen = vec![StackEvent::Established(sid)];
    for _ in 0..10 {
        while let Some(ev) = net.s.poll_event() {
            seen.push(ev);
            let now = net.at();
            match ev {
                StackEvent::Readable(i) => assert_eq!(read_all(&mut net.s, i, now), b"hello"),
                StackEvent::PeerClosed(i) => {
                    assert_eq!(
                        net.s.recv(i, &mut [0; 8], net.at()),
                        Err(RecvError::Finished)
                    );
                    net.s.close(i, net.at());
                }
                _ => {}
            }
        }
        net.shuttle();
    }
    let want = [
        StackEvent::Established(sid),
        StackEvent::Readable(sid),
        StackEvent::PeerClosed(sid),
        StackEvent::Closed(sid, CloseReason::Normal),
    ];
    assert_eq!(seen, want);
    assert_eq!(net.s.state(sid), None);
    assert_eq!(
        net.s.recv(sid, &mut [0; 8], net.at()),
        Err(RecvError::NoConnection)
    );
}

#[test]
fn call_order_misuse_does_not_panic_and_is_counted() {
    // Pulling from a fresh stack, and calls on ids that are not there.
    let mut net = Net::new(stack(1, 9, 1, 4096, 1600), stack(2, PORT, 1, 4096, 1 << 16));
    assert!(net.c.poll_transmit().is_none() && net.c.poll_event().is_none());
    let (id, sid) = net.establish();
    net.c.abort(id, net.at());
    net.shuttle();
    assert_eq!(net.c.send(id, b"x", net.at()), Err(SendError::NoConnection));
    assert_eq!(
        net.c.recv(id, &mut [0; 4], net.at()),
        Err(RecvError::NoConnection)
    );
    net.c.close(id, net.at());
    net.c.abort(id, net.at());
    assert_eq!(
        net.c.poll_event(),
        Some(StackEvent::Closed(id, CloseReason::Aborted))
    );
    // The server never pulls its events: its one slot is reused by a second
    // connection while the first one's Closed waits -- counted, not silent.
    let remote = SocketAddrV4::new(SERVER, PORT);
    let id2 = net.c.connect(0, remote, net.at()).unwrap();
    net.shuttle();
    assert!(net.s.stats().events_overwritten > 0);
    let Some(StackEvent::Established(sid2)) = net.s.poll_event() else {
        panic!("the second connection is reported");
    };
    assert_ne!(sid2, sid);
    // The client never drains its staging area: frames beyond it are
    // refused and counted, timers keep running.
    assert_eq!(net.c.poll_event(), Some(StackEvent::Established(id2)));
    let _ = net.c.send(id2, &[1; 3000], net.at());
    for _ in 0..5 {
        net.now += 1_000_000;
        net.c.handle_timeout(net.at());
    }
    assert!(net.c.stats().staging_full > 0);
    assert_eq!(net.c.recv(id2, &mut [], net.at()), Ok(0));
    assert_eq!(net.c.send(id2, &[], net.at()), Ok(0));
    net.shuttle();
}

/// Many listeners through the pull API (issue #15): a stack with no
/// configured port listens on two ports with accept queues; each
/// connection is reported established and waits in its listener's queue
/// until `accept` takes it, in order; a port nobody listens on is refused
/// (RFC 9293 §3.10.7.1), and after `unlisten` so is the first port.
/// `unlisten` resets the connection its listener had not handed over yet
/// (Linux's `inet_csk_listen_stop`): the client sees the reset, the server
/// an aborted close after the establishment it reported.
#[test]
fn listen_and_accept_through_the_stack() {
    let mut s = stack(2, 0, 8, 1 << 15, 1 << 16);
    let a = s.listen(PORT, 4).unwrap();
    let b = s.listen(PORT + 1, 4).unwrap();
    let mut net = Net::new(stack(1, 0, 8, 1 << 15, 1 << 16), s);
    let mut server_ids = Vec::new();
    for port in [PORT, PORT + 1, PORT] {
        let remote = SocketAddrV4::new(SERVER, port);
        let id = net.c.connect(0, remote, net.at()).unwrap();
        net.shuttle();
        assert_eq!(net.c.poll_event(), Some(StackEvent::Established(id)));
        let Some(StackEvent::Established(sid)) = net.s.poll_event() else {
            panic!("the server did not complete the handshake on port {port}");
        };
        server_ids.push(sid);
    }
    assert_eq!(net.s.accept(a), Some(server_ids[0]));
    assert_eq!(net.s.accept(a), Some(server_ids[2]));
    assert_eq!(net.s.accept(a), None);
    assert_eq!(net.s.accept(b), Some(server_ids[1]));
    // Nobody listens on PORT + 2: the SYN is answered with a reset.
    let refused = net
        .c
        .connect(0, SocketAddrV4::new(SERVER, PORT + 2), net.at())
        .unwrap();
    net.shuttle();
    assert_eq!(
        net.c.poll_event(),
        Some(StackEvent::Closed(refused, CloseReason::Reset))
    );
    let pending = net
        .c
        .connect(0, SocketAddrV4::new(SERVER, PORT), net.at())
        .unwrap();
    net.shuttle();
    assert_eq!(net.c.poll_event(), Some(StackEvent::Established(pending)));
    let Some(StackEvent::Established(server_pending)) = net.s.poll_event() else {
        panic!("the server did not complete the handshake");
    };
    assert!(net.s.unlisten(PORT, net.at()));
    net.shuttle();
    assert_eq!(
        net.c.poll_event(),
        Some(StackEvent::Closed(pending, CloseReason::Reset))
    );
    assert_eq!(
        net.s.poll_event(),
        Some(StackEvent::Closed(server_pending, CloseReason::Aborted))
    );
    assert_eq!(net.s.poll_event(), None, "accepted connections go on");
    for (i, &sid) in server_ids.iter().enumerate() {
        assert_eq!(net.s.state(sid), Some(StateName::Established), "{i}");
    }
    let late = net
        .c
        .connect(0, SocketAddrV4::new(SERVER, PORT), net.at())
        .unwrap();
    net.shuttle();
    assert_eq!(
        net.c.poll_event(),
        Some(StackEvent::Closed(late, CloseReason::Reset))
    );
}
