//! `cyberflag topics create` against the real broker.

use crate::support::{cyberflag, kafka, succeed, unique};

#[test]
fn topics_create_twice_succeeds_and_leaves_the_same_topics() {
    let raw = unique("it.raw");
    let dlq = unique("it.dlq");
    let vars = [
        ("CYBERFLAG_KAFKA_RAW_TOPIC", raw.as_str()),
        ("CYBERFLAG_KAFKA_DLQ_TOPIC", dlq.as_str()),
        ("CYBERFLAG_KAFKA_RAW_PARTITIONS", "6"),
        ("CYBERFLAG_KAFKA_DLQ_PARTITIONS", "2"),
    ];
    let first = succeed(cyberflag(&vars).args(["topics", "create"]));
    assert!(
        first.contains(&format!("created  {raw} (6 partition(s))")),
        "{first}"
    );
    assert!(
        first.contains(&format!("created  {dlq} (2 partition(s))")),
        "{first}"
    );
    let second = succeed(cyberflag(&vars).args(["topics", "create"]));
    assert!(
        second.contains(&format!("exists   {raw} (6 partition(s))")),
        "{second}"
    );
    assert!(
        second.contains(&format!("exists   {dlq} (2 partition(s))")),
        "{second}"
    );

    let found = bus::describe_topics(&kafka(), &[raw.clone(), dlq.clone()]).unwrap();
    assert_eq!(found.get(&raw), Some(&6));
    assert_eq!(found.get(&dlq), Some(&2));
    let listed = succeed(cyberflag(&vars).args(["topics", "list"]));
    assert!(
        listed.contains(&format!("{raw}\t6 partition(s)")),
        "{listed}"
    );
}

#[test]
fn a_topic_with_fewer_partitions_than_configured_is_an_error() {
    let raw = unique("it.raw.narrow");
    let dlq = unique("it.dlq.narrow");
    let mut vars = vec![
        ("CYBERFLAG_KAFKA_RAW_TOPIC", raw.as_str()),
        ("CYBERFLAG_KAFKA_DLQ_TOPIC", dlq.as_str()),
        ("CYBERFLAG_KAFKA_RAW_PARTITIONS", "2"),
    ];
    succeed(cyberflag(&vars).args(["topics", "create"]));
    vars[2] = ("CYBERFLAG_KAFKA_RAW_PARTITIONS", "4");
    let output = cyberflag(&vars)
        .args(["topics", "create"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("2 partition(s) but 4 are configured"),
        "{stderr}"
    );
}
