//! smoltcp's peer in the end-to-end benchmark: smoltcp 0.12 over its own
//! `phy::RawSocket` (AF_PACKET) on a veth, serving an address the kernel
//! does not own (smoltcp's Interface answers ARP for it).
//!
//! `e2e-smoltcp-sink --iface IF --addr IP --port P --mode discard|echo
//!  [--sockets K] [--rx BYTES] [--tx BYTES] [--rcvbuf BYTES] [--ignore-outgoing 0/1]`
//!
//! K TCP sockets listen on the port (a socket that finished a connection
//! listens again), so up to K connections are served at once. discard:
//! reads to the end and closes; echo: sends back what it reads (Nagle off).
//! `--rcvbuf` sets SO_RCVBUF(FORCE) on the AF_PACKET socket (0 = as shipped:
//! the system default, about 90 frames, overflows under a 1 MiB window).
//! Prints `ready` on stderr; on SIGINT/SIGTERM prints its counters.

mod common;

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{Device, Medium, RawSocket};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

fn mac_of(iface: &str) -> Option<[u8; 6]> {
    let s = std::fs::read_to_string(format!("/sys/class/net/{iface}/address")).ok()?;
    let v: Vec<u8> = s
        .trim()
        .split(':')
        .filter_map(|h| u8::from_str_radix(h, 16).ok())
        .collect();
    v.try_into().ok()
}

fn set_rcvbuf(fd: i32, bytes: i32) -> bool {
    // SAFETY: setsockopt with a valid int option value.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &bytes as *const _ as *const libc::c_void,
            4,
        ) == 0
    }
}

fn main() {
    common::install_stop_handler();
    let ifname: String = common::arg("iface", String::new());
    let ip: Ipv4Addr = common::arg("addr", Ipv4Addr::UNSPECIFIED);
    let prefix: u8 = common::arg("prefix", 24);
    let port: u16 = common::arg("port", 5002);
    let mode: String = common::arg("mode", "discard".to_string());
    let nsock: usize = common::arg("sockets", 16);
    let rx: usize = common::arg("rx", 1 << 20);
    let tx: usize = common::arg("tx", 64 << 10);
    let rcvbuf: i32 = common::arg("rcvbuf", 8 << 20);
    let ignore_outgoing: i32 = common::arg("ignore-outgoing", 0);
    let echo = match mode.as_str() {
        "discard" => false,
        "echo" => true,
        _ => {
            eprintln!("smoltcp-sink: --mode discard|echo");
            std::process::exit(2);
        }
    };
    let Some(mac) = mac_of(&ifname) else {
        eprintln!("smoltcp-sink: no interface `{ifname}` (--iface)");
        std::process::exit(2);
    };
    let mut dev = match RawSocket::new(&ifname, Medium::Ethernet) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("smoltcp-sink: RawSocket on {ifname}: {e}");
            std::process::exit(1);
        }
    };
    let fd = dev.as_raw_fd();
    if rcvbuf > 0 && !set_rcvbuf(fd, rcvbuf) {
        eprintln!("smoltcp-sink: warning: SO_RCVBUFFORCE {rcvbuf} failed");
    }
    if ignore_outgoing != 0 {
        // SAFETY: setsockopt with a valid int option value.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                libc::PACKET_IGNORE_OUTGOING,
                &ignore_outgoing as *const _ as *const libc::c_void,
                4,
            );
        }
    }
    let mtu = dev.capabilities().max_transmission_unit;

    let cfg = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    let mut iface = Interface::new(cfg, &mut dev, Instant::now());
    iface.update_ip_addrs(|a| {
        let o = ip.octets();
        let _ = a.push(IpCidr::new(
            IpAddress::Ipv4(Ipv4Address::new(o[0], o[1], o[2], o[3])),
            prefix,
        ));
    });
    let mut sockets = SocketSet::new(vec![]);
    let mut handles: Vec<SocketHandle> = Vec::with_capacity(nsock);
    for _ in 0..nsock {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; rx]),
            tcp::SocketBuffer::new(vec![0; tx]),
        );
        s.set_nagle_enabled(!echo);
        let _ = s.listen(port);
        handles.push(sockets.add(s));
    }
    eprintln!(
        "smoltcp-sink: ready on {ip}:{port} ({ifname}, frame MTU {mtu}), mode {mode}, {nsock} sockets, rx {rx} B, SO_RCVBUF {}",
        if rcvbuf > 0 { rcvbuf.to_string() } else { "default".into() }
    );

    let (mut conns, mut bytes) = (0u64, 0u64);
    let mut was_open = vec![false; nsock];
    let mut buf = vec![0u8; 64 << 10];
    while !common::stopped() {
        let now = Instant::now();
        iface.poll(now, &mut dev, &mut sockets);
        for (i, &h) in handles.iter().enumerate() {
            let s = sockets.get_mut::<tcp::Socket>(h);
            if s.is_active() && !was_open[i] {
                conns += 1;
            }
            was_open[i] = s.is_active();
            if !s.is_open() {
                let _ = s.listen(port);
                continue;
            }
            if echo {
                while s.can_recv() && s.can_send() {
                    let room = s.send_capacity() - s.send_queue();
                    let n = room.min(buf.len());
                    match s.recv_slice(&mut buf[..n]) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => {
                            bytes += k as u64;
                            let _ = s.send_slice(&buf[..k]);
                        }
                    }
                }
            } else {
                while s.can_recv() {
                    match s.recv(|b| (b.len(), b.len())) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => bytes += k as u64,
                    }
                }
            }
            if s.state() == tcp::State::CloseWait && !s.can_recv() && s.send_queue() == 0 {
                s.close();
            }
        }
        // Send what the application step queued right away (egress only:
        // frames taken in here would wait for the next wake-up).
        iface.poll_egress(Instant::now(), &mut dev, &mut sockets);
        let delay = iface
            .poll_delay(Instant::now(), &sockets)
            .unwrap_or(Duration::from_millis(100))
            .min(Duration::from_millis(100));
        let _ = smoltcp::phy::wait(fd, Some(delay));
    }
    eprintln!("smoltcp-sink: {conns} connections, {bytes} bytes");
}
