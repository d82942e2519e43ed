//! Two tcpcore stacks in memory, no OS: a client and an echo server joined
//! by a simulated link (a queue of frames each way, 1 ms of delay). The
//! client connects, sends a message, reads the echo and closes; the server
//! echoes what it reads and closes when the client has. Everything goes
//! through the pull API ([`tcpcore::Stack`]).
//!
//! `cargo run -p tcpcore --example echo_pair`

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};

use tcpcore::stack::OwnedStackStorage;
use tcpcore::wire::EthernetAddress;
use tcpcore::{ConnId, EndpointConfig, Instant, RecvError, Stack, StackEvent};

const MESSAGE: &[u8] = b"hello from the client, echoed by the server";
const SERVER_PORT: u16 = 7;
/// One way over the link, in microseconds.
const DELAY: u64 = 1_000;

fn config(last: u8, port: u16) -> EndpointConfig {
    // The application decides when to close (not the endpoint, after the
    // peer's FIN).
    let conn = tcpcore::Config {
        close_on_peer_fin: false,
        ..Default::default()
    };
    EndpointConfig {
        medium: tcpcore::Medium::Ethernet,
        mac: EthernetAddress([0x02, 0, 0, 0, 0, last]),
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

/// One direction of the link: frames with the time they arrive.
#[derive(Default)]
struct Link(VecDeque<(u64, Vec<u8>)>);

impl Link {
    /// Everything `from` has staged goes on the link.
    fn carry(&mut self, from: &mut Stack<'_>, now: u64) {
        while let Some(t) = from.poll_transmit() {
            self.0.push_back((now + DELAY, t.frame.to_vec()));
        }
    }

    /// Hands `to` every frame that has arrived by `now`.
    fn deliver(&mut self, to: &mut Stack<'_>, now: u64) {
        while self.0.front().is_some_and(|(at, _)| *at <= now) {
            let (_, frame) = self.0.pop_front().expect("checked");
            to.handle_frame(Instant::from_micros(now), &frame);
        }
    }
}

/// The client's side of the conversation.
#[derive(Default)]
struct Client {
    echoed: Vec<u8>,
    closed: bool,
}

impl Client {
    fn on_event(&mut self, stack: &mut Stack<'_>, ev: StackEvent, now: Instant) {
        match ev {
            StackEvent::Established(id) => {
                println!("client: connected ({:?})", stack.state(id));
                let n = stack.send(id, MESSAGE, now).expect("room for the message");
                println!(
                    "client: sent {n} bytes: {:?}",
                    String::from_utf8_lossy(MESSAGE)
                );
            }
            StackEvent::Readable(id) => {
                read_all(stack, id, now, &mut self.echoed);
                if self.echoed.len() == MESSAGE.len() {
                    println!("client: echo {:?}", String::from_utf8_lossy(&self.echoed));
                    stack.close(id, now);
                }
            }
            StackEvent::PeerClosed(_) => println!("client: the server closed"),
            StackEvent::Closed(_, reason) => {
                println!("client: connection over ({reason:?})");
                self.closed = true;
            }
        }
    }
}

/// The echo server's side (one connection is enough here).
#[derive(Default)]
struct Server {
    pending: Vec<u8>,
    conn: Option<ConnId>,
    peer_closed: bool,
    closed: bool,
}

impl Server {
    fn on_event(&mut self, stack: &mut Stack<'_>, ev: StackEvent, now: Instant) {
        match ev {
            StackEvent::Established(id) => {
                let tuple = stack.endpoint().connections().find(|c| c.0 == id);
                println!("server: accepted {}", tuple.expect("live").1);
                self.conn = Some(id);
            }
            StackEvent::Readable(id) => {
                let n = read_all(stack, id, now, &mut self.pending);
                println!("server: read {n} bytes, echoing");
            }
            StackEvent::PeerClosed(_) => self.peer_closed = true,
            StackEvent::Closed(_, reason) => {
                println!("server: connection over ({reason:?})");
                self.closed = true;
            }
        }
    }

    /// Echoes what is pending; closes once the client has and all is sent.
    fn pump(&mut self, stack: &mut Stack<'_>, now: Instant) {
        let Some(id) = self.conn else { return };
        if let Ok(n) = stack.send(id, &self.pending, now) {
            self.pending.drain(..n);
        }
        if self.peer_closed && self.pending.is_empty() {
            println!("server: the client closed; closing too");
            stack.close(id, now);
            self.conn = None;
        }
    }
}

/// Reads connection `id` until nothing is left; returns how many bytes.
fn read_all(stack: &mut Stack<'_>, id: ConnId, now: Instant, into: &mut Vec<u8>) -> usize {
    let mut buf = [0u8; 512];
    let mut total = 0;
    loop {
        match stack.recv(id, &mut buf, now) {
            Ok(n) => {
                into.extend_from_slice(&buf[..n]);
                total += n;
            }
            Err(RecvError::WouldBlock | RecvError::Finished | RecvError::NoConnection) => {
                return total
            }
        }
    }
}

fn main() {
    let mut client_mem = OwnedStackStorage::new(4, 8192, 8192, 64 * 1024).expect("sizes");
    let mut server_mem = OwnedStackStorage::new(4, 8192, 8192, 64 * 1024).expect("sizes");
    let mut cs = Stack::new(config(1, 9), client_mem.storage(), [1; 16]).expect("storage");
    let mut ss =
        Stack::new(config(2, SERVER_PORT), server_mem.storage(), [2; 16]).expect("storage");
    let (mut up, mut down) = (Link::default(), Link::default());
    let (mut client, mut server) = (Client::default(), Server::default());
    let mut now = 0u64;
    let remote = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), SERVER_PORT);
    cs.connect(0, remote, Instant::from_micros(now))
        .expect("connect");
    while !(client.closed && server.closed) {
        let at = Instant::from_micros(now);
        // Input: frames that have arrived, then timers that are due.
        up.deliver(&mut ss, now);
        down.deliver(&mut cs, now);
        cs.handle_timeout(at);
        ss.handle_timeout(at);
        // Output: frames first, then events (and what they make us do).
        up.carry(&mut cs, now);
        down.carry(&mut ss, now);
        while let Some(ev) = cs.poll_event() {
            client.on_event(&mut cs, ev, at);
        }
        while let Some(ev) = ss.poll_event() {
            server.on_event(&mut ss, ev, at);
        }
        server.pump(&mut ss, at);
        up.carry(&mut cs, now);
        down.carry(&mut ss, now);
        // Sleep until the next frame arrives or a timer is due.
        let next = [up.0.front().map(|f| f.0), down.0.front().map(|f| f.0)]
            .into_iter()
            .chain([cs.poll_timeout(), ss.poll_timeout()].map(|t| t.map(|t| t.as_micros())))
            .flatten()
            .min();
        match next {
            Some(t) => now = now.max(t),
            None if client.closed && server.closed => break,
            None => panic!("stuck at {now} us"),
        }
    }
    assert_eq!(client.echoed, MESSAGE, "the echo is the message");
    println!(
        "done at {:.3} s of simulated time (the client's TIME-WAIT included)",
        now as f64 / 1e6
    );
}
