// kafkajs transactions against kop: a transactional producer commits three records and aborts two,
// a consume-transform-produce step sends its input offsets to a transaction that commits, and a
// read_committed consumer reports what it gets. Prints one JSON line; exits non-zero on failure.
//
//   node transactions.js <bootstrap> <topic>
'use strict';

const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic] = process.argv.slice(2);
const input = `${topic}-in`;
const groupId = `${topic}-group`;

async function readCommitted(kafka, from, wanted) {
  const consumer = kafka.consumer({ groupId: `${from}-reader`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic: from, fromBeginning: true });
  const seen = [];
  await new Promise((resolve) => {
    let quiet = setTimeout(resolve, 8000);
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value.toString());
        clearTimeout(quiet);
        quiet = setTimeout(resolve, seen.length >= wanted ? 2000 : 8000);
      },
    });
  });
  await consumer.disconnect();
  return seen;
}

async function main() {
  const kafka = new Kafka({ clientId: 'kop-kafkajs-txn', brokers: [bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }, { topic: input, numPartitions: 1 }], waitForLeaders: true });

  const producer = kafka.producer({ transactionalId: `${topic}-tx`, maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  let txn = await producer.transaction();
  await txn.send({ topic, messages: ['c0', 'c1', 'c2'].map((value) => ({ value })) });
  await txn.commit();
  txn = await producer.transaction();
  await txn.send({ topic, messages: ['a0', 'a1'].map((value) => ({ value })) });
  await txn.abort();

  // Consume-transform-produce: the input's offsets commit with the output.
  const plain = kafka.producer();
  await plain.connect();
  await plain.send({ topic: input, messages: [{ value: 'x0' }, { value: 'x1' }] });
  await plain.disconnect();
  txn = await producer.transaction();
  await txn.send({ topic, messages: [{ value: 'from-x0' }, { value: 'from-x1' }] });
  await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: input, partitions: [{ partition: 0, offset: '2' }] }] });
  await txn.commit();
  await producer.disconnect();

  const committed = await readCommitted(kafka, topic, 5);
  const offsets = await admin.fetchOffsets({ groupId, topics: [input] });
  await admin.disconnect();
  console.log(JSON.stringify({ committed, inputOffset: offsets[0].partitions[0].offset }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
