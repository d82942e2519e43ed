//! Classic BPF programs run by the kernel on every frame, before it is copied
//! into our ring: what we do not want never reaches user space.

use std::net::{Ipv4Addr, Ipv6Addr};

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

mod op {
    pub const LD_W_ABS: u16 = 0x20;
    pub const LD_H_ABS: u16 = 0x28;
    pub const LD_B_ABS: u16 = 0x30;
    pub const LD_H_IND: u16 = 0x48;
    pub const LD_B_IND: u16 = 0x50;
    pub const LDX_B_MSH: u16 = 0xb1;
    pub const JEQ_K: u16 = 0x15;
    pub const JSET_K: u16 = 0x45;
    pub const RET_K: u16 = 0x06;
}

/// `SKF_AD_OFF + SKF_AD_PKTTYPE`: load the packet's `pkt_type`.
const AD_PKTTYPE: u32 = 0xffff_f000 + 4;
/// `SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT`: 1 when the frame carried an
/// 802.1Q tag (the kernel moves the tag out of the frame before filters and
/// the ring see it, so it cannot be checked in the bytes).
const AD_VLAN_TAG_PRESENT: u32 = 0xffff_f000 + 48;
/// `PACKET_OUTGOING`.
const PACKET_OUTGOING: u32 = 4;
/// Snap length returned on accept: the whole frame, however large (GRO).
const ACCEPT_ALL: u32 = u32::MAX;

#[derive(Clone, Copy)]
enum To {
    Next,
    Accept,
    Drop,
    /// Jump over this many instructions after the next.
    Skip(u8),
}

/// A tiny assembler whose jumps go to the next instruction or to the shared
/// accept / drop returns at the end.
struct Asm(Vec<(u16, u32, To, To)>);

