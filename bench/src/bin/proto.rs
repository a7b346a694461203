//! Micro-benchmark of the sans-IO core `ws-proto` alone: no sockets, no runtime, no threads.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml --target-dir target/bench --bin proto
//! cargo run --release --manifest-path bench/Cargo.toml --target-dir target/bench --bin proto -- --seconds 1
//! cargo run --release --manifest-path bench/Cargo.toml --target-dir target/bench --bin proto -- --tsv
//! ```
//!
//! For each payload size (16 B, 128 B, 1 KiB, 16 KiB, 64 KiB, 1 MiB) it measures:
//!
//! * `decode`: a server-role [`Connection`] receiving masked client Text frames: frame parsing,
//!   unmasking, incremental UTF-8 validation and taking the events out. The payload is valid
//!   UTF-8 with about half of its bytes in 2-, 3- and 4-byte characters, not just ASCII. One pass
//!   feeds a prepared buffer of about 4 MiB of payload (at least one frame), encoded beforehand by
//!   a client-role connection, in 64 KiB reads as the adapters do: [`Connection::receive`] while
//!   [`Connection::wants_read`] holds, then the drive contract's drain (output, transport
//!   actions, [`Connection::poll_event`] until `None`).
//! * `decode-binary`: the same with Binary frames: parsing and unmasking, no UTF-8 validation.
//! * `encode`: a server-role connection queueing Text messages with [`Connection::send_text`]
//!   until at least 64 KiB is queued (one message when it is larger), then draining the queue as
//!   the adapters' write step does: [`Connection::output_vectored`] into up to 64 slices, which
//!   are handed to [`black_box`] in place of a vectored write, and
//!   [`Connection::consume_output`] of their total. A pass sends about 4 MiB of payload.
//! * `encode-client`: the same with a client-role connection, so each frame is also masked (mask
//!   keys from a [`SeededKeySource`], so runs are deterministic).
//! * `memcpy`: the reference, `copy_from_slice` between two preallocated buffers of the payload
//!   size, repeated for about 4 MiB per pass. Its buffers stay in cache, which the
//!   connections' larger working sets may not.
//!
//! Throughput is payload bytes per second in GB/s (10^9 bytes/s); frame headers and mask keys
//! are not counted. Every row shows its ratio to `memcpy` of the same size, measured in the same
//! run. Each case runs a warm-up of a tenth of its budget, then 5 repeats of a fifth of the
//! budget each (`--seconds`, default 0.3 s per case), and reports the **best** repeat, the one
//! least disturbed by other load on the machine.
//!
//! The results are checked so the benchmark cannot silently measure nothing: before timing,
//! each case decodes its frames (or its encoded output, with a peer of the other role) once and
//! compares every message with the payload, and every timed pass asserts the number of messages
//! and bytes that came out.
//!
//! Options: `--seconds S` sets the measured time per case; `--only OP` and `--size BYTES` run
//! one operation or one size (for profiling); `--tsv` prints tab-separated
//! `op`, `size` (bytes), `gbps` and `memcpy_gbps` lines under a header instead of the table.

use std::hint::black_box;

use std::io::IoSlice;
use std::time::{Duration, Instant};
use ws_bench::text_payload;

use ws_proto::{Config, Connection, ConnectionState, Event, Role, SeededKeySource};

/// Payload sizes measured, in bytes.
const SIZES: [usize; 6] = [16, 128, 1 << 10, 16 << 10, 64 << 10, 1 << 20];

/// Payload bytes handled per timed pass (rounded down to whole messages, at least one).
const PASS_BYTES: usize = 4 << 20;

/// Bytes per simulated transport read, as the adapters read (`ws_adapter::READ_CHUNK`).
const READ_CHUNK: usize = 64 << 10;

/// Output queued before the encode cases drain it.
const WRITE_BATCH: usize = 64 << 10;

/// Slices per vectored write, as the adapters use.
const MAX_SLICES: usize = 64;

