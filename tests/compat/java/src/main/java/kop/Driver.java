package kop;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.Stores;

/**
 * Drives the Java Kafka client for the compat suite. Each command prints what it saw, one fact per
 * line ({@code key value...}), and exits non-zero on any client error, so the Python test asserts
 * on the client's own view.
 *
 * <pre>
 * produce BOOTSTRAP TOPIC COUNT CODEC          idempotent, acks=all, headers on every record
 * consume BOOTSTRAP TOPIC GROUP COUNT ASSIGNOR [IDLE_MS]
 *                                              a group member (classic protocol) that commits after
 *                                              each poll; stops at COUNT records, or once it has
 *                                              seen none for IDLE_MS
 * admin BOOTSTRAP TOPIC                         topics, partitions, configs, offsets, records, groups
 * transact BOOTSTRAP TOPIC TRANSACTIONAL_ID     commits, aborts, is fenced by a second producer of
 *                                              the id, then reads read_committed
 * wordcount BOOTSTRAP INPUT OUTPUT APP_ID STATE_DIR
 *                                              a Kafka Streams word count (exactly_once_v2, a state
 *                                              store and a repartition), running until killed
 * </pre>
 */
public final class Driver {
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "produce" -> produce(args[1], args[2], Integer.parseInt(args[3]), args[4]);
            case "consume" -> consume(args[1], args[2], args[3], Integer.parseInt(args[4]), args[5],
                args.length > 6 ? Long.parseLong(args[6]) : TIMEOUT.toMillis());
            case "admin" -> admin(args[1], args[2]);
            case "transact" -> transact(args[1], args[2], args[3]);
            case "wordcount" -> wordcount(args[1], args[2], args[3], args[4], args[5]);
            default -> throw new IllegalArgumentException("unknown command " + args[0]);
        }
    }

    private static void produce(String bootstrap, String topic, int count, String codec) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        try (KafkaProducer<String, String> producer =
                 new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                ProducerRecord<String, String> record = new ProducerRecord<>(topic, "k" + (i % 3), "v" + i);
                record.headers().add("seq", Integer.toString(i).getBytes());
                sent.add(producer.send(record));
            }
            for (Future<RecordMetadata> f : sent) {
                RecordMetadata m = f.get(60, TimeUnit.SECONDS);
                System.out.println("acked " + m.partition() + " " + m.offset());
            }
        }
    }

    private static KafkaProducer<String, String> transactional(String bootstrap, String txnId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        KafkaProducer<String, String> producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
        producer.initTransactions();
        return producer;
    }

    /**
     * Commits c0..c2, aborts a0 and a1, leaves "open" in a transaction that a second producer of
     * the same id fences ("fenced"), commits c3 from that one, then prints what a read_committed
     * consumer gets ("record VALUE") and the id's epoch at the end ("epoch N").
     */
    private static void transact(String bootstrap, String topic, String txnId) throws Exception {
        try (KafkaProducer<String, String> first = transactional(bootstrap, txnId)) {
            first.beginTransaction();
            for (String v : List.of("c0", "c1", "c2")) {
                first.send(new ProducerRecord<>(topic, 0, null, v));
            }
            first.commitTransaction();
            System.out.println("committed 3");
            first.beginTransaction();
            first.send(new ProducerRecord<>(topic, 0, null, "a0"));
            first.send(new ProducerRecord<>(topic, 0, null, "a1"));
            first.flush();
            first.abortTransaction();
            System.out.println("aborted 2");
            first.beginTransaction();
            first.send(new ProducerRecord<>(topic, 0, null, "open")).get(60, TimeUnit.SECONDS);
            try (KafkaProducer<String, String> second = transactional(bootstrap, txnId)) {
                try {
                    first.commitTransaction();
                    System.out.println("not-fenced");
                } catch (KafkaException e) {
                    System.out.println("fenced");
                }
                second.beginTransaction();
                second.send(new ProducerRecord<>(topic, 0, null, "c3"));
                second.commitTransaction();
                System.out.println("committed 1");
            }
        }
        // Transactions version 2 moves the epoch at every end: how far it went says which ran.
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            TransactionDescription d = admin.describeTransactions(List.of(txnId)).description(txnId).get(60, TimeUnit.SECONDS);
            System.out.println("epoch " + d.producerEpoch());
        }
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        try (KafkaConsumer<String, String> consumer =
                 new KafkaConsumer<>(c, new StringDeserializer(), new StringDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long idleSince = System.currentTimeMillis();
            while (System.currentTimeMillis() - idleSince < 3000) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(300))) {
                    System.out.println("record " + r.value());
                    idleSince = System.currentTimeMillis();
                }
            }
        }
    }

    /** Counts the words of INPUT's values into OUTPUT (word, count) until the process is killed. */
    private static void wordcount(String bootstrap, String input, String output, String appId, String stateDir)
            throws InterruptedException {
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        // Long transactions of promptly sent records: a kill leaves much written but not committed.
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "1000");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), "0");
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_POLL_RECORDS_CONFIG), "20");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), "6000");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG), "1000");
        Serde<String> strings = Serdes.String();
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(strings, strings))
            .flatMapValues(line -> List.of(line.split(" ")))
            .groupBy((key, word) -> word, Grouped.with(strings, strings))
            .count(Materialized.as(Stores.inMemoryKeyValueStore("counts")))
            .toStream()
            .to(output, Produced.with(strings, Serdes.Long()));
        try (KafkaStreams streams = new KafkaStreams(builder.build(), p)) {
            streams.setUncaughtExceptionHandler(e -> {
                e.printStackTrace();
                return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_APPLICATION;
            });
            streams.start();
            System.out.println("started");
            while (streams.state() != KafkaStreams.State.ERROR && streams.state() != KafkaStreams.State.NOT_RUNNING) {
                Thread.sleep(200);
            }
            System.out.println("stopped " + streams.state());
            System.exit(1);
        }
    }

    private static void consume(String bootstrap, String topic, String group, int count, String assignor,
                                long idleMs) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, switch (assignor) {
            case "eager" -> "org.apache.kafka.clients.consumer.RangeAssignor";
            case "cooperative" -> "org.apache.kafka.clients.consumer.CooperativeStickyAssignor";
            default -> throw new IllegalArgumentException("assignor " + assignor);
        });
        try (KafkaConsumer<String, String> consumer =
                 new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {}

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    System.out.println("assigned " + partitions.size());
                }
            });
            int seen = 0;
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            long lastSeen = System.nanoTime();
            while (seen < count && System.nanoTime() < deadline
                   && System.nanoTime() - lastSeen < TimeUnit.MILLISECONDS.toNanos(idleMs)) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    lastSeen = System.nanoTime();
                    var seq = r.headers().lastHeader("seq");
                    String header = seq == null ? "-" : new String(seq.value());
                    System.out.println("record " + r.partition() + " " + r.offset() + " " + r.key() + " " + r.value()
                        + " " + header);
                    seen++;
                }
                consumer.commitSync();
            }
            Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(consumer.assignment());
            for (Map.Entry<Integer, Long> e : new TreeMap<>(byPartition(committed)).entrySet()) {
                System.out.println("committed " + e.getKey() + " " + e.getValue());
            }
        }
    }

    private static Map<Integer, Long> byPartition(Map<TopicPartition, OffsetAndMetadata> committed) {
        Map<Integer, Long> out = new HashMap<>();
        committed.forEach((tp, o) -> out.put(tp.partition(), o == null ? -1 : o.offset()));
        return out;
    }

    private static void admin(String bootstrap, String topic) throws Exception {
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1).configs(Map.of("retention.ms", "3600000"))))
                .all().get();
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            System.out.println("described " + d.name() + " " + d.partitions().size());
            admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(3))).all().get();
            // Kafka's brokers learn of new partitions just after the controller answers.
            long grownBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            do {
                d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            } while (d.partitions().size() < 3 && System.nanoTime() < grownBy && sleep(100));
            System.out.println("grown " + d.partitions().size());

            ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET)))).all().get();
            ConfigEntry retention = admin.describeConfigs(List.of(resource)).all().get().get(resource).get("retention.ms");
            System.out.println("config retention.ms " + retention.value());

            try (KafkaProducer<String, String> producer = new KafkaProducer<>(
                     Map.of("bootstrap.servers", bootstrap), new StringSerializer(), new StringSerializer())) {
                for (int i = 0; i < 10; i++) {
                    producer.send(new ProducerRecord<>(topic, 0, null, "r" + i)).get();
                }
            }
            TopicPartition zero = new TopicPartition(topic, 0);
            admin.deleteRecords(Map.of(zero, RecordsToDelete.beforeOffset(4))).all().get();
            ListOffsetsResult offsets = admin.listOffsets(Map.of(zero, OffsetSpec.earliest()));
            System.out.println("earliest " + offsets.partitionResult(zero).get().offset());
            offsets = admin.listOffsets(Map.of(zero, OffsetSpec.latest()));
            System.out.println("latest " + offsets.partitionResult(zero).get().offset());

            String group = topic + "-admin-group";
            admin.alterConsumerGroupOffsets(group, Map.of(zero, new OffsetAndMetadata(7))).all().get();
            Map<TopicPartition, OffsetAndMetadata> listed =
                admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            System.out.println("group offset " + listed.get(zero).offset());
            Set<String> groups = admin.listGroups().all().get().stream()
                .map(g -> g.groupId()).collect(Collectors.toSet());
            System.out.println("group listed " + groups.contains(group));
            ConsumerGroupDescription g = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            System.out.println("group state " + g.groupState());
            admin.deleteConsumerGroups(List.of(group)).all().get();
            System.out.println("group deleted");

            admin.deleteTopics(List.of(topic)).all().get();
            long goneBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            boolean stillListed;
            do {
                stillListed = admin.listTopics().names().get().contains(topic);
            } while (stillListed && System.nanoTime() < goneBy && sleep(100));
            System.out.println("deleted " + !stillListed);
        }
    }

    /** Sleeps; true, so it can continue a loop's condition. */
    private static boolean sleep(long millis) throws InterruptedException {
        Thread.sleep(millis);
        return true;
    }
}
