//! Fuzzes what ingest does with a Kafka message: verify the envelope (any key id, any
//! signature, any payload), then normalise and validate what parsed.
#![no_main]

use wire::{Keyring, Secret, Signer};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut keyring = Keyring::new();
    keyring.insert("west-mercia-1", "west-mercia", Secret::from_bytes([1; 32]));
    // Half the inputs arrive correctly signed, so the fuzzer reaches normalisation.
    let signer = Signer::new("west-mercia-1", Secret::from_bytes([1; 32]));
    let signature = if data.first().is_some_and(|b| b % 2 == 0) {
        signer.sign(data).into_bytes()
    } else {
        data.iter().take(64).copied().collect()
    };
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 29).expect("a date");
    if let Ok(message) = ingest::verify(&keyring, Some(b"west-mercia-1"), Some(&signature), data) {
        let _ = ingest::normalise(&message, chrono::Utc::now(), today);
    }
});
