//! The single-threaded event loop: poll(2) over the signalfd, both listeners, the
//! processes' stdio, control connections and attach clients.
use std::io;
use std::os::fd::AsRawFd;

use berth_proto::{AttachAck, ErrorBody};

use crate::attach::{Client, Input};
use crate::control::Conn;
use crate::shim::{Reply, Shim};
use crate::util;

#[derive(Clone)]
enum Slot {
    Sig,
    Ctl,
    Att,
    Out(Option<String>, u8),
    In(Option<String>),
    Conn(u64),
    Client(u64),
}

const READ_CHUNK: usize = 32 * 1024;

impl Shim {
    /// Runs until `/delete` has been answered.
    pub fn run(&mut self) -> io::Result<()> {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            if self.exiting && self.conns.values().all(|c| c.out.is_empty()) {
                self.cleanup();
                return Ok(());
            }
            let (mut fds, slots) = self.poll_set();
            let timeout = if self.exiting { 100 } else { -1 };
            // SAFETY: fds is a valid pollfd array of the given length.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for (pfd, slot) in fds.iter().zip(slots) {
                if pfd.revents != 0 {
                    let hup = pfd.revents & (libc::POLLHUP | libc::POLLERR) != 0;
                    self.dispatch(slot, hup, &mut buf);
                }
            }
            self.conns.retain(|_, c| !c.dead);
            self.clients.retain(|_, c| !c.dead);
        }
    }

    fn poll_set(&self) -> (Vec<libc::pollfd>, Vec<Slot>) {
        let mut fds = Vec::new();
        let mut slots = Vec::new();
        let mut add = |fd: i32, events: i16, s: Slot| {
            fds.push(libc::pollfd {
                fd,
                events,
                revents: 0,
            });
            slots.push(s);
        };
        add(self.reaper.fd(), libc::POLLIN, Slot::Sig);
        if !self.exiting {
            add(self.ctl.as_raw_fd(), libc::POLLIN, Slot::Ctl);
            add(self.att.as_raw_fd(), libc::POLLIN, Slot::Att);
        }
        let procs = std::iter::once((None, &self.init))
            .chain(self.execs.iter().map(|(k, p)| (Some(k.clone()), p)));
        for (key, p) in procs {
            if let Some(fd) = &p.io.out {
                add(fd.as_raw_fd(), libc::POLLIN, Slot::Out(key.clone(), 1));
            }
            if let Some(fd) = &p.io.err {
                add(fd.as_raw_fd(), libc::POLLIN, Slot::Out(key.clone(), 2));
            }
            if let (Some(fd), false) = (&p.io.stdin, p.io.stdin_buf.is_empty()) {
                add(fd.as_raw_fd(), libc::POLLOUT, Slot::In(key.clone()));
            }
        }
        for (id, c) in &self.conns {
            let mut ev = if c.waiting.is_some() || c.read_eof {
                0
            } else {
                libc::POLLIN
            };
            if !c.out.is_empty() {
                ev |= libc::POLLOUT;
            }
            add(c.stream.as_raw_fd(), ev, Slot::Conn(*id));
        }
        for (id, c) in &self.clients {
            let mut ev = if c.wants_read() { libc::POLLIN } else { 0 };
            if !c.out.is_empty() {
                ev |= libc::POLLOUT;
            }
            add(c.stream.as_raw_fd(), ev, Slot::Client(*id));
        }
        (fds, slots)
    }

    fn dispatch(&mut self, slot: Slot, hup: bool, buf: &mut [u8]) {
        match slot {
            Slot::Sig => {
                for (pid, status) in self.reaper.reap() {
                    self.on_reaped(pid, status);
                }
            }
            Slot::Ctl => {
                if let Ok((s, _)) = self.ctl.accept() {
                    if let Ok(c) = Conn::new(s) {
                        self.next_id += 1;
                        self.conns.insert(self.next_id, c);
                    }
                }
            }
            Slot::Att => {
                if let Ok((s, _)) = self.att.accept() {
                    if let Ok(c) = Client::new(s) {
                        self.next_id += 1;
                        self.clients.insert(self.next_id, c);
                    }
                }
            }
            Slot::Out(key, stream) => {
                self.read_output(&key, stream, buf);
            }
            Slot::In(key) => {
                if let Ok(p) = self.proc_mut(&key) {
                    p.io.flush_stdin();
                }
            }
            Slot::Conn(id) => self.on_conn(id),
            Slot::Client(id) => self.on_client(id, hup),
        }
    }

    /// Registers the attach clients whose connection and header line are already waiting:
    /// berthd attaches before it asks for `/start` (or an exec's start), and such a client
    /// must see the process's first output.
    pub(crate) fn accept_pending_clients(&mut self) {
        while let Ok((s, _)) = self.att.accept() {
            if let Ok(c) = Client::new(s) {
                self.next_id += 1;
                self.clients.insert(self.next_id, c);
            }
        }
        let waiting: Vec<u64> = self
            .clients
            .iter()
            .filter(|(_, c)| c.req.is_none() && !c.dead)
            .map(|(id, _)| *id)
            .collect();
        for id in waiting {
            self.on_client(id, false);
        }
    }

    /// Reads the stdin attach clients have already sent: a `/close-stdin` must not overtake
    /// input that is waiting in a client's socket.
    pub(crate) fn read_pending_client_input(&mut self) {
        let ids: Vec<u64> = self
            .clients
            .iter()
            .filter(|(_, c)| !c.dead && c.req.as_ref().is_some_and(|r| r.stdin))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            // Bounded: a client that keeps writing does not hold the loop.
            for _ in 0..64 {
                let before = self.clients.get(&id).map(|c| c.read_eof || c.dead);
                self.on_client(id, false);
                let after = self.clients.get(&id).map(|c| c.read_eof || c.dead);
                if after != Some(false) || before != Some(false) || !self.client_has_input(id) {
                    break;
                }
            }
        }
    }

    fn client_has_input(&self, id: u64) -> bool {
        let Some(c) = self.clients.get(&id) else {
            return false;
        };
        let mut pfd = libc::pollfd {
            fd: c.stream.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no timeout.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n > 0 && pfd.revents & libc::POLLIN != 0
    }

    /// One read from a process's output; returns false once that stream has ended.
    fn read_output(&mut self, key: &Option<String>, stream: u8, buf: &mut [u8]) -> bool {
        let Ok(p) = self.proc_mut(key) else {
            return false;
        };
        let fd = if stream == 1 { &p.io.out } else { &p.io.err };
        let Some(fd) = fd else { return false };
        match util::read_fd(fd, buf) {
            Ok(n) if n > 0 => {
                let data = buf[..n].to_vec();
                self.distribute(key, stream, &data);
                true
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => true,
            // EOF, or EIO from a pty master whose slave side is gone.
            _ => {
                if stream == 1 {
                    p.io.out = None;
                } else {
                    p.io.err = None;
                }
                let done = p.io.output_done();
                if key.is_none() {
                    if let Some(log) = &mut self.log {
                        let _ = log.flush(stream, &util::now());
                    }
                }
                if done {
                    self.close_clients(key);
                }
                false
            }
        }
    }

    /// Reads everything already written by a process that has just exited.
    pub fn drain_output(&mut self, key: &Option<String>) {
        let mut buf = vec![0u8; READ_CHUNK];
        for stream in [1, 2] {
            let mut budget = 64; // grandchildren may keep writing; do not spin forever
            while budget > 0 && self.read_output(key, stream, &mut buf) {
                budget -= 1;
            }
        }
    }

    fn distribute(&mut self, key: &Option<String>, stream: u8, data: &[u8]) {
        let terminal = self.proc(key).map(|p| p.terminal).unwrap_or(false);
        if key.is_none() {
            if let Some(log) = &mut self.log {
                let _ = log.write(stream, data, &util::now());
            }
        }
        for c in self.clients.values_mut() {
            if c.req.as_ref().is_some_and(|r| &r.exec_id == key) {
                c.send(stream, data, terminal);
            }
        }
    }

    fn on_conn(&mut self, id: u64) {
        let Some(c) = self.conns.get_mut(&id) else {
            return;
        };
        c.flush();
        let mut next = c.on_readable();
        while let Some(req) = next {
            let failure = |status: u16, message: String, keep: bool| {
                let body = serde_json::to_value(ErrorBody { message }).unwrap_or_default();
                (status, body, keep)
            };
            let (reply, failed) = match req {
                Err(msg) => (None, Some(failure(400, msg, false))),
                Ok(req) => match self.handle(&req) {
                    Ok(r) => (Some((r, req.keep_alive)), None),
                    Err(e) => (
                        None,
                        Some(failure(e.status(), e.to_string(), req.keep_alive)),
                    ),
                },
            };
            let Some(c) = self.conns.get_mut(&id) else {
                return;
            };
            match reply {
                None => {
                    if let Some((status, body, keep)) = failed {
                        c.respond(status, &body, keep)
                    }
                }
                Some((Reply::Now(v), keep)) => c.respond(200, &v, keep),
                Some((Reply::Wait(k), keep)) => c.waiting = Some((k, keep)),
                Some((Reply::Exit(v), _)) => {
                    c.respond(200, &v, false);
                    self.exiting = true;
                    return;
                }
            }
            next = if c.dead { None } else { c.next_request() };
        }
    }

    fn on_client(&mut self, id: u64, hup: bool) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        c.flush();
        if !c.wants_read() {
            // poll reports a hang-up even when we did not ask to read: drop the client,
            // or the loop would spin on it.
            if hup {
                c.dead = true;
            }
            return;
        }
        let (data, header) = match c.on_readable() {
            Input::Nothing => return,
            Input::Header(rest) => (rest, true),
            Input::Stdin(d) => (d, false),
        };
        let Some(req) = c.req.clone() else { return };
        if header {
            // The client is registered from here on: acknowledge it before any output,
            // so it knows that whatever the process writes next reaches it.
            let (ack, ended) = match self.proc(&req.exec_id) {
                Err(e) => (
                    AttachAck {
                        error: Some(e.to_string()),
                    },
                    true,
                ),
                Ok(p) => (AttachAck::default(), p.pid != 0 && p.io.output_done()),
            };
            let Some(c) = self.clients.get_mut(&id) else {
                return;
            };
            let refused = ack.error.is_some();
            c.acknowledge(&ack);
            if refused {
                // Nothing more is read from it; it goes once the answer is out.
                c.read_eof = true;
            }
            if ended {
                c.closing = true;
                c.flush();
            }
            if refused {
                return;
            }
        }
        if req.stdin && !data.is_empty() {
            if let Ok(p) = self.proc_mut(&req.exec_id) {
                p.io.push_stdin(&data);
            }
        }
    }
}
