//! End to end, a closed port of the server's own address (needs root): in
//! own-address mode the server is the address's only TCP, so a connection
//! to any other port must be refused at once with a reset (RFC 9293
//! §3.10.7.1), not left to time out. Subnet 198.18.140.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::Harness;

/// RFC 9293 §3.10.7.1 (CLOSED): "An incoming segment not containing a RST
/// causes a RST to be sent in response." A Linux client connecting to
/// another port of the server's own address gets ConnectionRefused well
/// under a second (the kernel-side filter passes it, the endpoint answers
/// it), and the listening port still serves a session afterwards.
#[test]
fn own_address_closed_port_is_refused() {
    let mut h = Harness::new("clp", 140);
    let own = h.own_addr();
    h.start(&["-s", "--ip", &own.to_string()]);
    for port in [h.port + 1, 22, 65535] {
        let to = SocketAddr::from((own, port));
        let (res, took) = h
            .net
            .run_in_b(move || {
                let t0 = Instant::now();
                let r = TcpStream::connect_timeout(&to, Duration::from_secs(3));
                (r.map(|_| ()), t0.elapsed())
            })
            .expect("run in namespace b");
        let kind = res.as_ref().err().map(|e| e.kind());
        assert_eq!(
            kind,
            Some(std::io::ErrorKind::ConnectionRefused),
            "port {port}: {res:?} after {took:?}; stderr:\n{}",
            h.stderr()
        );
        assert!(
            took < Duration::from_millis(500),
            "port {port}: refused only after {took:?}"
        );
    }
    let back = h.send(own, b"Hello").expect("the listening port works");
    assert!(back.is_empty());
    let st = h.wait(10);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert_eq!(h.stdout(), b"Hello", "stderr:\n{err}");
}
