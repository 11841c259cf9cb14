//! Reading topics back: a whole-topic reader for tests, tools and the dead-letter commands.
//!
//! The long-running consumer-group service lives with `ingest`; this module holds what reads a
//! topic from the beginning without a group (assign, not subscribe), so it never moves anyone's
//! committed offsets.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::{ClientSettings, Error};

/// A message read back from a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key bytes (empty when absent).
    pub key: Vec<u8>,
    /// Payload bytes (empty when absent).
    pub payload: Vec<u8>,
    /// Headers in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The message's timestamp, milliseconds since the epoch, when it has one.
    pub timestamp_ms: Option<i64>,
}

impl Received {
    /// The first header named `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_slice())
    }
}

/// How long a topic must stay quiet, once past its reported high watermarks, before
/// [`read_topic`] decides it has everything.
const QUIET: Duration = Duration::from_millis(1500);

/// Reads every message of `topic` present now, in partition then offset order. Blocking;
/// gives up after `timeout`.
///
/// It reads at least up to each partition's reported high watermark and then until the topic
/// has been quiet for a moment, because Tansu 0.6.0 reports a high watermark that lags the
/// true end of a partition by up to one batch (the messages are there; the watermark is low).
pub fn read_topic(
    settings: &ClientSettings,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<Received>, Error> {
    let consumer: BaseConsumer = settings
        .client_config()
        .set("group.id", "cyberflag-reader")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "20")
        .set("isolation.level", "read_uncommitted")
        .create()
        .map_err(Error::Client)?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(Error::Broker)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut end: BTreeMap<i32, i64> = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for &partition in &partitions {
        let (_, high) = consumer
            .fetch_watermarks(topic, partition, Duration::from_secs(10))
            .map_err(Error::Broker)?;
        end.insert(partition, high);
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .map_err(Error::Client)?;
    }
    let mut received = Vec::new();
    consumer.assign(&assignment).map_err(Error::Client)?;
    let deadline = Instant::now() + timeout;
    let mut position: BTreeMap<i32, i64> = BTreeMap::new();
    let mut last_message = Instant::now();
    loop {
        let past_watermarks = end
            .iter()
            .all(|(p, high)| position.get(p).copied().unwrap_or(-1) + 1 >= *high);
        if past_watermarks && last_message.elapsed() >= QUIET {
            break;
        }
        if Instant::now() > deadline {
            return Err(Error::Broker(
                rdkafka::error::KafkaError::MessageConsumption(
                    rdkafka::types::RDKafkaErrorCode::OperationTimedOut,
                ),
            ));
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        last_message = Instant::now();
        let message = message.map_err(Error::Broker)?;
        let headers = crate::owned_headers(&message);
        position.insert(message.partition(), message.offset());
        received.push(Received {
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec).unwrap_or_default(),
            payload: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            headers,
            timestamp_ms: message.timestamp().to_millis(),
        });
    }
    received.sort_by_key(|m| (m.partition, m.offset));
    Ok(received)
}
