//! An idempotent producer whose acknowledgements are awaited in send order.
//!
//! Callers hand messages to [`Publisher::send`], which returns a [`Delivery`] to await. Because
//! the producer is idempotent (`enable.idempotence=true`, `acks=all`) librdkafka's own retries
//! never duplicate or reorder a message within a partition, and a caller that awaits deliveries
//! in the order it sent them learns a contiguous acknowledged prefix: exactly what a checkpoint
//! may advance to.

use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;

use crate::{ClientSettings, Error};

/// Where an acknowledged message landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    /// Partition.
    pub partition: i32,
    /// Offset within the partition.
    pub offset: i64,
}

/// A message to publish.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// Message key (selects the partition).
    pub key: &'a [u8],
    /// Payload bytes.
    pub payload: &'a [u8],
    /// Headers, in order.
    pub headers: &'a [(&'a str, &'a [u8])],
}

/// A pending acknowledgement.
pub type Delivery = rdkafka::producer::DeliveryFuture;

/// An idempotent producer bound to one topic.
#[derive(Clone)]
pub struct Publisher {
    producer: FutureProducer,
    topic: String,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// An idempotent, LZ4-compressing producer for `topic`.
    ///
    /// `delivery_timeout` bounds how long librdkafka retries one message before reporting it
    /// failed; callers treat that as fatal and resume from their checkpoint.
    pub fn new(
        settings: &ClientSettings,
        topic: impl Into<String>,
        delivery_timeout: Duration,
    ) -> Result<Self, Error> {
        let producer: FutureProducer = settings
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("compression.type", "lz4")
            .set("linger.ms", "5")
            // At most `GroupConsumer`'s REWIND messages per batch (see group.rs).
            .set("batch.num.messages", crate::group::REWIND.to_string())
            .set("queue.buffering.max.messages", "200000")
            .set(
                "message.timeout.ms",
                delivery_timeout.as_millis().to_string(),
            )
            .create()
            .map_err(Error::Client)?;
        Ok(Self {
            producer,
            topic: topic.into(),
        })
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Queues a message and returns its pending acknowledgement. When librdkafka's queue is
    /// full this waits (polling) until there is room, so memory stays bounded.
    pub async fn send(&self, message: Outgoing<'_>) -> Result<Delivery, Error> {
        let mut headers = OwnedHeaders::new_with_capacity(message.headers.len());
        for (key, value) in message.headers {
            headers = headers.insert(Header {
                key,
                value: Some(*value),
            });
        }
        let mut record = FutureRecord::to(&self.topic)
            .key(message.key)
            .payload(message.payload)
            .headers(headers);
        loop {
            match self.producer.send_result(record) {
                Ok(delivery) => return Ok(delivery),
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    returned,
                )) => {
                    record = returned;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((error, _)) => return Err(Error::Broker(error)),
            }
        }
    }

    /// Resolves a pending acknowledgement.
    pub async fn acknowledged(delivery: Delivery) -> Result<Ack, Error> {
        match delivery.await {
            Ok(Ok(delivered)) => Ok(Ack {
                partition: delivered.partition,
                offset: delivered.offset,
            }),
            Ok(Err((error, _))) => Err(Error::Broker(error)),
            Err(_cancelled) => Err(Error::Broker(rdkafka::error::KafkaError::Canceled)),
        }
    }

    /// Waits until every queued message is acknowledged or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> Result<(), Error> {
        self.producer
            .flush(Timeout::After(timeout))
            .map_err(Error::Broker)
    }
}
