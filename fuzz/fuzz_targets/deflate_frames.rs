#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_proto::fuzz::deflate_frames(data));
