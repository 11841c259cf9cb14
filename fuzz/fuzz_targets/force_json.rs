//! Fuzzes the ForceJson reader with arbitrary file contents.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::read_all(data, "avon-and-somerset", wire::Dialect::ForceJson, Some("avon-and-somerset.toml"));
});
