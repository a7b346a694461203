//! A neutral WebSocket echo load generator.
//!
//! ```text
//! load --url ws://127.0.0.1:9001/ [--connections 32] [--size 16] [--pipeline 64]
//!      [--seconds 5] [--warmup 1] [--threads N] [--text] [--masked-echo] [--tsv]
//! ```
//!
//! Every connection does the opening handshake, then keeps `--pipeline` binary messages (text
//! messages with `--text`: valid UTF-8 with multi-byte characters, so servers validate it) of
//! `--size` bytes in flight: one masked frame is encoded once and its bytes are written again
//! and again, and each echo that comes back is replaced by a new message. Echoes are counted by
//! parsing the 2–10 byte server frame headers; payloads are skipped except for a few sampled
//! bytes (first, middle, last) compared with what was sent. Nothing is allocated per message.
//!
//! Messages are counted after `--warmup` seconds for `--seconds` seconds and one line is
//! printed:
//!
//! ```text
//! messages/s: 123456  (32 conns, size 16, pipeline 64, 5 s)  rtt p50 1.20 ms  p99 3.40 ms
//! ```
//!
//! With `--tsv` the line is `messages/s<TAB>p50 µs<TAB>p99 µs` instead, for scripts.
//!
//! The round-trip time of a message runs from when it is queued for writing to when the read
//! that completes its echo returns, so with pipelining it includes the time spent queued behind
//! the other messages in flight.
//!
//! By default each connection has its own thread, blocking in `recv` while it has nothing left
//! to write; `--threads N` spreads the connections over N threads that `poll(2)` them instead.
//! `--masked-echo` expects the client's masked frames back unchanged, for a plain TCP echo
//! server (the ceiling the WebSocket servers are compared with).
//!
//! The process exits with status 1 if an echo does not match what was sent (opcode, length or
//! sampled bytes), if a connection fails, or if no echo arrived at all. Linux/Unix only.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ws_proto::{
    ClientHandshake, ClientOutcome, ClientRequest, Config, DeflateConfig, SeededKeySource, WsUrl,
};

const USAGE: &str = "usage: load --url ws://HOST:PORT/ [--connections N] [--size BYTES] \
                     [--pipeline K] [--seconds S] [--warmup S] [--threads N] [--text] \
                     [--masked-echo] [--deflate] [--tsv]";

/// How long a blocking `recv` or `poll` waits before the stop flag is looked at again.
const WAKE_INTERVAL: Duration = Duration::from_millis(100);
/// Receive buffer of each thread.
const READ_BUF: usize = 64 * 1024;
/// Fixed mask key: servers must unmask, none may check the keys for unpredictability.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

