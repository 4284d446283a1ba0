// kafkajs against kop: admin, an idempotent gzip producer, a consumer group that commits, a second
// consumer of the group that resumes where the first stopped, group and config admin, and
// DeleteRecords. Prints one JSON line of findings; exits non-zero with the reason on any failure.
//
//   node roundtrip.js <bootstrap> <topic>
'use strict';

const { Kafka, CompressionTypes, ConfigResourceTypes, logLevel } = require('kafkajs');

const [bootstrap, topic] = process.argv.slice(2);
const PARTITIONS = 3;
const COUNT = 300;
const groupId = `${topic}-group`;

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

async function consumeUntil(kafka, wanted, seen) {
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, rebalanceTimeout: 10000, heartbeatInterval: 500 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const done = new Promise((resolve) => {
    consumer.run({
      autoCommitInterval: 100,
      eachMessage: async ({ partition, message }) => {
        seen.push({ partition, offset: Number(message.offset), key: message.key.toString(), value: message.value.toString() });
        if (seen.length >= wanted) {
          resolve();
        }
      },
    });
  });
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`consumed ${seen.length} of ${wanted}`)), 60000));
  await Promise.race([done, timeout]);
  await consumer.disconnect(); // commits what was consumed
}

async function main() {
  const kafka = new Kafka({ clientId: 'kop-compat-kafkajs', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  check(await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true }), 'topic not created');
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  check(meta.topics[0].partitions.length === PARTITIONS, `partitions: ${JSON.stringify(meta.topics[0].partitions)}`);

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const messages = [];
  for (let i = 0; i < COUNT; i++) {
    messages.push({ key: `key-${i % 17}`, value: `value-${i}`, headers: { n: `${i}` } });
  }
  for (let i = 0; i < COUNT; i += 50) {
    await producer.send({ topic, acks: -1, compression: CompressionTypes.GZIP, messages: messages.slice(i, i + 50) });
  }

  const first = [];
  await consumeUntil(kafka, COUNT, first);
  check(first.length === COUNT, `first consumer got ${first.length}`);
  check(new Set(first.map((m) => m.value)).size === COUNT, 'duplicates or losses in the first pass');
  for (let p = 0; p < PARTITIONS; p++) {
    const offsets = first.filter((m) => m.partition === p).map((m) => m.offset);
    check(offsets.every((o, i) => i === 0 || o === offsets[i - 1] + 1), `partition ${p} out of order`);
  }
  // The same key always lands in the same partition.
  const partitionOf = {};
  for (const m of first) {
    check(partitionOf[m.key] === undefined || partitionOf[m.key] === m.partition, `key ${m.key} in two partitions`);
    partitionOf[m.key] = m.partition;
  }

  const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
  const total = committed[0].partitions.reduce((sum, p) => sum + Number(p.offset), 0);
  check(total === COUNT, `committed offsets sum to ${total}: ${JSON.stringify(committed)}`);

  await producer.send({ topic, acks: -1, messages: [{ key: 'after', value: 'after-1' }, { key: 'after', value: 'after-2' }] });
  const second = [];
  await consumeUntil(kafka, 2, second);
  check(JSON.stringify(second.map((m) => m.value)) === JSON.stringify(['after-1', 'after-2']),
    `the group did not resume at its commit: ${JSON.stringify(second.map((m) => m.value))}`);
  await producer.disconnect();

  const groups = await admin.listGroups();
  check(groups.groups.some((g) => g.groupId === groupId), 'group not listed');
  const described = await admin.describeGroups([groupId]);
  check(described.groups[0].state === 'Empty', `group state ${described.groups[0].state}`);

  const configs = await admin.describeConfigs({
    includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }],
  });
  const policy = configs.resources[0].configEntries.find((c) => c.configName === 'cleanup.policy');
  check(policy && policy.configValue === 'delete', `cleanup.policy: ${JSON.stringify(configs.resources[0])}`);

  const p0 = committed[0].partitions.find((p) => p.partition === 0);
  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: p0.offset }] });
  const low = (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === 0).low;
  check(low === p0.offset, `low watermark ${low} after deleting up to ${p0.offset}`);

  await admin.deleteGroups([groupId]);
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
  console.log(JSON.stringify({ consumed: first.length, resumed: second.length, partitions: PARTITIONS }));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(1);
  },
);