/// Timed repeats per case; the best one is reported.
const REPEATS: u32 = 5;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Memcpy,
    Decode,
    DecodeBinary,
    Encode,
    EncodeClient,
}

impl Op {
    const ALL: [Op; 5] = [
        Op::Memcpy,
        Op::Decode,
        Op::DecodeBinary,
        Op::Encode,
        Op::EncodeClient,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::Memcpy => "memcpy",
            Op::Decode => "decode",
            Op::DecodeBinary => "decode-binary",
            Op::Encode => "encode",
            Op::EncodeClient => "encode-client",
        }
    }
}

struct Row {
    op: Op,
    size: usize,
    gbps: f64,
    memcpy_gbps: f64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut seconds = 0.3f64;
    let mut tsv = false;
    let mut only: Option<String> = None;
    let mut sizes = SIZES.to_vec();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a value")?;
                seconds = value.parse()?;
                if !(seconds.is_finite() && seconds > 0.0) {
                    return Err(format!("--seconds must be a positive number, not {value}").into());
                }
            }
            "--tsv" => tsv = true,
            "--only" => only = Some(args.next().ok_or("--only needs an operation")?),
            "--size" => {
                let value = args.next().ok_or("--size needs a number of bytes")?;
                sizes = vec![value.parse()?];
            }
            "-h" | "--help" => {
                println!("usage: proto [--seconds S] [--tsv] [--only OP] [--size BYTES]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other} (try --help)").into()),
        }
    }
    let budget = Duration::from_secs_f64(seconds);

    // Measured size by size, so each row and its memcpy reference see similar machine load.
    let mut rows = Vec::new();
    let ops: Vec<Op> = Op::ALL
        .into_iter()
        .filter(|op| only.as_deref().is_none_or(|name| name == op.name()))
        .collect();
    if ops.is_empty() {
        return Err("--only: no such operation (memcpy, decode, encode, encode-client)".into());
    }
    for &size in &sizes {
        let memcpy_gbps = bench_memcpy(size, budget);
        for &op in &ops {
            let gbps = match op {
                Op::Memcpy => memcpy_gbps,
                Op::Decode => bench_decode(size, budget, false),
                Op::DecodeBinary => bench_decode(size, budget, true),
                Op::Encode => bench_encode(Role::Server, size, budget),
                Op::EncodeClient => bench_encode(Role::Client, size, budget),
            };
            rows.push(Row {
                op,
                size,
                gbps,
                memcpy_gbps,
            });
        }
    }

    if tsv {
        println!("op\tsize\tgbps\tmemcpy_gbps");
        for op in Op::ALL {
            for row in rows.iter().filter(|row| row.op == op) {
                println!(
                    "{}\t{}\t{:.4}\t{:.4}",
                    op.name(),
                    row.size,
                    row.gbps,
                    row.memcpy_gbps
                );
            }
        }
    } else {
        println!(
            "{:<14} {:>7} {:>9} {:>10}",
            "op", "size", "GB/s", "vs memcpy"
        );
        for op in Op::ALL {
            for row in rows.iter().filter(|row| row.op == op) {
                println!(
                    "{:<14} {:>7} {:>9.3} {:>10.3}",
                    op.name(),
                    size_label(row.size),
                    row.gbps,
                    row.gbps / row.memcpy_gbps
                );
            }
        }
    }
    Ok(())
}

