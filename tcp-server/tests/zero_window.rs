//! The send path against a Linux client that stops reading (RFC 9293
//! §3.8.6.1): in echo mode the client's receive window closes, the server
//! holds its data and probes the zero window with backoff; when the client
//! reads again, everything comes back intact. Needs root.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use common::Harness;

#[test]
fn zero_window_then_resume_nothing_lost() {
    let mut h = Harness::new("zwp", 90);
    let own = h.own_addr();
    let pcap = h.path("zw.pcap");
    h.start(&[
        "-s",
        "--mode",
        "echo",
        "--ip",
        &own.to_string(),
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    let to = SocketAddr::from((own, h.port));
    let data: Vec<u8> = (0..(2u32 << 20))
        .map(|i| (i.wrapping_mul(40503) >> 8) as u8)
        .collect();
    let sent = data.clone();
    let back = h
        .net
        .run_in_b(move || -> std::io::Result<Vec<u8>> {
            let s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
            // A small receive buffer, so that the window closes soon.
            let size: libc::c_int = 16 * 1024;
            // SAFETY: setsockopt on an open socket with a c_int value of the
            // size given.
            let rc = unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVBUF,
                    (&size as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0, "SO_RCVBUF");
            s.set_read_timeout(Some(Duration::from_secs(20)))?;
            s.set_write_timeout(Some(Duration::from_secs(20)))?;
            let mut w = s.try_clone()?;
            let writer = std::thread::spawn(move || -> std::io::Result<()> {
                w.write_all(&data)?;
                w.shutdown(std::net::Shutdown::Write)
            });
            // Read nothing for 3 s: the server meets a zero window.
            std::thread::sleep(Duration::from_secs(3));
            let mut back = Vec::new();
            let mut r = s;
            r.read_to_end(&mut back)?;
            writer.join().expect("writer")?;
            Ok(back)
        })
        .expect("namespace b")
        .expect("client");
    let st = h.wait(30);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert_eq!(back.len(), sent.len(), "{err}");
    assert!(back == sent, "echoed bytes differ");
    // The trace shows the client's zero window, and our probes into it:
    // one-byte segments (RFC 9293 §3.8.6.1), ever further apart (backoff).
    let zero = Harness::output(std::process::Command::new("tshark").args([
        "-r",
        pcap.to_str().unwrap(),
        "-Y",
        "tcp.dstport == 3000 && tcp.analysis.zero_window",
    ]));
    assert!(
        !zero.trim().is_empty(),
        "no zero window from the client in the trace"
    );
    let probes = Harness::output(std::process::Command::new("tshark").args([
        "-r",
        pcap.to_str().unwrap(),
        "-Y",
        "tcp.srcport == 3000 && tcp.len == 1",
        "-T",
        "fields",
        "-e",
        "frame.time_relative",
    ]));
    let times: Vec<f64> = probes
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert!(
        times.len() >= 2,
        "fewer than two zero-window probes: {times:?}"
    );
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.windows(2).all(|g| g[1] > g[0] * 1.5),
        "probe intervals do not back off: {gaps:?}"
    );
}
