//! Fuzzes the PoliceUkStreet reader with arbitrary file contents.
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::read_all(data, "city-of-london", wire::Dialect::PoliceUkStreet, None);
});
