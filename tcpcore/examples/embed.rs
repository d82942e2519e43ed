//! A minimal embedding of [`tcpcore::Stack`] over any frame transport: the
//! canonical poll loop ([`turn`]) written once against a two-method trait
//! ([`FrameTransport`]), and an in-memory loopback transport to run it on
//! (two ends of a pipe). A real embedding implements the trait over its
//! NIC, TAP device or raw socket, and keeps the loop as it is.
//!
//! Here an echo server and a client run on the two ends, in one thread,
//! on the real clock: the client sends a few lines, reads them back and
//! closes; the server closes when the client has.
//!
//! `cargo run -p tcpcore --example embed`

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::rc::Rc;

use tcpcore::stack::OwnedStackStorage;
use tcpcore::wire::EthernetAddress;
use tcpcore::{ConnId, EndpointConfig, Instant, Stack, StackEvent};

/// Whatever moves whole Ethernet frames.
pub trait FrameTransport {
    /// Sends one frame (dropping it when the transport is full is fine:
    /// TCP retransmits).
    fn send_frame(&mut self, frame: &[u8]);
    /// One received frame copied into `buf`, with its length; `None` when
    /// none waits.
    fn recv_frame(&mut self, buf: &mut [u8]) -> Option<usize>;
}

/// What the application does with its events.
pub trait App {
    /// One event, with the stack to act on.
    fn on_event(&mut self, stack: &mut Stack<'_>, ev: StackEvent, now: Instant);
    /// After the events of a turn: write what is pending.
    fn poll(&mut self, _stack: &mut Stack<'_>, _now: Instant) {}
}

/// Every staged frame onto the transport.
fn flush<T: FrameTransport>(stack: &mut Stack<'_>, link: &mut T) {
    while let Some(t) = stack.poll_transmit() {
        link.send_frame(t.frame);
    }
}

/// One turn of the canonical loop: input (frames, then due timers),
/// output (frames), events to the application, and what it staged. The
/// caller then sleeps until a frame arrives or `stack.poll_timeout()`.
pub fn turn<T: FrameTransport, A: App>(
    stack: &mut Stack<'_>,
    link: &mut T,
    app: &mut A,
    now: Instant,
) {
    let mut buf = [0u8; 2048];
    while let Some(n) = link.recv_frame(&mut buf) {
        stack.handle_frame(now, &buf[..n]);
        flush(stack, link);
    }
    if stack.poll_timeout().is_some_and(|t| t <= now) {
        stack.handle_timeout(now);
    }
    flush(stack, link);
    while let Some(ev) = stack.poll_event() {
        app.on_event(stack, ev, now);
    }
    app.poll(stack, now);
    flush(stack, link);
}

type Queue = Rc<RefCell<VecDeque<Vec<u8>>>>;

/// One end of an in-memory pipe of frames.
struct Loopback {
    tx: Queue,
    rx: Queue,
}

/// Two ends joined to each other.
fn loopback() -> (Loopback, Loopback) {
    let (a, b) = (Queue::default(), Queue::default());
    let one = Loopback {
        tx: a.clone(),
        rx: b.clone(),
    };
    (one, Loopback { tx: b, rx: a })
}

impl FrameTransport for Loopback {
    fn send_frame(&mut self, frame: &[u8]) {
        self.tx.borrow_mut().push_back(frame.to_vec());
    }

    fn recv_frame(&mut self, buf: &mut [u8]) -> Option<usize> {
        let frame = self.rx.borrow_mut().pop_front()?;
        let n = frame.len().min(buf.len());
        buf[..n].copy_from_slice(&frame[..n]);
        Some(n)
    }
}

/// RFC 862 echo, one connection at a time.
#[derive(Default)]
struct Echo {
    conn: Option<ConnId>,
    pending: Vec<u8>,
    peer_closed: bool,
    done: bool,
}

impl App for Echo {
    fn on_event(&mut self, stack: &mut Stack<'_>, ev: StackEvent, now: Instant) {
        match ev {
            StackEvent::Established(id) => self.conn = Some(id),
            StackEvent::Readable(id) => {
                let mut buf = [0u8; 256];
                while let Ok(n) = stack.recv(id, &mut buf, now) {
                    self.pending.extend_from_slice(&buf[..n]);
                }
            }
            StackEvent::PeerClosed(_) => self.peer_closed = true,
            StackEvent::Closed(_, reason) => {
                println!("server: closed ({reason:?})");
                self.done = true;
            }
        }
    }

    fn poll(&mut self, stack: &mut Stack<'_>, now: Instant) {
        let Some(id) = self.conn else { return };
        if let Ok(n) = stack.send(id, &self.pending, now) {
            self.pending.drain(..n);
        }
        if self.peer_closed && self.pending.is_empty() {
            stack.close(id, now);
            self.conn = None;
        }
    }
}

const LINES: [&str; 3] = ["one\n", "two\n", "three\n"];

/// Sends [`LINES`], reads them back, closes.
#[derive(Default)]
struct Client {
    got: Vec<u8>,
    closing: bool,
}

impl App for Client {
    fn on_event(&mut self, stack: &mut Stack<'_>, ev: StackEvent, now: Instant) {
        match ev {
            StackEvent::Established(id) => {
                for line in LINES {
                    let n = stack.send(id, line.as_bytes(), now).expect("room");
                    assert_eq!(n, line.len());
                }
            }
            StackEvent::Readable(id) => {
                let mut buf = [0u8; 256];
                while let Ok(n) = stack.recv(id, &mut buf, now) {
                    println!("client: read {:?}", String::from_utf8_lossy(&buf[..n]));
                    self.got.extend_from_slice(&buf[..n]);
                }
                if self.got.len() == LINES.concat().len() && !self.closing {
                    self.closing = true;
                    stack.close(id, now);
                }
            }
            StackEvent::PeerClosed(_) => println!("client: the server closed"),
            StackEvent::Closed(_, reason) => println!("client: closed ({reason:?})"),
        }
    }
}

fn config(last: u8, port: u16) -> EndpointConfig {
    let conn = tcpcore::Config {
        close_on_peer_fin: false,
        ..Default::default()
    };
    EndpointConfig {
        medium: tcpcore::Medium::Ethernet,
        mac: EthernetAddress([0x02, 0, 0, 0, 0, last]),
        addr: Ipv4Addr::new(192, 168, 7, last),
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

fn main() {
    let (mut a, mut b) = (
        OwnedStackStorage::new(4, 4096, 4096, 32 * 1024).expect("sizes"),
        OwnedStackStorage::new(4, 4096, 4096, 32 * 1024).expect("sizes"),
    );
    let mut server = Stack::new(config(1, 7), a.storage(), [7; 16]).expect("storage");
    let mut client = Stack::new(config(2, 9), b.storage(), [8; 16]).expect("storage");
    let (mut server_link, mut client_link) = loopback();
    let (mut echo, mut app) = (Echo::default(), Client::default());
    let start = std::time::Instant::now();
    let clock = || Instant::from_micros(start.elapsed().as_micros() as u64);
    let remote = SocketAddrV4::new(Ipv4Addr::new(192, 168, 7, 1), 7);
    client.connect(0, remote, clock()).expect("connect");
    flush(&mut client, &mut client_link);
    // Until the server's side is closed (the client then waits in
    // TIME-WAIT, which this example does not sit through).
    while !echo.done {
        assert!(start.elapsed().as_secs() < 10, "stuck");
        turn(&mut server, &mut server_link, &mut echo, clock());
        turn(&mut client, &mut client_link, &mut app, clock());
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
    assert_eq!(app.got, LINES.concat().as_bytes());
    println!(
        "client: {:?}",
        client.state(client.endpoint().connections().next().expect("one").0)
    );
}