struct Options {
    url: String,
    connections: usize,
    size: usize,
    pipeline: usize,
    seconds: f64,
    warmup: f64,
    threads: Option<usize>,
    text: bool,
    masked_echo: bool,
    deflate: bool,
    tsv: bool,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        url: String::new(),
        connections: 32,
        size: 16,
        pipeline: 64,
        seconds: 5.0,
        warmup: 1.0,
        threads: None,
        text: false,
        masked_echo: false,
        deflate: false,
        tsv: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Err(USAGE.to_owned()),
            "--text" => {
                options.text = true;
                continue;
            }
            "--masked-echo" => {
                options.masked_echo = true;
                continue;
            }
            "--tsv" => {
                options.tsv = true;
                continue;
            }
            "--deflate" => {
                options.deflate = true;
                continue;
            }
            _ => {}
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))?;
        let bad = || format!("invalid value {value:?} for {arg}");
        match arg.as_str() {
            "--url" => options.url = value.clone(),
            "--connections" => options.connections = value.parse().map_err(|_| bad())?,
            "--size" => options.size = value.parse().map_err(|_| bad())?,
            "--pipeline" => options.pipeline = value.parse().map_err(|_| bad())?,
            "--seconds" => options.seconds = value.parse().map_err(|_| bad())?,
            "--warmup" => options.warmup = value.parse().map_err(|_| bad())?,
            "--threads" => options.threads = Some(value.parse().map_err(|_| bad())?),
            _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
        }
    }
    if options.url.is_empty() {
        return Err(format!("--url is required\n{USAGE}"));
    }
    if options.connections == 0 || options.pipeline == 0 {
        return Err("--connections and --pipeline must be at least 1".to_owned());
    }
    let valid = |s: f64| s.is_finite() && s >= 0.0;
    if !valid(options.seconds) || options.seconds == 0.0 || !valid(options.warmup) {
        return Err("--seconds must be positive and --warmup not negative".to_owned());
    }
    if options
        .threads
        .is_some_and(|t| t == 0 || t > options.connections)
    {
        return Err("--threads must be between 1 and --connections".to_owned());
    }
    Ok(options)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("load: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let options = parse_options()?;
    let url = WsUrl::parse(&options.url).map_err(|e| format!("bad --url: {e}"))?;
    if url.is_secure() {
        return Err("only ws:// URLs are supported".to_owned());
    }
    let host = url.host().trim_start_matches('[').trim_end_matches(']');
    let addr = (host, url.port())
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", url.host()))?
        .next()
        .ok_or_else(|| format!("cannot resolve {}", url.host()))?;

    let payload = if options.text {
        ws_bench::text_payload(options.size).into_bytes()
    } else {
        payload(options.size)
    };
    let opcode = if options.text { 0x1 } else { 0x2 };
    let frame = if options.deflate {
        // RSV1: a compressed message (RFC 7692 §6), compressed once without reference to earlier
        // ones, so the one frame is sent again and again.
        ws_bench::masked_frame(0xc0 | opcode, &ws_bench::deflate_message(&payload), MASK)
    } else {
        ws_bench::masked_frame(0x80 | opcode, &payload, MASK)
    };
    let echo = Echo {
        first_byte: 0x80 | opcode,
        masked: options.masked_echo,
        deflate: options.deflate,
    };
    // What comes back as the payload: the masked bytes themselves from a plain TCP echo.
    let payload = if options.masked_echo {
        frame[frame.len() - payload.len()..].to_vec()
    } else {
        payload
    };
    // One frame more than can be in flight, so any write starting inside a frame fits.
    let batch: Arc<[u8]> = frame.repeat(options.pipeline + 1).into();

    let mut conns = Vec::with_capacity(options.connections);
    for index in 0..options.connections {
        let (stream, leftover) = connect(&url, addr, index as u64, options.deflate)
            .map_err(|e| format!("connection {index}: {e}"))?;
        conns.push(Conn::new(index, stream, leftover, options.pipeline, echo));
    }

    let threads = options.threads.unwrap_or(options.connections);
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        measuring: AtomicBool::new(false),
        failure: Mutex::new(None),
        counters: (0..threads).map(|_| Counter(AtomicU64::new(0))).collect(),
    });
    let payload: Arc<[u8]> = payload.into();
    let mut groups: Vec<Vec<Conn>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, conn) in conns.into_iter().enumerate() {
        groups[i % threads].push(conn);
    }
    let mut handles = Vec::with_capacity(threads);
    for (id, group) in groups.into_iter().enumerate() {
        let worker = Worker {
            id,
            conns: group,
            shared: Arc::clone(&shared),
            batch: Arc::clone(&batch),
            frame_len: frame.len(),
            payload: Arc::clone(&payload),
            pipeline: options.pipeline,
        };
        let handle = thread::Builder::new()
            .name(format!("load-{id}"))
            .spawn(move || worker.run())
            .map_err(|e| format!("cannot spawn a thread: {e}"))?;
        handles.push(handle);
    }

    let failed = |shared: &Shared| shared.failure.lock().map(|f| f.is_some()).unwrap_or(true);
    sleep_unless(Duration::from_secs_f64(options.warmup), || failed(&shared));
    let start_count = shared.total();
    let start = Instant::now();
    shared.measuring.store(true, Ordering::Relaxed);
    sleep_unless(Duration::from_secs_f64(options.seconds), || failed(&shared));
    let end_count = shared.total();
    let elapsed = start.elapsed();
    shared.measuring.store(false, Ordering::Relaxed);
    shared.stop.store(true, Ordering::Relaxed);

    let mut histogram = Histogram::new();
    for handle in handles {
        if let Ok(h) = handle.join() {
            histogram.merge(&h);
        } else {
            shared.fail("a load thread panicked".to_owned());
        }
    }
    if let Some(failure) = shared.failure.lock().map_err(|_| "poisoned")?.take() {
        return Err(failure);
    }
    let messages = end_count - start_count;
    if messages == 0 {
        return Err("no echo arrived during the measurement".to_owned());
    }
    let rate = messages as f64 / elapsed.as_secs_f64();
    if options.tsv {
        let us = |q| {
            histogram
                .quantile(q)
                .map_or("-".to_owned(), |ns| format!("{:.1}", ns as f64 / 1e3))
        };
        println!("{rate:.0}\t{}\t{}", us(0.50), us(0.99));
        return Ok(());
    }
    let mut line = format!(
        "messages/s: {rate:.0}  ({} conns, size {}, pipeline {}, {} s)",
        options.connections, options.size, options.pipeline, options.seconds
    );
    if let (Some(p50), Some(p99)) = (histogram.quantile(0.50), histogram.quantile(0.99)) {
        line.push_str(&format!(
            "  rtt p50 {}  p99 {}",
            format_ns(p50),
            format_ns(p99)
        ));
    }
    println!("{line}");
    Ok(())
}

