//! A tiny DNS server of a test's own, given to containers as `--dns` so that names the
//! embedded DNS forwards upstream never leave the machine.
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A tiny DNS server on a host loopback address: A queries for `name` get `answer`,
/// anything else NXDOMAIN; it counts the queries it saw.
pub struct TinyDns {
    pub addr: Ipv4Addr,
    queries: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TinyDns {
    /// Binds port 53 on a random 127.53.x.y (parallel tests never share one).
    pub fn start(name: &str, answer: Ipv4Addr) -> TinyDns {
        let (socket, addr) = (0..50)
            .find_map(|_| {
                let addr = Ipv4Addr::new(127, 53, rand_byte(), rand_byte().max(1));
                UdpSocket::bind((addr, 53)).ok().map(|s| (s, addr))
            })
            .expect("a free 127.53.x.y:53");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let queries = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let name = name.to_ascii_lowercase();
        let thread = {
            let (queries, stop) = (queries.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 512];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                        continue;
                    };
                    if let Some(reply) = dns_reply(&buf[..n], &name, answer) {
                        queries.fetch_add(1, Ordering::Relaxed);
                        let _ = socket.send_to(&reply, peer);
                    }
                }
            })
        };
        TinyDns {
            addr,
            queries,
            stop,
            thread: Some(thread),
        }
    }

    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }
}

impl Drop for TinyDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn rand_byte() -> u8 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    ((nanos / 7) ^ std::process::id()).to_le_bytes()[0]
}

/// The answer to one query: the question copied, one A record when it asks `name`'s A.
fn dns_reply(query: &[u8], name: &str, answer: Ipv4Addr) -> Option<Vec<u8>> {
    if query.len() < 12 {
        return None;
    }
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(pos..pos + len)?).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*query.get(pos)?, *query.get(pos + 1)?]);
    let question_end = pos + 4;
    let asked = labels.join(".");
    let known = asked == name;
    let is_a = qtype == 1;
    let mut reply = Vec::from(&query[..2]);
    // QR, RD, RA; NXDOMAIN for names it does not know.
    reply.extend_from_slice(&[0x81, if known { 0x80 } else { 0x83 }]);
    reply.extend_from_slice(&[0, 1, 0, u8::from(known && is_a), 0, 0, 0, 0]);
    reply.extend_from_slice(query.get(12..question_end)?);
    if known && is_a {
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        reply.extend_from_slice(&answer.octets());
    }
    Some(reply)
}
