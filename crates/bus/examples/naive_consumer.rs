//! The naive baseline of BENCHMARKS.md: stream every message of a topic to standard output,
//! one payload per line, with no verification, normalisation or deduplication. Piped into
//! `clickhouse-client --query "INSERT INTO … FORMAT JSONEachRow"`, it is what a pipeline
//! without cyberflag's guarantees costs. (Debian's kcat cannot talk to Tansu, so it is written
//! with the rdkafka crate.) It stops once the topic has been quiet for two seconds.
//!
//! `cargo run --release -p bus --example naive_consumer -- TOPIC [BROKERS]`

use std::io::Write;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(topic) = args.next() else {
        eprintln!("usage: naive_consumer TOPIC [BROKERS]");
        std::process::exit(2);
    };
    let brokers = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let consumer: BaseConsumer = match ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "naive-baseline")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
    {
        Ok(consumer) => consumer,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::exit(1);
        }
    };
    let partitions = consumer
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .map(|m| {
            m.topics()
                .iter()
                .flat_map(|t| t.partitions().iter().map(|p| p.id()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut assignment = TopicPartitionList::new();
    for partition in partitions {
        let _ = assignment.add_partition_offset(&topic, partition, Offset::Beginning);
    }
    if let Err(error) = consumer.assign(&assignment) {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
    let mut last = Instant::now();
    while last.elapsed() < Duration::from_secs(2) {
        let Some(Ok(message)) = consumer.poll(Duration::from_millis(50)) else {
            continue;
        };
        last = Instant::now();
        let payload = message.payload().unwrap_or_default();
        if out
            .write_all(payload)
            .and_then(|()| out.write_all(b"\n"))
            .is_err()
        {
            return;
        }
    }
    let _ = out.flush();
}
