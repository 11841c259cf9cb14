//! Fuzzes the API's query-parameter parser with arbitrary `key=value&…` strings.
#![no_main]

use std::collections::HashMap;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let params: HashMap<String, String> = text
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for grouping in [true, false] {
        if let Ok(request) = api::params::parse(&params, grouping) {
            // Whatever parses names only known dimensions and valid dates.
            if let (Some(from), Some(to)) = (request.query.from, request.query.to) {
                assert!(from <= to);
            }
        }
    }
});
