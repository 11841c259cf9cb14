//! A consumer-group member with explicit, synchronous offset commits.
//!
//! Auto-commit is off: the caller commits the next offset of each partition only after the
//! downstream stage acknowledged everything before it. Messages are copied out of librdkafka's
//! buffers on receipt ([`Incoming`]), so holding a batch never pins the consumer's memory.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};

use crate::{ClientSettings, Error};

/// A received message, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key bytes.
    pub key: Vec<u8>,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Headers in order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Producer or broker timestamp, milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

impl Incoming {
    /// The first header named `name`.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_slice())
    }
}

/// Counts rebalances so the caller can tell a batch spans one.
#[derive(Debug, Default, Clone)]
pub struct RebalanceCounter(Arc<AtomicU64>);

impl ClientContext for RebalanceCounter {}

/// How far before its committed offset a newly assigned partition is read again.
///
/// Tansu 0.6.0 answers a fetch that starts inside a record batch with the *next* batch,
/// silently skipping the rest of the batch (measured: a fetch from offset 1 returned offset 91
/// first). Starting at least one batch earlier guarantees the first batch returned begins at or
/// before the committed offset. Our producers cap batches at this many messages
/// (`batch.num.messages` in `producer.rs`); the records read twice are duplicates, which never
/// change a count. Against Apache Kafka this only costs a re-read after each rebalance.
pub const REWIND: i64 = 10_000;

impl ConsumerContext for RebalanceCounter {
    fn rebalance(
        &self,
        consumer: &rdkafka::consumer::BaseConsumer<Self>,
        err: rdkafka::types::RDKafkaRespErr,
        partitions: &mut TopicPartitionList,
    ) {
        use rdkafka::types::RDKafkaRespErr as Code;
        match err {
            Code::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                rewind(consumer, partitions);
                self.pre_rebalance(consumer, &Rebalance::Assign(partitions));
                if let Err(error) = consumer.assign(partitions) {
                    tracing::error!(%error, "cannot take the assigned partitions");
                }
                self.post_rebalance(consumer, &Rebalance::Assign(partitions));
            }
            Code::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.pre_rebalance(consumer, &Rebalance::Revoke(partitions));
                if let Err(error) = consumer.unassign() {
                    tracing::error!(%error, "cannot release the revoked partitions");
                }
                self.post_rebalance(consumer, &Rebalance::Revoke(partitions));
            }
            other => {
                tracing::error!(code = ?other, "rebalance error; releasing all partitions");
                let _ = consumer.unassign();
            }
        }
    }

    fn pre_rebalance(&self, _: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            tracing::info!(partitions = partitions.count(), "partitions revoked");
        }
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn post_rebalance(&self, _: &rdkafka::consumer::BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            tracing::info!(partitions = partitions.count(), "partitions assigned");
        }
    }
}

/// Sets each assigned partition's start to [`REWIND`] messages before its committed offset.
fn rewind(
    consumer: &rdkafka::consumer::BaseConsumer<RebalanceCounter>,
    partitions: &mut TopicPartitionList,
) {
    let committed = match consumer.committed_offsets(partitions.clone(), Duration::from_secs(10)) {
        Ok(committed) => committed,
        Err(error) => {
            // Without the committed offsets the partitions start where librdkafka decides
            // (the committed offset): a possible skip on Tansu, so say so loudly.
            tracing::error!(%error, "cannot read committed offsets to rewind the assignment");
            return;
        }
    };
    for element in committed.elements() {
        if let Offset::Offset(offset) = element.offset() {
            let start = Offset::Offset((offset - REWIND).max(0));
            if let Err(error) =
                partitions.set_partition_offset(element.topic(), element.partition(), start)
            {
                tracing::error!(%error, partition = element.partition(), "cannot rewind partition");
            }
        }
    }
}

/// A member of a consumer group on one topic.
pub struct GroupConsumer {
    consumer: StreamConsumer<RebalanceCounter>,
    rebalances: RebalanceCounter,
    topic: String,
}

