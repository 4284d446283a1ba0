//! The offsets log through the embedded host: commits survive a restart, a log full of
//! superseded commits is compacted at start without changing what a restart sees, and offsets
//! sent to a transaction survive a restart pending, until its marker commits or drops them.

use std::sync::Arc;

use kop::config::Config;
use kop::group::{CommitItem, GroupCoordinator};
use kop::host::embedded::EmbeddedHost;
use kop::partition::{ProducerStateSettings, TopicRegistry};
use kop::topic_config::TopicConfig;

async fn open(config: &Config) -> (Arc<TopicRegistry>, Arc<GroupCoordinator>) {
    let host = EmbeddedHost::new(config).expect("host");
    let topics = Arc::new(
        TopicRegistry::load(host, TopicConfig::defaults(config), ProducerStateSettings::from_config(config))
            .await
            .expect("topics"),
    );
    topics.get_or_create("orders", 1, Default::default()).await.expect("topic");
    let groups =
        GroupCoordinator::start(&topics, kop::group::GroupConfig::from_config(config)).await.expect("coordinator");
    (topics, groups)
}

fn item(offset: i64) -> CommitItem {
    CommitItem { topic: "orders".into(), partition: 0, offset, leader_epoch: -1, metadata: Some(format!("m{offset}")) }
}

#[tokio::test]
async fn commits_survive_restarts_and_compaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config { data_dir: dir.path().to_path_buf(), offsets_topic_num_partitions: 3, ..Config::default() };
    {
        let (_, groups) = open(&config).await;
        for offset in 0..1500 {
            let results = groups.commit("g", "", None, -1, vec![item(offset)]).await.expect("commit");
            assert!(results.iter().all(|r| r.is_ok()));
        }
    }
    let partition = kop::partition::internal_log::partition_for("g", 3) as i32;
    let end_before = {
        let (topics, groups) = open(&config).await; // replays 1500 records, then compacts
        let committed = groups.fetch_offsets("g", Some(vec![("orders".into(), 0)])).expect("coordinator loaded");
        assert_eq!(committed[0].2.as_ref().map(|c| (c.offset, c.metadata.as_str())), Some((1499, "m1499")));
        topics.get("__consumer_offsets").and_then(|t| t.partition(partition).map(|p| p.end_offset())).expect("end")
    };
    assert!(end_before > 1500, "compaction appended a snapshot of the live state");
    let (topics, groups) = open(&config).await;
    let committed = groups.fetch_offsets("g", None).expect("coordinator loaded");
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0].2.as_ref().map(|c| c.offset), Some(1499));
    let end_after = topics.get("__consumer_offsets").and_then(|t| t.partition(partition).map(|p| p.end_offset()));
    // A restart adds at most one snapshot of the live state (here: one offset and one group record);
    // whole segments before a snapshot are trimmed once they roll.
    assert!(end_after.is_some_and(|e| e - end_before <= 2), "{end_after:?} vs {end_before}");
}

fn committed(groups: &Arc<GroupCoordinator>, group: &str) -> Option<i64> {
    let found = groups.fetch_offsets(group, Some(vec![("orders".into(), 0)])).expect("coordinator loaded");
    found[0].2.as_ref().map(|c| c.offset)
}

#[tokio::test]
async fn offsets_in_a_transaction_survive_a_restart_until_its_marker() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config { data_dir: dir.path().to_path_buf(), offsets_topic_num_partitions: 1, ..Config::default() };
    let (kept, dropped) = ((7, 0), (8, 0));
    {
        let (_, groups) = open(&config).await;
        groups.commit("g", "", None, -1, vec![item(5)]).await.expect("commit");
        for (producer, group, offset) in [(kept, "g", 10), (dropped, "h", 20)] {
            let results =
                groups.txn_commit(group, producer, "", None, -1, vec![item(offset)]).await.expect("txn commit");
            assert!(results.iter().all(|r| r.is_ok()));
        }
        assert_eq!(committed(&groups, "g"), Some(5), "not before the commit");
    }
    {
        let (_, groups) = open(&config).await;
        assert_eq!(committed(&groups, "g"), Some(5), "still pending after a restart");
        assert!(groups.unstable_offsets("g").contains(&("orders".to_string(), 0)), "and known to be pending");
        groups.end_txn(kept, 0, true).await.expect("commit marker");
        groups.end_txn(dropped, 0, false).await.expect("abort marker");
        assert_eq!((committed(&groups, "g"), committed(&groups, "h")), (Some(10), None));
    }
    let (_, groups) = open(&config).await;
    assert_eq!((committed(&groups, "g"), committed(&groups, "h")), (Some(10), None), "the markers replay too");
    assert!(groups.unstable_offsets("g").is_empty());
}

#[tokio::test]
async fn a_fenced_producers_offsets_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config { data_dir: dir.path().to_path_buf(), offsets_topic_num_partitions: 1, ..Config::default() };
    let (_, groups) = open(&config).await;
    // The successor's InitProducerId aborts the old transaction at the next epoch, whether or not
    // it sent offsets yet.
    groups.end_txn((7, 2), 0, false).await.expect("abort marker");
    let late = groups.txn_commit("g", (7, 1), "", None, -1, vec![item(11)]).await;
    assert_eq!(late, Err(kafka_protocol::error::ResponseError::ProducerFenced));
    assert!(groups.txn_commit("g", (7, 2), "", None, -1, vec![item(12)]).await.is_ok());
    groups.end_txn((7, 2), 0, true).await.expect("commit marker");
    assert_eq!(committed(&groups, "g"), Some(12), "only the successor's offsets count");
}
