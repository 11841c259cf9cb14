//! Topic administration: idempotent creation and partition counts.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use crate::{ClientSettings, Error};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// A topic cyberflag needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Topic name.
    pub name: String,
    /// Partition count.
    pub partitions: i32,
    /// Replication factor.
    pub replication_factor: i32,
}

/// What `create_topics` did for one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicOutcome {
    /// The topic was created.
    Created {
        /// Topic name.
        name: String,
        /// Partition count.
        partitions: i32,
    },
    /// The topic was already there with the configured partitions (or more).
    Existed {
        /// Topic name.
        name: String,
        /// Partition count the broker reports.
        partitions: i32,
    },
}

impl fmt::Display for TopicOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Created { name, partitions } => {
                write!(f, "created  {name} ({partitions} partition(s))")
            }
            Self::Existed { name, partitions } => {
                write!(f, "exists   {name} ({partitions} partition(s))")
            }
        }
    }
}

/// Creates every topic that does not exist yet; running it again changes nothing.
///
/// A topic that exists with fewer partitions than configured is an error rather than being
/// altered: every version of one crime must stay on one partition, and adding partitions would
/// move keys.
pub async fn create_topics(
    settings: &ClientSettings,
    specs: &[TopicSpec],
) -> Result<Vec<TopicOutcome>, Error> {
    let names: Vec<String> = specs.iter().map(|spec| spec.name.clone()).collect();
    let before = describe_topics(settings, &names)?;
    let missing: Vec<&TopicSpec> = specs
        .iter()
        .filter(|spec| !before.contains_key(&spec.name))
        .collect();

    if !missing.is_empty() {
        let admin: AdminClient<DefaultClientContext> =
            settings.client_config().create().map_err(Error::Client)?;
        let new_topics: Vec<NewTopic<'_>> = missing
            .iter()
            .map(|spec| {
                NewTopic::new(
                    &spec.name,
                    spec.partitions,
                    TopicReplication::Fixed(spec.replication_factor),
                )
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(REQUEST_TIMEOUT));
        let results = admin
            .create_topics(&new_topics, &options)
            .await
            .map_err(Error::Broker)?;
        for result in results {
            match result {
                Ok(topic) => tracing::info!(%topic, "created topic"),
                // Another process created it between our look and our request.
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(Error::CreateTopic {
                        topic,
                        reason: code.to_string(),
                    });
                }
            }
        }
    }

    let after = wait_for_topics(settings, &names).await?;
    let mut outcomes = Vec::with_capacity(specs.len());
    for spec in specs {
        let actual = after.get(&spec.name).copied().unwrap_or(0);
        if actual < spec.partitions {
            return Err(Error::PartitionMismatch {
                topic: spec.name.clone(),
                expected: spec.partitions,
                actual,
            });
        }
        let name = spec.name.clone();
        outcomes.push(if before.contains_key(&spec.name) {
            TopicOutcome::Existed {
                name,
                partitions: actual,
            }
        } else {
            TopicOutcome::Created {
                name,
                partitions: actual,
            }
        });
    }
    Ok(outcomes)
}

/// Waits until the broker's metadata lists every topic (creation is asynchronous on some
/// brokers), for at most the request timeout.
async fn wait_for_topics(
    settings: &ClientSettings,
    names: &[String],
) -> Result<BTreeMap<String, i32>, Error> {
    let deadline = std::time::Instant::now() + REQUEST_TIMEOUT;
    loop {
        let found = describe_topics(settings, names)?;
        if names.iter().all(|name| found.contains_key(name)) || std::time::Instant::now() > deadline
        {
            return Ok(found);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Partition counts of those `names` that exist, as the broker's metadata reports them.
pub fn describe_topics(
    settings: &ClientSettings,
    names: &[String],
) -> Result<BTreeMap<String, i32>, Error> {
    let consumer: BaseConsumer = settings.client_config().create().map_err(Error::Client)?;
    let metadata = consumer
        .fetch_metadata(None, REQUEST_TIMEOUT)
        .map_err(Error::Broker)?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|topic| names.iter().any(|name| name == topic.name()))
        .filter(|topic| topic.error().is_none() && !topic.partitions().is_empty())
        .map(|topic| (topic.name().to_owned(), topic.partitions().len() as i32))
        .collect())
}

/// Low and high watermarks of every partition of `topic`: `(partition, low, high)`; the
/// partition holds offsets `low..high`.
pub fn watermarks(settings: &ClientSettings, topic: &str) -> Result<Vec<(i32, i64, i64)>, Error> {
    let consumer: BaseConsumer = settings.client_config().create().map_err(Error::Client)?;
    let metadata = consumer
        .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
        .map_err(Error::Broker)?;
    let mut marks = Vec::new();
    for partition in metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic)
        .flat_map(|t| t.partitions())
    {
        let (low, high) = consumer
            .fetch_watermarks(topic, partition.id(), REQUEST_TIMEOUT)
            .map_err(Error::Broker)?;
        marks.push((partition.id(), low, high));
    }
    marks.sort_unstable();
    Ok(marks)
}

/// A consumer group's position on `topic`, read without joining the group: per partition, the
/// committed offset (`None` before the first commit) and the high watermark.
pub fn group_progress(
    settings: &ClientSettings,
    group: &str,
    topic: &str,
) -> Result<Vec<(i32, Option<i64>, i64)>, Error> {
    let consumer: BaseConsumer = settings
        .client_config()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(Error::Client)?;
    let marks = watermarks(settings, topic)?;
    let mut partitions = rdkafka::TopicPartitionList::new();
    for (partition, ..) in &marks {
        partitions.add_partition(topic, *partition);
    }
    let committed = consumer
        .committed_offsets(partitions, REQUEST_TIMEOUT)
        .map_err(Error::Broker)?;
    Ok(marks
        .iter()
        .map(|(partition, _, high)| {
            let offset =
                committed
                    .find_partition(topic, *partition)
                    .and_then(|e| match e.offset() {
                        rdkafka::Offset::Offset(o) => Some(o),
                        _ => None,
                    });
            (*partition, offset, *high)
        })
        .collect())
}