impl Asm {
    fn op(&mut self, code: u16, k: u32) -> &mut Self {
        self.0.push((code, k, To::Next, To::Next));
        self
    }
    fn jump(&mut self, code: u16, k: u32, jt: To, jf: To) -> &mut Self {
        self.0.push((code, k, jt, jf));
        self
    }
    fn extend(&mut self, other: &Asm) -> &mut Self {
        self.0.extend_from_slice(&other.0);
        self
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn finish(&self) -> Vec<Insn> {
        let accept = self.0.len();
        let drop = accept + 1;
        let rel = |i: usize, to: To| -> u8 {
            let target = match to {
                To::Next => return 0,
                To::Skip(n) => return n,
                To::Accept => accept,
                To::Drop => drop,
            };
            // Programs here are a few dozen instructions: always fits.
            u8::try_from(target - i - 1).unwrap_or(u8::MAX)
        };
        let mut out: Vec<Insn> = self
            .0
            .iter()
            .enumerate()
            .map(|(i, &(code, k, jt, jf))| Insn {
                code,
                jt: rel(i, jt),
                jf: rel(i, jf),
                k,
            })
            .collect();
        out.push(Insn {
            code: op::RET_K,
            jt: 0,
            jf: 0,
            k: ACCEPT_ALL,
        });
        out.push(Insn {
            code: op::RET_K,
            jt: 0,
            jf: 0,
            k: 0,
        });
        out
    }
}

/// Accepts IPv4 TCP to `addr:port` (unfragmented, untagged), or to every
/// port of `addr` when `port` is `None`, ICMP to `addr` (echo requests,
/// and the errors that quote our segments: "fragmentation needed" lowers a
/// connection's MSS), and ARP if `arp`. VLAN-tagged frames are dropped:
/// the server does not do VLANs. An unspecified `addr` (0.0.0.0) lets no
/// IPv4 through at all (an IPv6-only server).
///
/// With `addr6`, IPv6 (EtherType 0x86DD) to it passes as well: TCP (next
/// header 6 right after the fixed header) to `addr6:port` or every port,
/// packets to `addr6` whose first header is an extension header (hop-by-hop,
/// routing, destination options: the endpoint walks them and decides), and
/// ICMPv6 to `addr6`, to its solicited-node multicast group
/// `ff02::1:ffXX:XXXX` (neighbor solicitations, RFC 4861) or to all-nodes
/// `ff02::1` (advertisements, which answer duplicate address detection).
///
/// Every port is for own-address mode, where the server is the address's
/// only TCP and must answer the other ports with a reset itself (RFC 9293
/// §3.10.7.1); in shared-address mode the kernel answers them.
pub fn tcp_to(addr: Ipv4Addr, addr6: Option<Ipv6Addr>, port: Option<u16>, arp: bool) -> Vec<Insn> {
    let mut a = Asm(Vec::new());
    a.op(op::LD_W_ABS, AD_VLAN_TAG_PRESENT)
        .jump(op::JEQ_K, 0, To::Next, To::Drop)
        .op(op::LD_H_ABS, 12)
        .jump(
            op::JEQ_K,
            0x0806,
            if arp { To::Accept } else { To::Drop },
            To::Next,
        );
    if let Some(addr6) = addr6 {
        let v6 = ipv6_part(addr6, port);
        let skip = u8::try_from(v6.len()).unwrap_or(u8::MAX);
        a.jump(op::JEQ_K, 0x86dd, To::Next, To::Skip(skip))
            .extend(&v6);
    }
    if addr.is_unspecified() {
        return a.jump(op::JEQ_K, 0, To::Drop, To::Drop).finish();
    }
    a.jump(op::JEQ_K, 0x0800, To::Next, To::Drop)
        .op(op::LD_W_ABS, 30) // IPv4 destination
        .jump(op::JEQ_K, u32::from(addr), To::Next, To::Drop)
        .op(op::LD_B_ABS, 23) // protocol
        .jump(op::JEQ_K, 1, To::Accept, To::Next) // ICMP
        .jump(op::JEQ_K, 6, To::Next, To::Drop)
        .op(op::LD_H_ABS, 20); // MF flag and fragment offset
    match port {
        Some(port) => {
            a.jump(op::JSET_K, 0x3fff, To::Drop, To::Next)
                .op(op::LDX_B_MSH, 14) // X = IPv4 header length
                .op(op::LD_H_IND, 14 + 2) // TCP destination port
                .jump(op::JEQ_K, u32::from(port), To::Accept, To::Drop);
        }
        None => {
            a.jump(op::JSET_K, 0x3fff, To::Drop, To::Accept);
        }
    }
    a.finish()
}

/// The IPv6 half of [`tcp_to`]: entered with an IPv6 frame, it ends in
/// accept or drop.
fn ipv6_part(addr6: Ipv6Addr, port: Option<u16>) -> Asm {
    // The Ethernet header (14) then the IPv6 header: next header at 6,
    // destination at 24..40.
    const NH: u32 = 14 + 6;
    const DST: u32 = 14 + 24;
    let o = addr6.octets();
    let w = |i: usize| u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]]);
    // ICMPv6: to our address, or to our solicited-node group
    // ff02::1:ffXX:XXXX.
    let mut icmp = Asm(Vec::new());
    icmp.op(op::LD_W_ABS, DST)
        .jump(op::JEQ_K, 0xff02_0000, To::Skip(7), To::Next)
        .jump(op::JEQ_K, w(0), To::Next, To::Drop)
        .op(op::LD_W_ABS, DST + 4)
        .jump(op::JEQ_K, w(1), To::Next, To::Drop)
        .op(op::LD_W_ABS, DST + 8)
        .jump(op::JEQ_K, w(2), To::Next, To::Drop)
        .op(op::LD_W_ABS, DST + 12)
        .jump(op::JEQ_K, w(3), To::Accept, To::Drop)
        // The groups: all-nodes ff02::1 (advertisements answering our
        // duplicate address detection), or our solicited-node group
        // ff02:0:0:0:0:1:ffXX:XXXX.
        .op(op::LD_W_ABS, DST + 4)
        .jump(op::JEQ_K, 0, To::Next, To::Drop)
        .op(op::LD_W_ABS, DST + 8)
        .jump(op::JEQ_K, 0, To::Next, To::Skip(2))
        .op(op::LD_W_ABS, DST + 12)
        .jump(op::JEQ_K, 1, To::Accept, To::Drop)
        .jump(op::JEQ_K, 1, To::Next, To::Drop)
        .op(op::LD_W_ABS, DST + 12)
        .jump(
            op::JEQ_K,
            0xff00_0000 | (w(3) & 0x00ff_ffff),
            To::Accept,
            To::Drop,
        );
    let mut a = Asm(Vec::new());
    let skip = u8::try_from(icmp.len()).unwrap_or(u8::MAX);
    a.op(op::LD_B_ABS, NH)
        .jump(op::JEQ_K, 58, To::Next, To::Skip(skip))
        .extend(&icmp);
    // Anything else: to our address only.
    for i in 0..4u32 {
        a.op(op::LD_W_ABS, DST + 4 * i)
            .jump(op::JEQ_K, w(i as usize), To::Next, To::Drop);
    }
    a.op(op::LD_B_ABS, NH)
        .jump(op::JEQ_K, 0, To::Accept, To::Next) // hop-by-hop options
        .jump(op::JEQ_K, 43, To::Accept, To::Next) // routing
        .jump(op::JEQ_K, 60, To::Accept, To::Next) // destination options
        .jump(op::JEQ_K, 6, To::Next, To::Drop);
    match port {
        Some(port) => {
            a.op(op::LD_H_ABS, 14 + 40 + 2) // TCP destination port
                .jump(op::JEQ_K, u32::from(port), To::Accept, To::Drop);
        }
        None => {
            a.jump(op::JEQ_K, 0, To::Accept, To::Accept);
        }
    }
    a
}

