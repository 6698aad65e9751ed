//! tansu's storage with the record log swapped for ours (`memory_log`):
//! producing, fetching, offsets and record deletion go to the bounded log;
//! topics, groups, committed offsets, producers and everything else go to
//! tansu's memory engine as before.
//!
//! Transactions: a transactional batch is kept at once, as every batch is,
//! so a `read_committed` consumer sees it before its commit; the embedded
//! broker offers no transactional isolation (`--retention none` hands the
//! log back to tansu's engine).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tansu_sans_io::{
    ConfigResource, ErrorCode, IsolationLevel, ListOffset, ScramMechanism,
    create_topics_request::CreatableTopic,
    delete_groups_response::DeletableGroupResult,
    delete_records_request::DeleteRecordsTopic,
    delete_records_response::{DeleteRecordsPartitionResult, DeleteRecordsTopicResult},
    describe_cluster_response::DescribeClusterBroker,
    describe_configs_response::DescribeConfigsResult,
    describe_topic_partitions_response::DescribeTopicPartitionsResponseTopic,
    incremental_alter_configs_request::AlterConfigsResource,
    incremental_alter_configs_response::AlterConfigsResourceResponse,
    list_groups_response::ListedGroup,
    record::deflated,
    txn_offset_commit_response::TxnOffsetCommitResponseTopic,
};
use tansu_storage::{
    BrokerRegistrationRequest, Error, GroupDetail, ListOffsetResponse, MetadataResponse, NamedGroupDetail,
    OffsetCommitRequest, OffsetStage, ProducerIdResponse, Result, ScramCredential, Storage, StorageContainer, TopicId,
    Topition, TxnAddPartitionsRequest, TxnAddPartitionsResponse, TxnOffsetCommitRequest, UpdateError, Version,
};
use url::Url;
use uuid::Uuid;

use super::memory_log::MemoryLog;

/// tansu's engine for all but the records, which the bounded log keeps.
#[derive(Debug, Clone)]
pub struct LogStorage {
    inner: StorageContainer,
    log: Arc<MemoryLog>,
    topic_names: Arc<Mutex<BTreeMap<Uuid, String>>>,
}

impl LogStorage {
    pub fn new(inner: StorageContainer, log: Arc<MemoryLog>) -> LogStorage {
        LogStorage {
            inner,
            log,
            topic_names: Arc::default(),
        }
    }

    fn name_of(&self, topic: &TopicId) -> Option<String> {
        match topic {
            TopicId::Name(name) => Some(name.clone()),
            TopicId::Id(id) => self
                .topic_names
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(id)
                .cloned(),
        }
    }
}

/// `OffsetStage` has no constructor; it does have serde.
fn stage(log_start: i64, high: i64) -> Result<OffsetStage> {
    serde_json::from_value(serde_json::json!({
        "last_stable": high,
        "high_watermark": high,
        "log_start": log_start,
    }))
    .map_err(|e| Error::Message(format!("offset stage: {e}")))
}

#[async_trait]
impl Storage for LogStorage {
    async fn register_broker(&self, broker_registration: BrokerRegistrationRequest) -> Result<()> {
        self.inner.register_broker(broker_registration).await
    }

    async fn create_topic(&self, topic: CreatableTopic, validate_only: bool) -> Result<Uuid> {
        let name = topic.name.clone();
        let id = self.inner.create_topic(topic, validate_only).await?;
        if !validate_only {
            self.topic_names
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(id, name);
        }
        Ok(id)
    }

    async fn incremental_alter_resource(&self, resource: AlterConfigsResource) -> Result<AlterConfigsResourceResponse> {
        self.inner.incremental_alter_resource(resource).await
    }

    async fn delete_records(&self, topics: &[DeleteRecordsTopic]) -> Result<Vec<DeleteRecordsTopicResult>> {
        Ok(topics
            .iter()
            .map(|topic| {
                let partitions = topic.partitions.as_ref().map(|partitions| {
                    partitions
                        .iter()
                        .map(|p| {
                            let tp = Topition::new(topic.name.clone(), p.partition_index);
                            let (low, code) = match self.log.delete_before(&tp, p.offset) {
                                Some(low) => (low, ErrorCode::None),
                                None => (-1, ErrorCode::UnknownTopicOrPartition),
                            };
                            DeleteRecordsPartitionResult::default()
                                .partition_index(p.partition_index)
                                .low_watermark(low)
                                .error_code(code.into())
                        })
                        .collect()
                });
                DeleteRecordsTopicResult::default()
                    .name(topic.name.clone())
                    .partitions(partitions)
            })
            .collect())
    }

    async fn delete_topic(&self, topic: &TopicId) -> Result<ErrorCode> {
        let name = self.name_of(topic);
        let code = self.inner.delete_topic(topic).await?;
        if let Some(name) = name {
            self.log.drop_topic(&name);
        }
        Ok(code)
    }

    async fn brokers(&self) -> Result<Vec<DescribeClusterBroker>> {
        self.inner.brokers().await
    }

    async fn produce(&self, _transaction_id: Option<&str>, topition: &Topition, batch: deflated::Batch) -> Result<i64> {
        self.log.append(topition, batch).map_err(Error::Api)
    }

    async fn fetch(
        &self,
        topition: &'_ Topition,
        offset: i64,
        _min_bytes: u32,
        max_bytes: u32,
        _isolation: IsolationLevel,
    ) -> Result<Vec<deflated::Batch>> {
        Ok(self.log.fetch(topition, offset, max_bytes))
    }