impl std::fmt::Debug for GroupConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupConsumer")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl GroupConsumer {
    /// Joins `group` and subscribes to `topic`, starting from the earliest offset when the
    /// group has none. With `instance_id` the member is static (KIP-345): a restarted process
    /// with the same id takes over its predecessor's partitions at once instead of waiting for
    /// the dead member to be evicted.
    pub fn new(
        settings: &ClientSettings,
        group: &str,
        topic: &str,
        instance_id: Option<&str>,
    ) -> Result<Self, Error> {
        let rebalances = RebalanceCounter::default();
        let mut config = settings.client_config();
        if let Some(instance) = instance_id {
            config.set("group.instance.id", instance);
        }
        let consumer: StreamConsumer<RebalanceCounter> = config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // The local broker waits the full fetch wait on every fetch: keep it short.
            .set("fetch.wait.max.ms", "20")
            .set("isolation.level", "read_uncommitted")
            // A long ClickHouse outage keeps the loop retrying one batch; stay in the group.
            .set("max.poll.interval.ms", "1800000")
            .set("session.timeout.ms", "30000")
            // Bound what librdkafka prefetches (one queue for the whole consumer), so memory
            // stays bounded whatever the backlog; smaller starves fetching from Tansu
            // (BENCHMARKS.md has the trade-off measured).
            .set("queued.max.messages.kbytes", "32768")
            .create_with_context(rebalances.clone())
            .map_err(Error::Client)?;
        consumer.subscribe(&[topic]).map_err(Error::Client)?;
        Ok(Self {
            consumer,
            rebalances,
            topic: topic.to_owned(),
        })
    }

    /// The next message (waits).
    pub async fn recv(&self) -> Result<Incoming, Error> {
        let message = self.consumer.recv().await.map_err(Error::Broker)?;
        let headers = crate::owned_headers(&message);
        Ok(Incoming {
            topic: message.topic().to_owned(),
            partition: message.partition(),
            offset: message.offset(),
            key: message.key().map(<[u8]>::to_vec).unwrap_or_default(),
            payload: message.payload().map(<[u8]>::to_vec).unwrap_or_default(),
            headers,
            timestamp_ms: message.timestamp().to_millis(),
        })
    }

    /// How many rebalances this member has seen.
    pub fn rebalances(&self) -> u64 {
        self.rebalances.0.load(Ordering::SeqCst)
    }

    /// Partitions currently assigned to this member.
    pub fn assigned(&self) -> Vec<i32> {
        self.consumer
            .assignment()
            .map(|tpl| tpl.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default()
    }

    /// Commits `next` (partition → the next offset to read, i.e. last processed + 1)
    /// synchronously, for the partitions still assigned; returns the partitions skipped
    /// because they were revoked meanwhile (their new owner re-reads them).
    pub fn commit(&self, next: &BTreeMap<i32, i64>) -> Result<Vec<i32>, Error> {
        let assigned = self.assigned();
        let mut tpl = TopicPartitionList::new();
        let mut skipped = Vec::new();
        for (&partition, &offset) in next {
            if assigned.contains(&partition) {
                tpl.add_partition_offset(&self.topic, partition, Offset::Offset(offset))
                    .map_err(Error::Client)?;
            } else {
                skipped.push(partition);
            }
        }
        if tpl.count() > 0 {
            self.consumer
                .commit(&tpl, CommitMode::Sync)
                .map_err(Error::Broker)?;
        }
        Ok(skipped)
    }

    /// Stops fetching from the assigned partitions (downstream is slow or down).
    pub fn pause(&self) -> Result<(), Error> {
        let assignment = self.consumer.assignment().map_err(Error::Client)?;
        self.consumer.pause(&assignment).map_err(Error::Client)
    }

    /// Resumes fetching.
    pub fn resume(&self) -> Result<(), Error> {
        let assignment = self.consumer.assignment().map_err(Error::Client)?;
        self.consumer.resume(&assignment).map_err(Error::Client)
    }

    /// Per partition of the topic: the group's committed offset (`None` if none yet) and the
    /// broker's high watermark. On Tansu 0.6.0 the watermark can read up to one batch low.
    pub fn progress(&self) -> Result<Vec<(i32, Option<i64>, i64)>, Error> {
        let timeout = Duration::from_secs(10);
        let metadata = self
            .consumer
            .fetch_metadata(Some(&self.topic), timeout)
            .map_err(Error::Broker)?;
        let mut tpl = TopicPartitionList::new();
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == self.topic)
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        for &partition in &partitions {
            tpl.add_partition(&self.topic, partition);
        }
        let committed = self
            .consumer
            .committed_offsets(tpl, timeout)
            .map_err(Error::Broker)?;
        let mut progress = Vec::with_capacity(partitions.len());
        for element in committed.elements() {
            let (_, high) = self
                .consumer
                .fetch_watermarks(&self.topic, element.partition(), timeout)
                .map_err(Error::Broker)?;
            let committed = match element.offset() {
                Offset::Offset(offset) => Some(offset),
                _ => None,
            };
            progress.push((element.partition(), committed, high));
        }
        progress.sort_unstable();
        Ok(progress)
    }
}

impl GroupConsumer {
    /// Partitions of the topic that hold a message at or after the group's committed offset,
    /// found by reading (a group-less probe), not by trusting high watermarks: Tansu 0.6.0's
    /// can lag the true end by a batch. Waits up to `wait` for the first message of each.
    pub fn unread_partitions(
        &self,
        settings: &ClientSettings,
        wait: Duration,
    ) -> Result<Vec<i32>, Error> {
        let progress = self.progress()?;
        let probe: rdkafka::consumer::BaseConsumer = settings
            .client_config()
            .set("group.id", "cyberflag-probe")
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "20")
            .set("isolation.level", "read_uncommitted")
            .create()
            .map_err(Error::Client)?;
        let mut assignment = TopicPartitionList::new();
        let mut committed_at = BTreeMap::new();
        for (partition, committed, _) in &progress {
            let start =
                committed.map_or(Offset::Beginning, |c| Offset::Offset((c - REWIND).max(0)));
            committed_at.insert(*partition, committed.unwrap_or(0));
            assignment
                .add_partition_offset(&self.topic, *partition, start)
                .map_err(Error::Client)?;
        }
        probe.assign(&assignment).map_err(Error::Client)?;
        let deadline = std::time::Instant::now() + wait;
        let mut unread = std::collections::BTreeSet::new();
        while std::time::Instant::now() < deadline {
            match probe.poll(Duration::from_millis(50)) {
                Some(Ok(message))
                    if message.offset()
                        >= committed_at.get(&message.partition()).copied().unwrap_or(0) =>
                {
                    unread.insert(message.partition());
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(Error::Broker(error)),
                None => {}
            }
        }
        Ok(unread.into_iter().collect())
    }
}