/// Sleeps for `duration`, returning early once `abort` says so.
fn sleep_unless(duration: Duration, abort: impl Fn() -> bool) {
    let end = Instant::now() + duration;
    loop {
        let now = Instant::now();
        if now >= end || abort() {
            return;
        }
        thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

fn format_ns(ns: u64) -> String {
    match ns {
        0..1_000_000 => format!("{:.0} us", ns as f64 / 1e3),
        _ => format!("{:.2} ms", ns as f64 / 1e6),
    }
}

/// A deterministic, non-constant payload.
fn payload(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| (i.wrapping_mul(31) ^ (i >> 8)) as u8)
        .collect()
}

/// Opens a TCP connection and does the opening handshake. Returns the stream and any bytes
/// that arrived after the 101 response head.
fn connect(
    url: &WsUrl,
    addr: std::net::SocketAddr,
    seed: u64,
    deflate: bool,
) -> Result<(TcpStream, Vec<u8>), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect to {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    // Offered as browsers do, keeping the client's context, so the server keeps the window of
    // what it received. The frame sent does not refer back to earlier messages, which a
    // compressor keeping its context may always do.
    let compression = deflate.then(|| DeflateConfig::default().with_no_context_takeover(false));
    let mut handshake = ClientHandshake::new(
        ClientRequest::new(url.clone()),
        Config::default().with_compression(compression),
        Box::new(SeededKeySource::new(seed.wrapping_add(1))),
        Instant::now(),
    )
    .map_err(|e| format!("handshake: {e}"))?;
    let request = handshake.output().to_vec();
    stream
        .write_all(&request)
        .map_err(|e| format!("write request: {e}"))?;
    handshake.consume_output(request.len());

    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream
            .read(&mut chunk)
            .map_err(|e| format!("read response: {e}"))?;
        if n == 0 {
            return Err("server closed the connection during the handshake".to_owned());
        }
        received.extend_from_slice(&chunk[..n]);
        // Feed exactly one response head at a time, so frame bytes that follow the 101 stay
        // with the frame parser.
        while let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head_end = end + 4;
            match handshake.receive(Instant::now(), &received[..head_end]) {
                Ok(Some(ClientOutcome::Rejected(response))) => {
                    return Err(format!("server answered HTTP {}", response.status));
                }
                Ok(Some(ClientOutcome::Upgraded(established))) => {
                    if deflate && established.connection.compression().is_none() {
                        return Err("the server declined permessage-deflate".to_owned());
                    }
                    received.drain(..head_end);
                    stream
                        .set_read_timeout(Some(WAKE_INTERVAL))
                        .map_err(|e| e.to_string())?;
                    return Ok((stream, received));
                }
                // An interim (1xx) response; the real one follows.
                Ok(None) => {
                    received.drain(..head_end);
                }
                Err(e) => return Err(format!("handshake: {e}")),
            }
        }
    }
}

struct Shared {
    stop: AtomicBool,
    /// Round-trip times are recorded only while this is set.
    measuring: AtomicBool,
    failure: Mutex<Option<String>>,
    /// Echoes received, one counter per thread.
    counters: Box<[Counter]>,
}

impl Shared {
    fn total(&self) -> u64 {
        self.counters
            .iter()
            .map(|c| c.0.load(Ordering::Relaxed))
            .sum()
    }

