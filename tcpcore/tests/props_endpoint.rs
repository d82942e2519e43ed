//! Property tests of the endpoint: any sequence of valid and invalid
//! segments never panics and keeps the receive-side invariants:
//! RCV.NXT never goes back, the advertised right edge never moves left
//! (RFC 9293 §3.8.6), and the delivered bytes are a prefix of what the
//! client sent.

mod common;
use common::{default_config, pattern, Harness, OptSpec, Seg};
use proptest::prelude::*;
use tcpcore::SeqNum;

#[derive(Debug, Clone)]
enum Step {
    Segment {
        flags: u8,
        seq_off: i32,
        ack_rel: u32,
        len: u16,
        win: u16,
        tsval: Option<u32>,
        sack: bool,
    },
    Wait(u32),
    Garbage(Vec<u8>),
    Mutate(usize, u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (
            any::<u8>(),
            prop_oneof![-3000i32..70000, -70000i32..-3000, Just(0), Just(65536)],
            prop_oneof![Just(1u32), Just(0), Just(2), any::<u32>()],
            prop_oneof![0u16..1500, 0u16..9000],
            any::<u16>(),
            proptest::option::of(any::<u32>()),
            any::<bool>(),
        )
            .prop_map(|(flags, seq_off, ack_rel, len, win, tsval, sack)| Step::Segment {
                flags,
                seq_off,
                ack_rel,
                len,
                win,
                tsval,
                sack,
            }),
        1 => (0u32..3_000_000).prop_map(Step::Wait),
        1 => proptest::collection::vec(any::<u8>(), 0..120).prop_map(Step::Garbage),
        1 => (0usize..80, any::<u8>()).prop_map(|(i, b)| Step::Mutate(i, b)),
    ]
}

fn flags_str(f: u8) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (0x01, 'F'),
        (0x02, 'S'),
        (0x04, 'R'),
        (0x08, 'P'),
        (0x40, 'E'),
        (0x80, 'W'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    if f & 0x10 != 0 {
        s.push('.');
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_segments_keep_invariants(steps in proptest::collection::vec(step(), 1..60), ts in any::<bool>()) {
        let mut h = Harness::new(default_config());
        let syn = if ts {
            "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>"
        } else {
            "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>"
        };
        h.run(&format!("{syn}\n0.000 > S. 0:0(0) ack 1001\n0.010 < . 1001:1001(0) ack 1 win 502"));
        h.rec.out.clear();
        let id = h.ep.connections().next().map(|(id, _, _)| id).unwrap();
        let mut last_nxt = h.ep.state(id).and_then(|s| s.rcv_nxt()).unwrap();
        let mut last_right = h.ep.state(id).and_then(|s| s.rcv_adv_right()).unwrap();
        let mut last_frame = Vec::new();
        let mut fin_seen = false;
        for st in steps {
            let now = h.rec.now;
            match st {
                Step::Segment { flags, seq_off, ack_rel, len, win, tsval, sack } => {
                    let seq = last_nxt.get().wrapping_add(seq_off as u32);
                    let options = Some(OptSpec {
                        ts: tsval.map(|v| (Some(v), 0)),
                        sack: if sack { vec![(1, 2)] } else { vec![] },
                        ..OptSpec::default()
                    });
                    let seg = Seg { flags: flags_str(flags), seq, len: len as u32, ack: Some(ack_rel).filter(|_| flags & 0x10 != 0), win: Some(win), options, ecn: Some(win as u8 & 3) };
                    let f = h.frame_for(&seg);
                    h.send(&f);
                    last_frame = f;
                }
                Step::Wait(us) => h.advance(now + tcpcore::time::Duration::from_micros(us as u64)),
                Step::Garbage(bytes) => h.send(&bytes),
                Step::Mutate(i, b) => {
                    if !last_frame.is_empty() {
                        let mut f = last_frame.clone();
                        let i = i % f.len();
                        f[i] ^= b;
                        h.send(&f);
                    }
                }
            }
            h.rec.out.clear();
            // Delivered bytes are exactly the client's stream, from its start.
            for (i, b) in h.rec.data.iter().enumerate() {
                prop_assert_eq!(*b, pattern(1001 + i as u32), "byte {}", i);
            }
            let Some(state) = h.ep.state(id) else { break };
            if let Some(nxt) = state.rcv_nxt() {
                prop_assert!(nxt.after_eq(last_nxt), "RCV.NXT went back: {:?} -> {:?}", last_nxt, nxt);
                // Everything before RCV.NXT was delivered (plus the FIN).
                let fin = u32::from(h.rec.peer_closed > 0);
                fin_seen |= fin > 0;
                prop_assert_eq!(nxt - SeqNum::new(1001), h.rec.data.len() as u32 + fin);
                last_nxt = nxt;
            }
            if let Some(right) = state.rcv_adv_right() {
                prop_assert!(right.after_eq(last_right), "right edge moved left: {:?} -> {:?}", last_right, right);
                last_right = right;
            }
        }
        let _ = fin_seen;
    }

    /// Garbage frames never panic and are counted as dropped.
    #[test]
    fn garbage_is_counted(frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..50)) {
        let mut h = Harness::new(default_config());
        for f in &frames {
            h.send(f);
        }
        let s = h.ep.stats();
        let dropped: u64 = s.drops.iter().sum();
        prop_assert_eq!(s.rx_frames, frames.len() as u64);
        // Every frame either was dropped with a reason or was answered.
        prop_assert!(dropped + s.tx_frames >= frames.len() as u64 - h.ep.len() as u64);
    }
}