    async fn offset_stage(&self, topition: &Topition) -> Result<OffsetStage> {
        let o = self.log.offsets(topition);
        stage(o.log_start, o.high)
    }

    async fn list_offsets(
        &self,
        _isolation_level: IsolationLevel,
        offsets: &[(Topition, ListOffset)],
    ) -> Result<Vec<(Topition, ListOffsetResponse)>> {
        Ok(offsets
            .iter()
            .map(|(tp, request)| {
                let o = self.log.offsets(tp);
                let offset = match request {
                    ListOffset::Earliest => o.log_start,
                    ListOffset::Latest => o.high,
                    ListOffset::Timestamp(at) => self.log.offset_for_time(tp, *at),
                };
                (
                    tp.clone(),
                    ListOffsetResponse {
                        error_code: ErrorCode::None,
                        timestamp: None,
                        offset: Some(offset),
                    },
                )
            })
            .collect())
    }

    async fn offset_commit(
        &self,
        group_id: &str,
        retention_time_ms: Option<Duration>,
        offsets: &[(Topition, OffsetCommitRequest)],
    ) -> Result<Vec<(Topition, ErrorCode)>> {
        self.inner.offset_commit(group_id, retention_time_ms, offsets).await
    }

    async fn offset_fetch(
        &self,
        group_id: Option<&str>,
        topics: &[Topition],
        require_stable: Option<bool>,
    ) -> Result<BTreeMap<Topition, i64>> {
        self.inner.offset_fetch(group_id, topics, require_stable).await
    }

    async fn committed_offset_topitions(&self, group_id: &str) -> Result<BTreeMap<Topition, i64>> {
        self.inner.committed_offset_topitions(group_id).await
    }

    async fn metadata(&self, topics: Option<&[TopicId]>) -> Result<MetadataResponse> {
        self.inner.metadata(topics).await
    }

    async fn upsert_user_scram_credential(
        &self,
        user: &str,
        mechanism: ScramMechanism,
        credential: ScramCredential,
    ) -> Result<()> {
        self.inner
            .upsert_user_scram_credential(user, mechanism, credential)
            .await
    }

    async fn delete_user_scram_credential(&self, user: &str, mechanism: ScramMechanism) -> Result<()> {
        self.inner.delete_user_scram_credential(user, mechanism).await
    }

    async fn user_scram_credential(&self, user: &str, mechanism: ScramMechanism) -> Result<Option<ScramCredential>> {
        self.inner.user_scram_credential(user, mechanism).await
    }

    async fn describe_config(
        &self,
        name: &str,
        resource: ConfigResource,
        keys: Option<&[String]>,
    ) -> Result<DescribeConfigsResult> {
        self.inner.describe_config(name, resource, keys).await
    }

    async fn list_groups(&self, states_filter: Option<&[String]>) -> Result<Vec<ListedGroup>> {
        self.inner.list_groups(states_filter).await
    }

    async fn delete_groups(&self, group_ids: Option<&[String]>) -> Result<Vec<DeletableGroupResult>> {
        self.inner.delete_groups(group_ids).await
    }

    async fn describe_groups(
        &self,
        group_ids: Option<&[String]>,
        include_authorized_operations: bool,
    ) -> Result<Vec<NamedGroupDetail>> {
        self.inner
            .describe_groups(group_ids, include_authorized_operations)
            .await
    }

    async fn describe_topic_partitions(
        &self,
        topics: Option<&[TopicId]>,
        partition_limit: i32,
        cursor: Option<Topition>,
    ) -> Result<Vec<DescribeTopicPartitionsResponseTopic>> {
        self.inner
            .describe_topic_partitions(topics, partition_limit, cursor)
            .await
    }

    async fn update_group(
        &self,
        group_id: &str,
        detail: GroupDetail,
        version: Option<Version>,
    ) -> Result<Version, UpdateError<GroupDetail>> {
        self.inner.update_group(group_id, detail, version).await
    }

    async fn init_producer(
        &self,
        transaction_id: Option<&str>,
        transaction_timeout_ms: i32,
        producer_id: Option<i64>,
        producer_epoch: Option<i16>,
    ) -> Result<ProducerIdResponse> {
        self.inner
            .init_producer(transaction_id, transaction_timeout_ms, producer_id, producer_epoch)
            .await
    }

    async fn txn_add_offsets(
        &self,
        transaction_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group_id: &str,
    ) -> Result<ErrorCode> {
        self.inner
            .txn_add_offsets(transaction_id, producer_id, producer_epoch, group_id)
            .await
    }

    async fn txn_add_partitions(&self, partitions: TxnAddPartitionsRequest) -> Result<TxnAddPartitionsResponse> {
        self.inner.txn_add_partitions(partitions).await
    }

    async fn txn_offset_commit(&self, offsets: TxnOffsetCommitRequest) -> Result<Vec<TxnOffsetCommitResponseTopic>> {
        self.inner.txn_offset_commit(offsets).await
    }

    async fn txn_end(
        &self,
        transaction_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        committed: bool,
    ) -> Result<ErrorCode> {
        self.inner
            .txn_end(transaction_id, producer_id, producer_epoch, committed)
            .await
    }

    async fn maintain(&self, now: SystemTime) -> Result<()> {
        self.log.enforce();
        self.inner.maintain(now).await
    }

    async fn cluster_id(&self) -> Result<String> {
        self.inner.cluster_id().await
    }

    async fn node(&self) -> Result<i32> {
        self.inner.node().await
    }

    async fn advertised_listener(&self) -> Result<Url> {
        self.inner.advertised_listener().await
    }

    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
}