fn size_label(size: usize) -> String {
    match size {
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

/// The server's configuration: the defaults, with the frame and message limits raised to at
/// least the largest payload (the defaults, 16 MiB and 64 MiB, already allow it).
fn config() -> Config {
    let largest = SIZES[SIZES.len() - 1];
    let defaults = Config::default();
    let max_frame = defaults.max_frame_size.max(largest);
    let max_message = defaults.max_message_size.max(largest);
    defaults
        .with_max_frame_size(max_frame)
        .with_max_message_size(max_message)
}

/// Messages per pass for a payload size.
fn messages_per_pass(size: usize) -> usize {
    (PASS_BYTES / size).max(1)
}

/// Runs `pass` (which handles `bytes_per_pass` payload bytes) for a warm-up and then
/// [`REPEATS`] timed repeats; returns the best repeat's GB/s.
fn measure(budget: Duration, bytes_per_pass: usize, mut pass: impl FnMut()) -> f64 {
    let warm_up = budget / 10;
    let start = Instant::now();
    loop {
        pass();
        if start.elapsed() >= warm_up {
            break;
        }
    }
    let per_repeat = budget / REPEATS;
    let mut best = 0.0f64;
    for _ in 0..REPEATS {
        let start = Instant::now();
        let mut passes = 0u64;
        let elapsed = loop {
            pass();
            passes += 1;
            let elapsed = start.elapsed();
            if elapsed >= per_repeat {
                break elapsed;
            }
        };
        let gbps = (passes as f64 * bytes_per_pass as f64) / elapsed.as_secs_f64() / 1e9;
        best = best.max(gbps);
    }
    best
}

// ------------------------------------------------------------------------------------ memcpy

fn bench_memcpy(size: usize, budget: Duration) -> f64 {
    let copies = messages_per_pass(size);
    let src = text_payload(size).into_bytes();
    let mut dst = vec![0u8; size];
    dst.copy_from_slice(&src);
    assert_eq!(dst, src, "memcpy: the copy differs from its source");
    dst.fill(0);
    measure(budget, copies * size, || {
        for _ in 0..copies {
            black_box(&mut dst[..]).copy_from_slice(black_box(&src[..]));
        }
        black_box(&dst);
    })
}

// ------------------------------------------------------------------------------------ decode

/// Text frames (unmasking and UTF-8 validation), or binary ones (unmasking only).
fn bench_decode(size: usize, budget: Duration, binary: bool) -> f64 {
    let payload = text_payload(size);
    let messages = messages_per_pass(size);
    let wire = client_frames(&payload, messages, binary);
    let now = Instant::now();

    // Check once that every frame decodes to the payload.
    let mut server = Connection::new(Role::Server, config(), now);
    let mut seen = 0usize;
    decode_pass(&mut server, &wire, now, |text| {
        assert_eq!(
            text,
            payload.as_bytes(),
            "decode: a message differs from the payload"
        );
        seen += 1;
    });
    assert_eq!(seen, messages, "decode: wrong number of messages");

    let mut server = Connection::new(Role::Server, config(), now);
    measure(budget, messages * size, || {
        let mut count = 0usize;
        let mut bytes = 0usize;
        decode_pass(&mut server, &wire, now, |text| {
            count += 1;
            bytes += black_box(text).len();
        });
        assert_eq!(
            (count, bytes),
            (messages, messages * size),
            "decode: a pass did not deliver every message"
        );
    })
}

/// `messages` masked Text (or Binary) frames of `payload`, as a client connection writes them.
fn client_frames(payload: &str, messages: usize, binary: bool) -> Vec<u8> {
    let mut client = client(Instant::now());
    let mut wire = Vec::new();
    for _ in 0..messages {
        let sent = if binary {
            client.send_binary(payload.as_bytes())
        } else {
            client.send_text(payload)
        };
        sent.expect("client send failed with its output drained");
        while !client.output().is_empty() {
            let out = client.output();
            let n = out.len();
            wire.extend_from_slice(out);
            client.consume_output(n);
        }
    }
    wire
}

fn client(now: Instant) -> Connection {
    Connection::with_key_source(
        Role::Client,
        config(),
        Box::new(SeededKeySource::new(0x5EED)),
        now,
    )
}

/// Feeds `wire` to `server` in [`READ_CHUNK`] reads, draining after each read as the drive
/// contract says, and hands every Text message to `on_text`.
fn decode_pass(
    server: &mut Connection,
    wire: &[u8],
    now: Instant,
    mut on_message: impl FnMut(&[u8]),
) {
    for chunk in wire.chunks(READ_CHUNK) {
        // The events of the previous read were all taken, so reading is always allowed here.
        assert!(server.wants_read(), "decode: the server stopped reading");
        server.receive(now, black_box(chunk));
        // A server that only receives data frames writes nothing and has no transport action.
        assert_eq!(server.output_len(), 0, "decode: the server queued output");
        assert_eq!(server.poll_transport(), None, "decode: a transport action");
        while let Some(event) = server.poll_event() {
            match event {
                Event::Text(text) => on_message(text.as_bytes()),
                Event::Binary(data) => on_message(&data),
                other => panic!("decode: unexpected event {other:?}"),
            }
        }
    }
    assert_eq!(
        server.state(),
        ConnectionState::Open,
        "decode: the connection left the open state"
    );
}

// ------------------------------------------------------------------------------------ encode

fn bench_encode(role: Role, size: usize, budget: Duration) -> f64 {
    let payload = text_payload(size);
    let messages = messages_per_pass(size);
    let masked = role == Role::Client;
    let wire_per_message = header_len(size, masked) + size;
    let now = Instant::now();
    let new_connection = || match role {
        Role::Server => Connection::new(Role::Server, config(), now),
        Role::Client => client(now),
    };

    validate_encode(new_connection(), &payload, now);

    let mut connection = new_connection();
    measure(budget, messages * size, || {
        let mut written = 0usize;
        for _ in 0..messages {
            connection
                .send_text(black_box(&payload))
                .expect("send_text failed with the output drained below its bound");
            if connection.output_len() >= WRITE_BATCH {
                written += drain_output(&mut connection);
            }
        }
        written += drain_output(&mut connection);
        assert_eq!(
            written,
            messages * wire_per_message,
            "encode: a pass wrote the wrong number of bytes"
        );
    })
}

/// Writes the whole output queue the way the adapters' write step does, with [`black_box`]
/// standing in for the vectored write; returns the bytes written.
fn drain_output(connection: &mut Connection) -> usize {
    let mut total = 0;
    while connection.output_len() > 0 {
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let n = connection.output_vectored(&mut slices);
        let slices = black_box(&slices[..n]);
        let written: usize = slices.iter().map(|slice| slice.len()).sum();
        connection.consume_output(written);
        total += written;
    }
    assert_eq!(
        connection.poll_transport(),
        None,
        "encode: a transport action"
    );
    total
}

/// Length of a frame header (RFC 6455 §5.2) for a payload of `size` bytes.
fn header_len(size: usize, masked: bool) -> usize {
    let length = match size {
        0..=125 => 0,
        126..=0xFFFF => 2,
        _ => 8,
    };
    2 + length + if masked { 4 } else { 0 }
}

/// Sends two messages on `connection`, checks the masking bit of the frames, and has a peer of
/// the other role decode them back to the payload.
fn validate_encode(mut connection: Connection, payload: &str, now: Instant) {
    let role = connection.role();
    let mut wire = Vec::new();
    for _ in 0..2 {
        connection
            .send_text(payload)
            .expect("send_text failed on a fresh connection");
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        let n = connection.output_vectored(&mut slices);
        for slice in &slices[..n] {
            wire.extend_from_slice(slice);
        }
        let written = slices[..n].iter().map(|slice| slice.len()).sum();
        connection.consume_output(written);
    }
    let frame_len = header_len(payload.len(), role == Role::Client) + payload.len();
    assert_eq!(wire.len(), 2 * frame_len, "encode: wrong frame length");
    let mask_bit = wire[1] & 0x80 != 0;
    assert_eq!(mask_bit, role == Role::Client, "encode: wrong masking");

    let mut peer = match role {
        Role::Server => client(now),
        Role::Client => Connection::new(Role::Server, config(), now),
    };
    peer.receive(now, &wire);
    for _ in 0..2 {
        match peer.poll_event() {
            Some(Event::Text(text)) => {
                assert_eq!(text, payload, "encode: a message differs from the payload");
            }
            other => panic!("encode: the peer got {other:?} instead of the message"),
        }
    }
    assert_eq!(
        peer.poll_event(),
        None,
        "encode: the peer got more than sent"
    );
}