    /// Records the first failure and stops every thread.
    fn fail(&self, message: String) {
        if let Ok(mut failure) = self.failure.lock() {
            failure.get_or_insert(message);
        }
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A counter alone on its cache line.
#[repr(align(128))]
struct Counter(AtomicU64);

struct Conn {
    index: usize,
    stream: TcpStream,
    fd: RawFd,
    /// Bytes queued for writing and not yet written.
    owed: usize,
    /// Offset inside the frame of the next byte to write.
    phase: usize,
    parser: Parser,
    /// When each message in flight was queued, oldest first.
    queued_at: VecDeque<Instant>,
    /// Bytes that arrived right after the handshake, parsed before anything else.
    leftover: Vec<u8>,
}

impl Conn {
    fn new(
        index: usize,
        stream: TcpStream,
        leftover: Vec<u8>,
        pipeline: usize,
        echo: Echo,
    ) -> Conn {
        Conn {
            index,
            fd: stream.as_raw_fd(),
            stream,
            owed: 0,
            phase: 0,
            parser: Parser::new(echo),
            queued_at: VecDeque::with_capacity(pipeline),
            leftover,
        }
    }

    /// Writes as much of what is owed as the socket takes without blocking.
    fn flush(&mut self, batch: &[u8], frame_len: usize) -> io::Result<()> {
        while self.owed > 0 {
            let start = self.phase;
            let len = self.owed.min(batch.len() - start);
            // SAFETY: the pointer and length describe a live slice of `batch`.
            let n = unsafe {
                libc::send(
                    self.fd,
                    batch[start..].as_ptr().cast(),
                    len,
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            if n < 0 {
                let error = io::Error::last_os_error();
                match error.kind() {
                    io::ErrorKind::WouldBlock => return Ok(()),
                    io::ErrorKind::Interrupted => continue,
                    _ => return Err(error),
                }
            }
            let n = n as usize;
            self.owed -= n;
            self.phase = (self.phase + n) % frame_len;
        }
        Ok(())
    }

    /// Reads once; `Ok(None)` when nothing was there (or the blocking read timed out).
    fn recv(&mut self, buf: &mut [u8], wait: bool) -> io::Result<Option<usize>> {
        let flags = if wait { 0 } else { libc::MSG_DONTWAIT };
        // SAFETY: the pointer and length describe the whole of `buf`, which is writable.
        let n = unsafe { libc::recv(self.fd, buf.as_mut_ptr().cast(), buf.len(), flags) };
        if n < 0 {
            let error = io::Error::last_os_error();
            return match error.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(error),
            };
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        Ok(Some(n as usize))
    }

    /// Says goodbye with a close frame if no frame is half written, then closes.
    fn close(self) {
        if self.owed == 0 && self.phase == 0 {
            let code = 1000u16.to_be_bytes();
            let frame = [
                0x88,
                0x82,
                MASK[0],
                MASK[1],
                MASK[2],
                MASK[3],
                code[0] ^ MASK[0],
                code[1] ^ MASK[1],
            ];
            // SAFETY: the pointer and length describe `frame`.
            let _ = unsafe {
                libc::send(
                    self.fd,
                    frame.as_ptr().cast(),
                    frame.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
        }
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// What the echoed frames look like.
#[derive(Clone, Copy)]
struct Echo {
    /// FIN and the opcode of what was sent.
    first_byte: u8,
    /// The frames come back masked, as sent (a plain TCP echo).
    masked: bool,
    /// Compressed messages were sent: echoes may come back compressed (RSV1, another length)
    /// or not, and only their headers are checked.
    deflate: bool,
}

/// Streaming parser of the server's frames: headers are decoded, payloads skipped except for
/// a few sampled bytes.
struct Parser {
    echo: Echo,
    header: [u8; 14],
    header_len: usize,
    in_payload: bool,
    /// The current payload is skipped without sampling (a compressed echo).
    skip: bool,
    /// Offset inside the current payload.
    offset: usize,
    remaining: usize,
}

fn header_len(second_byte: u8) -> usize {
    let mask = if second_byte & 0x80 != 0 { 4 } else { 0 };
    mask + match second_byte & 0x7f {
        126 => 4,
        127 => 10,
        _ => 2,
    }
}

impl Parser {
    fn new(echo: Echo) -> Parser {
        Parser {
            echo,
            header: [0; 14],
            header_len: 0,
            in_payload: false,
            skip: false,
            offset: 0,
            remaining: 0,
        }
    }

    /// Parses `data` and returns how many echoes it completed.
    fn feed(&mut self, mut data: &[u8], expected: &[u8]) -> Result<u64, String> {
        let mut done = 0;
        while !data.is_empty() {
            if self.in_payload {
                let n = data.len().min(self.remaining);
                if !self.skip {
                    check_sample(&data[..n], self.offset, expected)?;
                }
                self.offset += n;
                self.remaining -= n;
                data = &data[n..];
                if self.remaining == 0 {
                    self.in_payload = false;
                    done += 1;
                }
                continue;
            }
            let want = if self.header_len < 2 {
                2
            } else {
                header_len(self.header[1])
            };
            let take = (want - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&data[..take]);
            self.header_len += take;
            data = &data[take..];
            if self.header_len < want || (want == 2 && header_len(self.header[1]) > 2) {
                continue;
            }
            let (b0, b1) = (self.header[0], self.header[1]);
            let compressed_echo = self.echo.deflate && b0 == self.echo.first_byte | 0x40;
            if b0 != self.echo.first_byte && !compressed_echo {
                return Err(format!(
                    "expected a final frame with first byte 0x{:02x}, got 0x{b0:02x}",
                    self.echo.first_byte
                ));
            }
            match (b1 & 0x80 != 0, self.echo.masked) {
                (true, false) => return Err("the server masked a frame".to_owned()),
                (false, true) => return Err("expected the masked frames back".to_owned()),
                _ => {}
            }
            let len = match b1 & 0x7f {
                126 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
                127 => u64::from_be_bytes(self.header[2..10].try_into().unwrap_or_default()),
                n => u64::from(n),
            };
            if self.echo.deflate {
                // Skipped unchecked: its length is whatever the server's compressor made.
                self.header_len = 0;
                if len == 0 {
                    done += 1;
                } else {
                    self.in_payload = true;
                    self.offset = 0;
                    self.remaining = usize::try_from(len).map_err(|e| e.to_string())?;
                    self.skip = true;
                }
                continue;
            }
            if len != expected.len() as u64 {
                return Err(format!(
                    "echo of {len} bytes, but {} bytes were sent",
                    expected.len()
                ));
            }
            self.header_len = 0;
            self.skip = false;
            if expected.is_empty() {
                done += 1;
            } else {
                self.in_payload = true;
                self.offset = 0;
                self.remaining = expected.len();
            }
        }
        Ok(done)
    }
}

/// Compares the sampled bytes of the payload (first 8, middle one, last 8) that fall inside
/// `chunk`, which starts at `offset` in the payload.
fn check_sample(chunk: &[u8], offset: usize, expected: &[u8]) -> Result<(), String> {
    let size = expected.len();
    let end = offset + chunk.len();
    let samples = [
        (0, size.min(8)),
        (size / 2, (size / 2 + 1).min(size)),
        (size.saturating_sub(8), size),
    ];
    for (from, to) in samples {
        let (a, b) = (from.max(offset), to.min(end));
        if a < b && chunk[a - offset..b - offset] != expected[a..b] {
            return Err(format!(
                "echoed payload differs from what was sent at bytes {a}..{b}"
            ));
        }
    }
    Ok(())
}

/// Log-linear histogram of nanoseconds, about 3% resolution.
struct Histogram {
    counts: Vec<u64>,
}

const SUB_BUCKETS: u32 = 32;

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            counts: vec![0; 64 + 58 * SUB_BUCKETS as usize],
        }
    }

    fn index(ns: u64) -> usize {
        if ns < 64 {
            return ns as usize;
        }
        let exp = 63 - ns.leading_zeros(); // >= 6
        let sub = (ns >> (exp - 5)) as u32 & (SUB_BUCKETS - 1);
        64 + ((exp - 6) * SUB_BUCKETS + sub) as usize
    }

    /// The lower bound of a bucket.
    fn value(index: usize) -> u64 {
        if index < 64 {
            return index as u64;
        }
        let exp = (index - 64) as u32 / SUB_BUCKETS + 6;
        let sub = (index - 64) as u64 % u64::from(SUB_BUCKETS);
        (u64::from(SUB_BUCKETS) + sub) << (exp - 5)
    }

    fn record(&mut self, ns: u64) {
        self.counts[Self::index(ns)] += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    fn quantile(&self, q: f64) -> Option<u64> {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(Self::value(i));
            }
        }
        None
    }
}

struct Worker {
    id: usize,
    conns: Vec<Conn>,
    shared: Arc<Shared>,
    batch: Arc<[u8]>,
    frame_len: usize,
    payload: Arc<[u8]>,
    pipeline: usize,
}

impl Worker {
    /// Drives the connections until the stop flag; returns the round-trip histogram.
    fn run(mut self) -> Histogram {
        let mut histogram = Histogram::new();
        if let Err(message) = self.drive(&mut histogram)
            && !self.shared.stop.load(Ordering::Relaxed)
        {
            self.shared.fail(message);
        }
        for conn in self.conns.drain(..) {
            conn.close();
        }
        histogram
    }

    fn drive(&mut self, histogram: &mut Histogram) -> Result<(), String> {
        let mut buf = vec![0u8; READ_BUF];
        let now = Instant::now();
        for i in 0..self.conns.len() {
            let leftover = std::mem::take(&mut self.conns[i].leftover);
            self.on_data(i, &leftover, histogram)?;
            let conn = &mut self.conns[i];
            conn.owed += self.pipeline * self.frame_len;
            conn.queued_at
                .extend(std::iter::repeat_n(now, self.pipeline));
            conn.flush(&self.batch, self.frame_len)
                .map_err(|e| format!("connection {}: write: {e}", conn.index))?;
        }
        let mut pollfds: Vec<libc::pollfd> = Vec::with_capacity(self.conns.len());
        while !self.shared.stop.load(Ordering::Relaxed) {
            if self.conns.len() == 1 && self.conns[0].owed == 0 {
                // Nothing to write: block in recv (it times out after WAKE_INTERVAL).
                let n = self.conns[0]
                    .recv(&mut buf, true)
                    .map_err(|e| format!("connection {}: read: {e}", self.conns[0].index))?;
                if let Some(n) = n {
                    self.on_data(0, &buf[..n], histogram)?;
                }
                continue;
            }
            pollfds.clear();
            pollfds.extend(self.conns.iter().map(|c| libc::pollfd {
                fd: c.fd,
                events: if c.owed > 0 {
                    libc::POLLIN | libc::POLLOUT
                } else {
                    libc::POLLIN
                },
                revents: 0,
            }));
            // SAFETY: `pollfds` is a live, writable array of `pollfds.len()` entries.
            let ready = unsafe {
                libc::poll(
                    pollfds.as_mut_ptr(),
                    pollfds.len() as libc::nfds_t,
                    WAKE_INTERVAL.as_millis() as libc::c_int,
                )
            };
            if ready < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(format!("poll: {error}"));
            }
            for (i, pollfd) in pollfds.iter().enumerate() {
                let revents = pollfd.revents;
                if revents & libc::POLLOUT != 0 {
                    let conn = &mut self.conns[i];
                    conn.flush(&self.batch, self.frame_len)
                        .map_err(|e| format!("connection {}: write: {e}", conn.index))?;
                }
                if revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0 {
                    let n = self.conns[i]
                        .recv(&mut buf, false)
                        .map_err(|e| format!("connection {}: read: {e}", self.conns[i].index))?;
                    if let Some(n) = n {
                        self.on_data(i, &buf[..n], histogram)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Parses received bytes, records round trips and queues one new message per echo.
    fn on_data(&mut self, i: usize, data: &[u8], histogram: &mut Histogram) -> Result<(), String> {
        if data.is_empty() {
            return Ok(());
        }
        let conn = &mut self.conns[i];
        let echoes = conn
            .parser
            .feed(data, &self.payload)
            .map_err(|e| format!("connection {}: echo mismatch: {e}", conn.index))?;
        if echoes == 0 {
            return Ok(());
        }
        let echoes_usize = echoes as usize;
        if echoes_usize > conn.queued_at.len() {
            return Err(format!(
                "connection {}: more echoes than messages sent",
                conn.index
            ));
        }
        let now = Instant::now();
        if self.shared.measuring.load(Ordering::Relaxed) {
            for sent in conn.queued_at.drain(..echoes_usize) {
                histogram.record(now.duration_since(sent).as_nanos() as u64);
            }
        } else {
            conn.queued_at.drain(..echoes_usize);
        }
        self.shared.counters[self.id]
            .0
            .fetch_add(echoes, Ordering::Relaxed);
        conn.queued_at
            .extend(std::iter::repeat_n(now, echoes_usize));
        conn.owed += echoes_usize * self.frame_len;
        conn.flush(&self.batch, self.frame_len)
            .map_err(|e| format!("connection {}: write: {e}", conn.index))
    }
}
