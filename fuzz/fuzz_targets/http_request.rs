#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_fuzz::http_request(data));