/// Accepts outgoing (`PACKET_OUTGOING`) TCP frames with the RST flag from
/// port `port` of `addr` (IPv4, unfragmented) or of `addr6` (IPv6, TCP right
/// after the fixed header: the kernel's RSTs carry no extension header).
pub fn outgoing_rst_from(addr: Option<Ipv4Addr>, addr6: Option<Ipv6Addr>, port: u16) -> Vec<Insn> {
    let mut a = Asm(Vec::new());
    a.op(op::LD_W_ABS, AD_PKTTYPE)
        .jump(op::JEQ_K, PACKET_OUTGOING, To::Next, To::Drop)
        .op(op::LD_H_ABS, 12);
    if let Some(addr6) = addr6 {
        // The Ethernet header (14), then IPv6: next header at 6, source at
        // 8..24; TCP at 54.
        let o = addr6.octets();
        let w = |i: usize| u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]]);
        let mut v6 = Asm(Vec::new());
        for i in 0..4 {
            v6.op(op::LD_W_ABS, 14 + 8 + 4 * i as u32)
                .jump(op::JEQ_K, w(i), To::Next, To::Drop);
        }
        v6.op(op::LD_B_ABS, 14 + 6)
            .jump(op::JEQ_K, 6, To::Next, To::Drop)
            .op(op::LD_H_ABS, 14 + 40) // TCP source port
            .jump(op::JEQ_K, u32::from(port), To::Next, To::Drop)
            .op(op::LD_B_ABS, 14 + 40 + 13) // TCP flags
            .jump(op::JSET_K, 0x04, To::Accept, To::Drop);
        let skip = u8::try_from(v6.len()).unwrap_or(u8::MAX);
        a.jump(op::JEQ_K, 0x86dd, To::Next, To::Skip(skip))
            .extend(&v6);
    }
    let Some(addr) = addr else {
        return a.jump(op::JEQ_K, 0, To::Drop, To::Drop).finish();
    };
    a.jump(op::JEQ_K, 0x0800, To::Next, To::Drop)
        .op(op::LD_W_ABS, 26) // IPv4 source
        .jump(op::JEQ_K, u32::from(addr), To::Next, To::Drop)
        .op(op::LD_B_ABS, 23)
        .jump(op::JEQ_K, 6, To::Next, To::Drop)
        .op(op::LD_H_ABS, 20)
        .jump(op::JSET_K, 0x1fff, To::Drop, To::Next)
        .op(op::LDX_B_MSH, 14)
        .op(op::LD_H_IND, 14) // TCP source port
        .jump(op::JEQ_K, u32::from(port), To::Next, To::Drop)
        .op(op::LD_B_IND, 14 + 13) // TCP flags
        .jump(op::JSET_K, 0x04, To::Accept, To::Drop);
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reference interpreter for the opcodes used above; `None` where the
    /// kernel would abort the program (out-of-bounds load), which drops.
    fn run(prog: &[Insn], pkt: &[u8], pkttype: u32) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let ld = |off: usize, n: usize| -> Option<u32> {
            let b = pkt.get(off..off.checked_add(n)?)?;
            Some(b.iter().fold(0u32, |acc, &v| (acc << 8) | u32::from(v)))
        };
        for _ in 0..1000 {
            let Some(i) = prog.get(pc) else { return 0 };
            pc += 1;
            let k = i.k as usize;
            let r = match i.code {
                op::LD_W_ABS if i.k == AD_PKTTYPE => Some(pkttype),
                // The test frames carry no VLAN tag.
                op::LD_W_ABS if i.k == AD_VLAN_TAG_PRESENT => Some(0),
                op::LD_W_ABS => ld(k, 4),
                op::LD_H_ABS => ld(k, 2),
                op::LD_B_ABS => ld(k, 1),
                op::LD_H_IND => ld(x as usize + k, 2),
                op::LD_B_IND => ld(x as usize + k, 1),
                op::LDX_B_MSH => {
                    match ld(k, 1) {
                        Some(v) => x = 4 * (v & 0xf),
                        None => return 0,
                    }
                    continue;
                }
                op::JEQ_K | op::JSET_K => {
                    let t = if i.code == op::JEQ_K {
                        a == i.k
                    } else {
                        a & i.k != 0
                    };
                    pc += usize::from(if t { i.jt } else { i.jf });
                    continue;
                }
                op::RET_K => return i.k,
                _ => panic!("opcode {:#x} not modelled", i.code),
            };
            match r {
                Some(v) => a = v,
                None => return 0,
            }
        }
        panic!("no return")
    }

    fn tcp_frame(
        dst: [u8; 4],
        src: [u8; 4],
        ihl: u8,
        proto: u8,
        sport: u16,
        dport: u16,
    ) -> Vec<u8> {
        let mut f = vec![0u8; 14 + usize::from(ihl) * 4 + 20];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x40 | ihl;
        f[14 + 9] = proto;
        f[14 + 12..14 + 16].copy_from_slice(&src);
        f[14 + 16..14 + 20].copy_from_slice(&dst);
        let t = 14 + usize::from(ihl) * 4;
        f[t..t + 2].copy_from_slice(&sport.to_be_bytes());
        f[t + 2..t + 4].copy_from_slice(&dport.to_be_bytes());
        f
    }

    #[test]
    fn tcp_filter_passes_only_our_port_and_arp() {
        let us = [198, 18, 1, 1];
        let p = tcp_to(Ipv4Addr::from(us), None, Some(8080), true);
        assert_ne!(run(&p, &tcp_frame(us, [1; 4], 5, 6, 1, 8080), 0), 0);
        // IPv4 options: the port moves, the filter follows the IHL.
        assert_ne!(run(&p, &tcp_frame(us, [1; 4], 7, 6, 1, 8080), 0), 0);
        let mut opt = tcp_frame(us, [1; 4], 7, 6, 8080, 1);
        assert_eq!(run(&p, &opt, 0), 0);
        opt[14 + 20..14 + 22].copy_from_slice(&8080u16.to_be_bytes());
        assert_eq!(
            run(&p, &opt, 0),
            0,
            "port at the IHL=5 place must not count"
        );
        assert_eq!(run(&p, &tcp_frame(us, [1; 4], 5, 6, 1, 8081), 0), 0);
        assert_eq!(run(&p, &tcp_frame(us, [1; 4], 5, 17, 1, 8080), 0), 0);
        assert_eq!(
            run(&p, &tcp_frame([198, 18, 1, 2], [1; 4], 5, 6, 1, 8080), 0),
            0
        );
        let mut frag = tcp_frame(us, [1; 4], 5, 6, 1, 8080);
        frag[14 + 6] = 0x20; // MF
        assert_eq!(run(&p, &frag, 0), 0);
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_ne!(run(&p, &arp, 0), 0);
        assert_eq!(
            run(
                &tcp_to(Ipv4Addr::from(us), None, Some(8080), false),
                &arp,
                0
            ),
            0
        );
        assert_eq!(run(&p, &[0u8; 10], 0), 0, "short frame");
        // ICMP to our address (echo, fragmentation needed), not to others.
        assert_ne!(run(&p, &tcp_frame(us, [1; 4], 5, 1, 0, 0), 0), 0);
        assert_eq!(
            run(&p, &tcp_frame([198, 18, 1, 2], [1; 4], 5, 1, 0, 0), 0),
            0
        );
    }

    /// Own-address mode: TCP to every port of our address passes (the
    /// endpoint answers closed ports with RFC 9293 §3.10.7.1's reset);
    /// other addresses, other protocols and fragments still do not.
    #[test]
    fn tcp_filter_for_every_port_passes_all_tcp_to_our_address() {
        let us = [198, 18, 1, 1];
        let p = tcp_to(Ipv4Addr::from(us), None, None, true);
        for port in [8080, 8081, 1, 65535] {
            assert_ne!(run(&p, &tcp_frame(us, [1; 4], 5, 6, 1, port), 0), 0);
        }
        assert_ne!(run(&p, &tcp_frame(us, [1; 4], 7, 6, 1, 22), 0), 0);
        assert_eq!(run(&p, &tcp_frame(us, [1; 4], 5, 17, 1, 8080), 0), 0);
        assert_eq!(
            run(&p, &tcp_frame([198, 18, 1, 2], [1; 4], 5, 6, 1, 8080), 0),
            0
        );
        let mut frag = tcp_frame(us, [1; 4], 5, 6, 1, 8081);
        frag[14 + 6] = 0x20; // MF
        assert_eq!(run(&p, &frag, 0), 0);
        frag[14 + 6] = 0x00;
        frag[14 + 7] = 0x08; // offset 8
        assert_eq!(run(&p, &frag, 0), 0);
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_ne!(run(&p, &arp, 0), 0);
        assert_eq!(run(&p, &[0u8; 10], 0), 0, "short frame");
    }

    fn ipv6_frame(dst: Ipv6Addr, nh: u8, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 40 + 20];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f[14] = 0x60;
        f[14 + 6] = nh;
        f[14 + 8..14 + 24].copy_from_slice(&"2001:2::99".parse::<Ipv6Addr>().unwrap().octets());
        f[14 + 24..14 + 40].copy_from_slice(&dst.octets());
        f[14 + 40 + 2..14 + 40 + 4].copy_from_slice(&dport.to_be_bytes());
        f
    }

    /// IPv6: TCP to our address and port, packets to it that start with an
    /// extension header, ICMPv6 to it, its solicited-node group or
    /// all-nodes; not
    /// other addresses, ports, protocols, groups; IPv4 as before.
    #[test]
    fn tcp_filter_with_ipv6_passes_tcp_icmpv6_and_ndp() {
        let us6: Ipv6Addr = "2001:2:0:1::10".parse().unwrap();
        let other: Ipv6Addr = "2001:2:0:1::11".parse().unwrap();
        let group: Ipv6Addr = "ff02::1:ff00:10".parse().unwrap();
        let us = [198, 18, 1, 1];
        let p = tcp_to(Ipv4Addr::from(us), Some(us6), Some(3000), true);
        assert_ne!(run(&p, &ipv6_frame(us6, 6, 3000), 0), 0);
        assert_eq!(run(&p, &ipv6_frame(us6, 6, 3001), 0), 0);
        assert_eq!(run(&p, &ipv6_frame(other, 6, 3000), 0), 0);
        assert_eq!(run(&p, &ipv6_frame(us6, 17, 3000), 0), 0);
        assert_eq!(run(&p, &ipv6_frame(us6, 44, 3000), 0), 0, "fragment");
        for nh in [0, 43, 60] {
            assert_ne!(run(&p, &ipv6_frame(us6, nh, 1), 0), 0, "extension {nh}");
            assert_eq!(run(&p, &ipv6_frame(other, nh, 1), 0), 0);
        }
        assert_ne!(run(&p, &ipv6_frame(us6, 58, 0), 0), 0, "ICMPv6 to us");
        assert_ne!(run(&p, &ipv6_frame(group, 58, 0), 0), 0, "NDP to our group");
        assert_eq!(run(&p, &ipv6_frame(other, 58, 0), 0), 0);
        let other_group: Ipv6Addr = "ff02::1:ff00:11".parse().unwrap();
        assert_eq!(run(&p, &ipv6_frame(other_group, 58, 0), 0), 0);
        // All-nodes: advertisements answering duplicate address detection.
        let all_nodes: Ipv6Addr = "ff02::1".parse().unwrap();
        assert_ne!(run(&p, &ipv6_frame(all_nodes, 58, 0), 0), 0);
        assert_eq!(run(&p, &ipv6_frame(all_nodes, 6, 3000), 0), 0);
        let all_routers: Ipv6Addr = "ff02::2".parse().unwrap();
        assert_eq!(run(&p, &ipv6_frame(all_routers, 58, 0), 0), 0);
        let odd: Ipv6Addr = "ff02::1:1".parse().unwrap();
        assert_eq!(run(&p, &ipv6_frame(odd, 58, 0), 0), 0);
        assert_eq!(
            run(&p, &ipv6_frame(group, 6, 3000), 0),
            0,
            "TCP to the group"
        );
        assert_eq!(run(&p, &ipv6_frame(us6, 6, 3000)[..40], 0), 0, "short");
        // IPv4 still passes as before.
        assert_ne!(run(&p, &tcp_frame(us, [1; 4], 5, 6, 1, 3000), 0), 0);
        assert_eq!(run(&p, &tcp_frame(us, [1; 4], 5, 6, 1, 3001), 0), 0);
        // Every port.
        let all = tcp_to(Ipv4Addr::from(us), Some(us6), None, true);
        for port in [1, 3000, 65535] {
            assert_ne!(run(&all, &ipv6_frame(us6, 6, port), 0), 0);
        }
        assert_eq!(run(&all, &ipv6_frame(other, 6, 3000), 0), 0);
        // Without addr6, no IPv6 at all.
        let v4 = tcp_to(Ipv4Addr::from(us), None, None, true);
        assert_eq!(run(&v4, &ipv6_frame(us6, 6, 3000), 0), 0);
        assert_eq!(run(&v4, &ipv6_frame(group, 58, 0), 0), 0);
    }

    /// IPv6 only (IPv4 address 0.0.0.0): no IPv4 and no ARP pass.
    #[test]
    fn tcp_filter_ipv6_only_drops_all_ipv4() {
        let us6: Ipv6Addr = "2001:2:0:1::10".parse().unwrap();
        let p = tcp_to(Ipv4Addr::UNSPECIFIED, Some(us6), None, false);
        assert_ne!(run(&p, &ipv6_frame(us6, 6, 3000), 0), 0);
        assert_eq!(run(&p, &tcp_frame([0; 4], [1; 4], 5, 6, 1, 3000), 0), 0);
        assert_eq!(run(&p, &tcp_frame([0; 4], [1; 4], 5, 1, 0, 0), 0), 0);
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(run(&p, &arp, 0), 0);
    }

    #[test]
    fn rst_filter_needs_outgoing_rst_from_us() {
        let us = [198, 18, 1, 1];
        let p = outgoing_rst_from(Some(Ipv4Addr::from(us)), None, 80);
        let mut rst = tcp_frame([9; 4], us, 5, 6, 80, 4000);
        rst[14 + 20 + 13] = 0x14; // RST|ACK
        assert_ne!(run(&p, &rst, PACKET_OUTGOING), 0);
        assert_eq!(run(&p, &rst, 0), 0, "incoming");
        let mut syn = rst.clone();
        syn[14 + 20 + 13] = 0x02;
        assert_eq!(run(&p, &syn, PACKET_OUTGOING), 0);
        let mut other = tcp_frame([9; 4], us, 5, 6, 81, 4000);
        other[14 + 20 + 13] = 0x04;
        assert_eq!(run(&p, &other, PACKET_OUTGOING), 0);
    }

    /// An IPv6 TCP frame from `src:sport` with `flags`.
    fn ipv6_tcp_from(src: Ipv6Addr, sport: u16, flags: u8) -> Vec<u8> {
        let mut f = ipv6_frame("2001:2::99".parse().unwrap(), 6, 4000);
        f[14 + 8..14 + 24].copy_from_slice(&src.octets());
        f[14 + 40..14 + 42].copy_from_slice(&sport.to_be_bytes());
        f[14 + 40 + 13] = flags;
        f
    }

    /// Both families: outgoing RSTs from our IPv4 or IPv6 address and port
    /// count; SYNs, other ports, other addresses, incoming frames do not.
    #[test]
    fn rst_filter_both_families() {
        let us = [198, 18, 1, 1];
        let us6: Ipv6Addr = "2001:2:0:1::1".parse().unwrap();
        let other6: Ipv6Addr = "2001:2:0:1::2".parse().unwrap();
        let p = outgoing_rst_from(Some(Ipv4Addr::from(us)), Some(us6), 80);
        assert_ne!(run(&p, &ipv6_tcp_from(us6, 80, 0x14), PACKET_OUTGOING), 0);
        assert_ne!(run(&p, &ipv6_tcp_from(us6, 80, 0x04), PACKET_OUTGOING), 0);
        assert_eq!(run(&p, &ipv6_tcp_from(us6, 80, 0x14), 0), 0, "incoming");
        assert_eq!(run(&p, &ipv6_tcp_from(us6, 80, 0x12), PACKET_OUTGOING), 0);
        assert_eq!(run(&p, &ipv6_tcp_from(us6, 81, 0x04), PACKET_OUTGOING), 0);
        assert_eq!(
            run(&p, &ipv6_tcp_from(other6, 80, 0x04), PACKET_OUTGOING),
            0
        );
        let mut udp = ipv6_tcp_from(us6, 80, 0x04);
        udp[14 + 6] = 17;
        assert_eq!(run(&p, &udp, PACKET_OUTGOING), 0);
        // IPv4 as before.
        let mut rst = tcp_frame([9; 4], us, 5, 6, 80, 4000);
        rst[14 + 20 + 13] = 0x04;
        assert_ne!(run(&p, &rst, PACKET_OUTGOING), 0);
        // IPv6 alone: no IPv4 counts; without IPv6, no IPv6 counts.
        let only6 = outgoing_rst_from(None, Some(us6), 80);
        assert_ne!(
            run(&only6, &ipv6_tcp_from(us6, 80, 0x04), PACKET_OUTGOING),
            0
        );
        assert_eq!(run(&only6, &rst, PACKET_OUTGOING), 0);
        let only4 = outgoing_rst_from(Some(Ipv4Addr::from(us)), None, 80);
        assert_eq!(
            run(&only4, &ipv6_tcp_from(us6, 80, 0x04), PACKET_OUTGOING),
            0
        );
    }
}
