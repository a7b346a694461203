//! A web server's static directory, with raw sockets on loopback: large files are streamed with
//! bounded memory and no deadline on the body, `HEAD` gets no body, paths are percent-decoded
//! and cannot leave the directory (traversal, symlinks, dotfiles), and every answer carries
//! `X-Content-Type-Options: nosniff`. Every scenario is a `fn(Runtime)` run once per runtime by
//! `on_both_runtimes!`, as `std_runtime::<name>` and `smol_runtime::<name>`.

#![cfg(any(feature = "std", feature = "smol"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ws_api::*;

#[macro_use]
mod support;

on_both_runtimes!(
    a_slow_steady_reader_gets_all_of_a_20_mb_file_in_bounded_server_memory,
    a_client_that_stops_reading_is_dropped_once_nothing_could_be_written_for_the_timeout,
    head_gets_the_same_head_as_get_and_no_body,
    percent_encoded_paths_are_decoded,
    dotfiles_and_symlinks_leading_out_are_refused,
    traversal_is_refused_however_spelled,
    every_static_and_plain_answer_says_nosniff,
    a_file_over_https_arrives_whole,
);

/// Every wait of a client is bounded by this.
const WAIT: Duration = Duration::from_secs(20);
/// The handshake timeout of the servers here: short, so that a response outliving it shows the
/// body is not bound by it.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(1);
const BIG: usize = 20 << 20;

/// The scenarios that measure memory or fill socket buffers run one at a time, so that one's
/// figures are not another's.
static HEAVY: Mutex<()> = Mutex::new(());

/// A static root `<scratch>/root` with a file `outside.txt` next to it, removed when dropped.
struct Site {
    scratch: PathBuf,
}

