// kafkajs over TLS with SASL/PLAIN (its own TLS setup and SASL code): a client with the right
// password produces and reads back through a group; one with a wrong password is refused with an
// authentication error. Prints one JSON line; exits non-zero with the reason on any failure.
//
//   node secure.js <bootstrap> <topic> <ca.pem> <user> <password>
'use strict';

const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');

const [bootstrap, topic, caFile, username, password] = process.argv.slice(2);

function client(secret) {
  return new Kafka({
    clientId: 'kop-compat-kafkajs-secure',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
    ssl: { ca: [fs.readFileSync(caFile, 'utf-8')] },
    sasl: { mechanism: 'plain', username, password: secret },
    retry: { retries: 1 },
  });
}

async function main() {
  const kafka = client(password);
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  const values = Array.from({ length: 10 }, (_, i) => `secret-${i}`);
  await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) });
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: `${topic}-group` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`consumed ${seen.length} of 10`)), 60000);
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(message.value.toString());
        if (seen.length === values.length) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  if (JSON.stringify(seen) !== JSON.stringify(values)) {
    throw new Error(`read back ${JSON.stringify(seen)}`);
  }

  let refused = null;
  const intruder = client(`${password}-wrong`).admin();
  try {
    await intruder.connect();
    await intruder.listTopics();
  } catch (e) {
    refused = e.name;
  } finally {
    await intruder.disconnect();
  }
  if (refused === null) {
    throw new Error('a wrong password was accepted');
  }
  console.log(JSON.stringify({ consumed: seen.length, refused }));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e && e.stack ? e.stack : String(e));
    process.exit(1);
  },
);
