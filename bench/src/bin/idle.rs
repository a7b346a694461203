//! Idle memory per connection: opens N WebSocket connections to a server, holds them, and reads
//! the server's resident memory (VmRSS of its process) before, after the handshakes, and after
//! one 1 KiB message echoed on every connection.
//!
//! ```text
//! idle --addr 127.0.0.1:9002 --pid <server pid> --connections 10000 [--deflate]
//! ```
//!
//! With `--deflate` every connection offers permessage-deflate as browsers do
//! (`permessage-deflate; client_max_window_bits`, keeping its context), fails unless the server
//! accepts it, and the 1 KiB message is JSON-like text sent compressed (RFC 7692): what a
//! compressing connection costs once both directions have been used.
//!
//! The baseline is taken after one warm-up connection (so one-time costs such as the first
//! thread or executor start are not charged to the others). Linux only (/proc).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const MASK_KEY: [u8; 4] = [1, 2, 3, 4];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = String::from("127.0.0.1:9002");
    let mut pid = 0u32;
    let mut connections = 10_000usize;
    let mut path = String::from("/");
    let mut deflate = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--deflate" {
            deflate = true;
            continue;
        }
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--addr" => addr = value()?,
            "--pid" => pid = value()?.parse()?,
            "--connections" => connections = value()?.parse()?,
            "--path" => path = value()?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    if pid == 0 {
        return Err("--pid of the server is required".into());
    }
    let warm = open(&addr, &path, deflate)?;
    settle();
    let before = rss(pid)?;
    let threads_before = threads(pid)?;
    let start = Instant::now();
    let mut held = Vec::with_capacity(connections);
    for i in 0..connections {
        match open(&addr, &path, deflate) {
            Ok(tcp) => held.push(tcp),
            Err(e) => {
                eprintln!("connection {i} failed: {e}");
                break;
            }
        }
    }
    let opened = held.len();
    settle();
    let after_handshake = rss(pid)?;
    let threads_after = threads(pid)?;
    let handshake_secs = start.elapsed().as_secs_f64();
    let message = if deflate {
        // RSV1: compressed (RFC 7692 §6).
        let text = ws_bench::text_payload(1024);
        ws_bench::masked_frame(0xc1, &ws_bench::deflate_message(text.as_bytes()), MASK_KEY)
    } else {
        ws_bench::masked_frame(0x81, &[b'x'; 1024], MASK_KEY)
    };
    for tcp in &mut held {
        tcp.write_all(&message)?;
    }
    let mut echoed = 0;
    for tcp in &mut held {
        if read_frame(tcp).is_ok() {
            echoed += 1;
        }
    }
    settle();
    let after_message = rss(pid)?;
    let per = |bytes: i64| bytes as f64 / opened.max(1) as f64;
    println!(
        "connections={opened} handshakes_in={handshake_secs:.1}s rss_before={before} \
         rss_after_handshake={after_handshake} rss_after_message={after_message} \
         per_conn_after_handshake={:.0}B per_conn_after_message={:.0}B echoed={echoed} \
         server_threads_before={threads_before} server_threads_after={threads_after}",
        per(after_handshake as i64 - before as i64),
        per(after_message as i64 - before as i64),
    );
    drop(held);
    drop(warm);
    Ok(())
}

/// Lets the server finish what it was doing before memory is read.
fn settle() {
    std::thread::sleep(Duration::from_millis(1500));
}

fn open(addr: &str, path: &str, deflate: bool) -> std::io::Result<TcpStream> {
    let mut tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let offer = if deflate {
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    } else {
        ""
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    );
    tcp.write_all(request.as_bytes())?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    if !head.starts_with("HTTP/1.1 101") {
        return Err(std::io::Error::other(head));
    }
    if deflate && !head.to_ascii_lowercase().contains("permessage-deflate") {
        return Err(std::io::Error::other(format!(
            "the server declined permessage-deflate:\n{head}"
        )));
    }
    Ok(tcp)
}

/// Reads one unmasked frame with a 16-bit or 7-bit length.
fn read_frame(tcp: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head)?;
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            tcp.read_exact(&mut ext)?;
            u16::from_be_bytes(ext) as usize
        }
        127 => return Err(std::io::Error::other("unexpected 64-bit length")),
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload)?;
    Ok(payload)
}

fn rss(pid: u32) -> std::io::Result<u64> {
    status_field(pid, "VmRSS:").map(|kib| kib * 1024)
}

fn threads(pid: u32) -> std::io::Result<u64> {
    status_field(pid, "Threads:")
}

fn status_field(pid: u32, field: &str) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("{field} not found")))
}