impl Site {
    fn new(name: &str, runtime: Runtime) -> Site {
        let scratch = std::env::temp_dir().join(format!(
            "ws-api-static-files-{}-{name}-{runtime:?}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&scratch);
        std::fs::create_dir_all(scratch.join("root/sub")).unwrap();
        std::fs::write(scratch.join("outside.txt"), "OUTSIDE-SECRET").unwrap();
        std::fs::write(scratch.join("root/index.html"), "<h1>index</h1>").unwrap();
        Site { scratch }
    }

    fn root(&self) -> PathBuf {
        self.scratch.join("root")
    }

    fn serve(&self, runtime: Runtime) -> WebServer {
        WebServer::start(
            WebServerOptions::new()
                .addr("127.0.0.1:0")
                .unwrap()
                .runtime(runtime)
                .config(Config::default().with_handshake_timeout(HANDSHAKE_TIMEOUT))
                .static_dir(self.root()),
        )
        .unwrap()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// The byte at `offset` of the big file: a pattern that a lost, repeated or reordered chunk
/// breaks.
fn pattern(offset: usize) -> u8 {
    (offset.wrapping_mul(31) ^ (offset >> 16)) as u8
}

fn write_pattern_file(path: &Path, len: usize) {
    let mut file = std::fs::File::create(path).unwrap();
    let mut chunk = vec![0u8; 64 << 10];
    let mut offset = 0;
    while offset < len {
        let n = chunk.len().min(len - offset);
        for (i, b) in chunk[..n].iter_mut().enumerate() {
            *b = pattern(offset + i);
        }
        file.write_all(&chunk[..n]).unwrap();
        offset += n;
    }
}

/// A file of `len` zero bytes that takes no disk space.
fn write_sparse_file(path: &Path, len: u64) {
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

/// Sends `request` and reads the whole answer (the server closes after it).
fn exchange(addr: SocketAddr, request: &str) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = tcp.read_to_end(&mut out);
    out
}

fn get(addr: SocketAddr, path: &str) -> Response {
    parse(&exchange(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"),
    ))
}

fn head(addr: SocketAddr, path: &str) -> Response {
    parse(&exchange(
        addr,
        &format!("HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n"),
    ))
}

/// A raw HTTP answer, split.
#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn content_length(&self) -> Option<u64> {
        self.header("content-length").map(|v| v.parse().unwrap())
    }
}

fn parse(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Response {
        status,
        head,
        body: raw[end + 4..].to_vec(),
    }
}

/// Resident memory of this process (server and client alike), from `/proc/self/status`.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Reads the head of an answer from `tcp`, byte by byte, leaving the body in the socket.
fn read_head(tcp: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    let mut byte = [0u8];
    while !raw.ends_with(b"\r\n\r\n") {
        assert_eq!(tcp.read(&mut byte).unwrap(), 1, "EOF in the head: {raw:?}");
        raw.push(byte[0]);
    }
    parse(&raw)
}

// ------------------------------------------------------------------------------- scenarios

fn a_slow_steady_reader_gets_all_of_a_20_mb_file_in_bounded_server_memory(runtime: Runtime) {
    let _heavy = HEAVY.lock().unwrap_or_else(|p| p.into_inner());
    let site = Site::new("slow", runtime);
    write_pattern_file(&site.root().join("big.bin"), BIG);
    std::fs::write(site.root().join("small.bin"), vec![7u8; 100 << 10]).unwrap();
    let web = site.serve(runtime);
    let addr = web.local_addr();
    // Warm up: the runtime's threads and pools exist before the baseline.
    let small = get(addr, "/small.bin");
    assert_eq!((small.status, small.body.len()), (200, 100 << 10));

    // 20 MiB over about 3 s: three times the handshake timeout, in reads of at most 64 KiB,
    // never ahead of a steady rate.
    let rate = BIG as f64 / 3.0;
    let baseline = rss_bytes();
    let mut peak = baseline;
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let start = Instant::now();
    tcp.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let response = read_head(&mut tcp);
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(response.content_length(), Some(BIG as u64));
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        response.header("content-type"),
        Some("application/octet-stream")
    );
    let mut buf = vec![0u8; 64 << 10];
    let mut got = 0usize;
    let mut reads = 0u32;
    loop {
        let n = match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => panic!("after {got} bytes: {e}"),
        };
        for (i, &b) in buf[..n].iter().enumerate() {
            assert_eq!(b, pattern(got + i), "byte {}", got + i);
        }
        got += n;
        reads += 1;
        if reads.is_multiple_of(8) {
            peak = peak.max(rss_bytes());
        }
        let due = Duration::from_secs_f64(got as f64 / rate);
        if let Some(ahead) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(ahead);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let growth = peak.zip(baseline).map(|(p, b)| p.saturating_sub(b));
    eprintln!(
        "{runtime:?}: slow reader got {got} of {BIG} bytes in {seconds:.2} s (handshake timeout \
         {HANDSHAKE_TIMEOUT:?}), {reads} reads; process RSS growth while streaming: {} KiB \
         (baseline {} KiB)",
        growth.map_or(-1, |g| (g / 1024) as i64),
        baseline.map_or(-1, |b| (b / 1024) as i64),
    );
    assert_eq!(got, BIG, "every byte");
    assert!(
        seconds > 2.0 * HANDSHAKE_TIMEOUT.as_secs_f64(),
        "{seconds} s"
    );
    if let Some(growth) = growth {
        assert!(
            growth < 8 << 20,
            "RSS grew by {growth} bytes for a {BIG}-byte file"
        );
    }
}

fn a_client_that_stops_reading_is_dropped_once_nothing_could_be_written_for_the_timeout(
    runtime: Runtime,
) {
    let _heavy = HEAVY.lock().unwrap_or_else(|p| p.into_inner());
    let site = Site::new("stall", runtime);
    // Far more than loopback's socket buffers hold.
    let len: u64 = 256 << 20;
    write_sparse_file(&site.root().join("huge.bin"), len);
    let web = site.serve(runtime);
    let mut tcp = TcpStream::connect(web.local_addr()).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(b"GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Read nothing for three times the timeout: the server's writes stop making progress.
    std::thread::sleep(3 * HANDSHAKE_TIMEOUT);
    let start = Instant::now();
    let response = read_head(&mut tcp);
    assert_eq!(response.content_length(), Some(len));
    let mut buf = vec![0u8; 64 << 10];
    let mut got = 0u64;
    let end = loop {
        match tcp.read(&mut buf) {
            Ok(0) => break "EOF".to_owned(),
            Ok(n) => got += n as u64,
            Err(e) => break e.to_string(),
        }
    };
    eprintln!(
        "{runtime:?}: a client that stopped reading for {:?} then got {got} of {len} bytes \
         before {end}, {:.2} s later",
        3 * HANDSHAKE_TIMEOUT,
        start.elapsed().as_secs_f64()
    );
    assert!(got < len, "the server gave up on the stalled response");
    assert!(start.elapsed() < WAIT);
}

fn head_gets_the_same_head_as_get_and_no_body(runtime: Runtime) {
    let site = Site::new("head", runtime);
    std::fs::write(site.root().join("page.css"), "body { color: red }").unwrap();
    write_sparse_file(&site.root().join("big.bin"), BIG as u64);
    let web = site.serve(runtime);
    let addr = web.local_addr();

    let got = get(addr, "/page.css");
    let headed = head(addr, "/page.css");
    assert_eq!(got.status, 200);
    assert_eq!(got.body, b"body { color: red }");
    assert_eq!(headed.head, got.head, "the same head");
    assert!(headed.body.is_empty(), "{:?}", headed.body);
    assert_eq!(headed.content_length(), Some(19));
    assert_eq!(
        headed.header("content-type"),
        Some("text/css; charset=utf-8")
    );

    // The size comes from the file's metadata, not from reading it.
    let start = Instant::now();
    let big = head(addr, "/big.bin");
    assert_eq!(big.content_length(), Some(BIG as u64));
    assert!(big.body.is_empty());
    assert!(start.elapsed() < Duration::from_secs(5));

    // Plain answers too: the 404 keeps its length and loses its body.
    let missing = head(addr, "/missing.txt");
    assert_eq!(missing.status, 404);
    assert!(missing.content_length().unwrap() > 0);
    assert!(missing.body.is_empty(), "{:?}", missing.body);
    let index = head(addr, "/");
    assert_eq!((index.status, index.content_length()), (200, Some(14)));
    assert!(index.body.is_empty());
}

fn percent_encoded_paths_are_decoded(runtime: Runtime) {
    let site = Site::new("decode", runtime);
    std::fs::write(site.root().join("a b.txt"), "with a space").unwrap();
    std::fs::write(site.root().join("sub/café.txt"), "accent").unwrap();
    let web = site.serve(runtime);
    let addr = web.local_addr();

    let spaced = get(addr, "/a%20b.txt");
    assert_eq!(
        (spaced.status, &spaced.body[..]),
        (200, &b"with a space"[..])
    );
    assert_eq!(
        spaced.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    let query = get(addr, "/a%20b.txt?v=2");
    assert_eq!((query.status, &query.body[..]), (200, &b"with a space"[..]));
    let accent = get(addr, "/sub/caf%C3%A9.txt");
    assert_eq!((accent.status, &accent.body[..]), (200, &b"accent"[..]));
    assert_eq!(get(addr, "/sub/").status, 404, "no index.html in sub");
    // Malformed escapes are the client's error.
    for path in ["/a%2", "/a%zz.txt", "/%ff.txt", "/a%2fb.txt", "/a%00.txt"] {
        let answer = get(addr, path);
        assert_eq!(answer.status, 400, "{path}: {}", answer.head);
    }
}

fn dotfiles_and_symlinks_leading_out_are_refused(runtime: Runtime) {
    let site = Site::new("refused", runtime);
    let root = site.root();
    std::fs::write(root.join(".secret"), "DOT-SECRET").unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join(".git/config"), "DOT-SECRET").unwrap();
    std::fs::write(root.join("sub/page.txt"), "inside").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        symlink("../outside.txt", root.join("escape.txt")).unwrap();
        symlink("..", root.join("up")).unwrap();
        symlink(".secret", root.join("public.txt")).unwrap();
        symlink("sub/page.txt", root.join("inner.txt")).unwrap();
    }
    let web = site.serve(runtime);
    let addr = web.local_addr();

    let mut refused = vec!["/.secret", "/%2esecret", "/.git/config", "/sub/../.secret"];
    if cfg!(unix) {
        refused.extend(["/escape.txt", "/up/outside.txt", "/public.txt"]);
        let inner = get(addr, "/inner.txt");
        assert_eq!(
            (inner.status, &inner.body[..]),
            (200, &b"inside"[..]),
            "a link inside"
        );
    }
    for path in refused {
        let answer = get(addr, path);
        assert_eq!(answer.status, 404, "{path}: {}", answer.head);
        let body = String::from_utf8_lossy(&answer.body);
        assert!(!body.contains("SECRET"), "{path}: {body}");
    }
}

fn traversal_is_refused_however_spelled(runtime: Runtime) {
    let site = Site::new("traversal", runtime);
    let web = site.serve(runtime);
    let addr = web.local_addr();
    for (path, status) in [
        ("/../outside.txt", 404),
        ("/sub/../../outside.txt", 404),
        ("/%2e%2e/outside.txt", 404),
        ("/%2E%2E/outside.txt", 404),
        ("/.%2e/outside.txt", 404),
        ("/..\\outside.txt", 404),
        ("/sub\\..\\..\\outside.txt", 404),
        ("/..%2foutside.txt", 400),
        ("/..%5coutside.txt", 400),
        ("//etc/passwd", 404),
        ("/../../../../../../etc/passwd", 404),
        ("/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", 404),
    ] {
        let answer = get(addr, path);
        let body = String::from_utf8_lossy(&answer.body);
        assert!(
            !body.contains("OUTSIDE-SECRET") && !body.contains("root:"),
            "{path}: {body}"
        );
        assert_eq!(answer.status, status, "{path}: {}", answer.head);
    }
    // The index is still there.
    assert_eq!(get(addr, "/").body, b"<h1>index</h1>");
}

fn every_static_and_plain_answer_says_nosniff(runtime: Runtime) {
    let site = Site::new("nosniff", runtime);
    std::fs::write(site.root().join("data.json"), "{}").unwrap();
    let web = site.serve(runtime);
    let addr = web.local_addr();
    for (request, status) in [
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 200),
        ("GET /data.json HTTP/1.1\r\nHost: x\r\n\r\n", 200),
        ("HEAD /data.json HTTP/1.1\r\nHost: x\r\n\r\n", 200),
        ("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        ("GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            405,
        ),
    ] {
        let answer = parse(&exchange(addr, request));
        assert_eq!(answer.status, status, "{request:?}: {}", answer.head);
        assert_eq!(
            answer.header("x-content-type-options"),
            Some("nosniff"),
            "{request:?}: {}",
            answer.head
        );
    }
    assert_eq!(
        get(addr, "/data.json").header("content-type"),
        Some("application/json")
    );
}

