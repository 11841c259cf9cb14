//! Fuzzes the national NDJSON record decoder (the push body's lines) and validation.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data)
        && let Ok(record) = model::CrimeRecord::from_json(line)
    {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).expect("a date");
        let _ = model::validate(&record, today);
    }
});
