//! The in-process hot path of `ingest`, per core: signature check, envelope parse,
//! normalisation and validation, dedup identity and memory look-up. Figures in BENCHMARKS.md.

use std::hint::black_box;

use chrono::{NaiveDate, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ingest::dedup::{SeenVersions, identity};
use wire::{Dialect, Keyring, RawMessage, RawRecord, SCHEMA, Secret, Signer, SourcePosition};

const CODES: [(&str, u8); 6] = [
    ("71/17", 13),
    ("88A", 14),
    ("86/2", 15),
    ("19D", 14),
    ("22B", 12),
    ("071/17", 13),
];

/// Realistic signed payloads in the national schema, as adapters publish them.
fn messages(count: usize) -> Vec<(Vec<u8>, String)> {
    let signer = Signer::new("west-mercia-bench", Secret::from_bytes([7; 32]));
    (0..count)
        .map(|i| {
            let (code, age) = CODES[i % CODES.len()];
            let message = RawMessage {
                schema: SCHEMA.into(),
                force: "west-mercia".into(),
                dialect: Dialect::ForceCsv,
                adapter: "west-mercia-rms".into(),
                source: SourcePosition {
                    name: "0042-2019-03.csv".into(),
                    line: i as u64 + 2,
                },
                record: Some(RawRecord {
                    crime_ref: Some(format!("{:064x}", i as u128 * 0x9e37_79b9_7f4a_7c15)),
                    version: Some(format!("20190305{:06}", i % 1_000_000)),
                    status: Some("recorded".into()),
                    offence_code: Some(code.into()),
                    cyber: Some("true".into()),
                    recorded_date: Some(format!("2019-03-{:02}", i % 28 + 1)),
                    offence_from: Some("2019-02-01".into()),
                    offence_to: Some("2019-02-28".into()),
                    victim_age: Some(age.to_string()),
                    outcome: Some("OC18".into()),
                    lsoa: Some("E01032133".into()),
                    ..RawRecord::default()
                }),
                malformed: None,
            };
            let payload = message.to_bytes();
            let signature = signer.sign(&payload);
            (payload, signature)
        })
        .collect()
}

fn hot_path(c: &mut Criterion) {
    let mut keyring = Keyring::new();
    keyring.insert(
        "west-mercia-bench",
        "west-mercia",
        Secret::from_bytes([7; 32]),
    );
    let batch = messages(10_000);
    let today = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap_or_default();
    let now = Utc::now();
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("verify+normalise+dedup", |b| {
        b.iter(|| {
            let mut seen = SeenVersions::new(1_000_000);
            let mut stored = 0usize;
            for (payload, signature) in &batch {
                let raw = ingest::verify(
                    &keyring,
                    Some(b"west-mercia-bench"),
                    Some(signature.as_bytes()),
                    payload,
                );
                if let Ok(record) = raw.and_then(|raw| ingest::normalise(&raw, now, today)) {
                    let id = identity(&record);
                    if !seen.contains(id) {
                        seen.remember([id]);
                        stored += 1;
                    }
                }
            }
            black_box(stored)
        });
    });
    group.bench_function("normalise+dedup (signature checked elsewhere)", |b| {
        let parsed: Vec<RawMessage> = batch
            .iter()
            .filter_map(|(p, _)| RawMessage::from_bytes(p).ok())
            .collect();
        b.iter(|| {
            let mut seen = SeenVersions::new(1_000_000);
            for raw in &parsed {
                if let Ok(record) = ingest::normalise(raw, now, today) {
                    let id = identity(&record);
                    if !seen.contains(id) {
                        seen.remember([id]);
                    }
                }
            }
            black_box(seen.len())
        });
    });
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