fn a_file_over_https_arrives_whole(runtime: Runtime) {
    let (server_tls, client_tls) = support::self_signed_tls();
    let client_tls = Arc::new(client_tls);

    let site = Site::new("tls", runtime);
    let len = 3 << 20;
    write_pattern_file(&site.root().join("file.bin"), len);
    let web = WebServer::start(
        WebServerOptions::new()
            .addr("127.0.0.1:0")
            .unwrap()
            .runtime(runtime)
            .tls(Arc::new(server_tls))
            .static_dir(site.root()),
    )
    .unwrap();
    let request = |method: &str| {
        let tcp = TcpStream::connect(web.local_addr()).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = rustls::ClientConnection::new(Arc::clone(&client_tls), name).unwrap();
        let mut stream = rustls::StreamOwned::new(tls, tcp);
        let line = format!("{method} /file.bin HTTP/1.1\r\nHost: localhost\r\n\r\n");
        stream.write_all(line.as_bytes()).unwrap();
        let mut raw = Vec::new();
        let mut byte = [0u8];
        while !raw.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            raw.push(byte[0]);
        }
        let response = parse(&raw);
        assert_eq!(response.status, 200, "{}", response.head);
        assert_eq!(response.content_length(), Some(len as u64));
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        (response, stream)
    };

    let (_, mut stream) = request("GET");
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).unwrap();
    assert!(
        body.iter().enumerate().all(|(i, &b)| b == pattern(i)),
        "the file's bytes"
    );
    // Nothing follows the body.
    let mut more = [0u8; 1];
    assert!(!matches!(stream.read(&mut more), Ok(n) if n > 0));

    let (_, mut stream) = request("HEAD");
    assert!(
        !matches!(stream.read(&mut more), Ok(n) if n > 0),
        "no body to HEAD"
    );
}
