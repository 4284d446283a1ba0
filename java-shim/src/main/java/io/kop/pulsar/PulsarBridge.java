package io.kop.pulsar;

import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.bookkeeper.mledger.AsyncCallbacks;
import org.apache.bookkeeper.mledger.Entry;
import org.apache.bookkeeper.mledger.ManagedCursor;
import org.apache.bookkeeper.mledger.ManagedLedger;
import org.apache.bookkeeper.mledger.ManagedLedgerException;
import org.apache.bookkeeper.mledger.Position;
import org.apache.bookkeeper.mledger.PositionFactory;
import org.apache.pulsar.broker.PulsarService;
import org.apache.pulsar.broker.authentication.AuthenticationDataSource;
import org.apache.pulsar.broker.authentication.AuthenticationProvider;
import org.apache.pulsar.broker.authentication.AuthenticationService;
import org.apache.pulsar.broker.intercept.ManagedLedgerInterceptorImpl;
import org.apache.pulsar.broker.loadbalance.LoadManager;
import org.apache.pulsar.broker.namespace.LookupOptions;
import org.apache.pulsar.broker.service.BrokerService;
import org.apache.pulsar.broker.service.Topic;
import org.apache.pulsar.broker.service.persistent.PersistentTopic;
import org.apache.pulsar.client.admin.PulsarAdmin;
import org.apache.pulsar.client.admin.PulsarAdminException;
import org.apache.pulsar.client.admin.Topics;
import org.apache.pulsar.common.policies.data.Policies;
import org.apache.pulsar.common.policies.data.RetentionPolicies;
import org.apache.pulsar.common.policies.data.TenantInfo;
import org.apache.pulsar.common.allocator.PulsarByteBufAllocator;
import org.apache.pulsar.common.lookup.data.LookupData;
import org.apache.pulsar.common.naming.TopicName;
import org.apache.pulsar.metadata.api.MetadataCache;
import org.apache.pulsar.policies.data.loadbalancer.AdvertisedListener;
import org.apache.pulsar.policies.data.loadbalancer.LocalBrokerData;

/**
 * What the Rust core calls in the broker. Every method returns at once and completes its call id
 * later through {@link NativeCore}; none blocks the caller. Names are full Pulsar topic names.
 */
final class PulsarBridge {
    /** How many bytes of an entry's start carry its Pulsar headers and the Kafka batch header. */
    private static final int HEAD_BYTES = 512;

    /** Idle read cursors are deleted after this long. */
    private static final long CURSOR_IDLE_NANOS = 60_000_000_000L;

    /** The ManagedLedger property that keeps a partition's producer-state snapshot. */
    private static final String SNAPSHOT_PROPERTY = "kafka.producerState";

    /** A non-durable cursor parked at its next read position, waiting for the reader to continue. */
    private record Parked(ManagedLedger ledger, ManagedCursor cursor, long since) {
    }

    /** Parked cursors by {@code partition@ledgerId:entryId} of their read position. */
    private final Map<String, Parked> parked = new ConcurrentHashMap<>();

    private final BrokerService service;
    /** The Pulsar advertised listener whose address is each broker's Kafka listener, or null. */
    private final String listenerName;
    private volatile MetadataCache<LocalBrokerData> brokerDataCache;
    private final Map<String, PersistentTopic> open = new ConcurrentHashMap<>();

    PulsarBridge(BrokerService service, String listenerName) {
        this.service = service;
        this.listenerName = listenerName;
    }

    /**
     * Finds the broker that owns {@code partition}'s bundle. With a listener name the answer is
     * that broker's Kafka address (its advertised listener of that name); without one it is the
     * owner's Pulsar address, and {@code local} says whether that is this broker.
     */
    void lookup(String partition, long call) {
        lookup(partition, call, false);
    }

    private void lookup(String partition, long call, boolean assigned) {
        try {
            PulsarService pulsar = service.getPulsar();
            LookupOptions options = LookupOptions.builder().authoritative(false).readOnly(false)
                .loadTopicsInBundle(false).advertisedListenerName(listenerName).build();
            pulsar.getNamespaceService().getBrokerServiceUrlAsync(TopicName.get(partition), options)
                .whenComplete((found, error) -> {
                    if (error != null) {
                        fail(call, error);
                        return;
                    }
                    if (found == null || found.isEmpty()) {
                        NativeCore.fail(call, NativeCore.NOT_OWNER, "no broker owns " + partition + " yet");
                        return;
                    }
                    if (found.get().isRedirect()) {
                        // An unassigned bundle, asked of a broker that is not the leader: the answer
                        // is the leader's Pulsar address, which owns nothing. Have the leader assign
                        // it (an HTTP lookup follows the redirect), then look up again, once.
                        if (assigned) {
                            NativeCore.fail(call, NativeCore.NOT_OWNER, partition + " is being assigned");
                        } else {
                            assignThroughLeader(partition).whenComplete((v, e) -> lookup(partition, call, true));
                        }
                        return;
                    }
                    LookupData data = found.get().getLookupData();
                    String url = data.getBrokerUrl() != null ? data.getBrokerUrl() : data.getBrokerUrlTls();
                    if (url == null) {
                        NativeCore.fail(call, NativeCore.NOT_OWNER, "the lookup of " + partition + " named no broker");
                        return;
                    }
                    boolean local = listenerName == null && url.equals(pulsar.getBrokerServiceUrl());
                    isListenerUrl(url).whenComplete((listed, e) -> {
                        if (Boolean.FALSE.equals(listed)) {
                            NativeCore.fail(call, NativeCore.NOT_OWNER, "the lookup of " + partition + " named "
                                + url + ", which is no broker's " + listenerName + " listener");
                        } else {
                            NativeCore.completeOwner(call, local, url);
                        }
                    });
                });
        } catch (Exception e) {
            fail(call, e);
        }
    }

    /**
     * Whether {@code url} is some broker's address on the Kafka listener, as the brokers announce
     * their listeners in the load manager's data. A lookup now and then names an owner's internal
     * Pulsar address instead (seen with two brokers while bundles are assigned); handing that to
     * a Kafka client would send it to a port that does not speak Kafka, so such an answer is
     * refused and the caller asks again. Without a listener name, or without announced data
     * (another load manager), the lookup is believed.
     */
    private CompletableFuture<Boolean> isListenerUrl(String url) {
        if (listenerName == null) {
            return CompletableFuture.completedFuture(true);
        }
        try {
            MetadataCache<LocalBrokerData> cache = brokerData();
            return cache.getChildren(LoadManager.LOADBALANCE_BROKERS_ROOT).thenCompose(ids -> {
                List<CompletableFuture<Optional<LocalBrokerData>>> all = new ArrayList<>();
                for (String id : ids) {
                    all.add(cache.get(LoadManager.LOADBALANCE_BROKERS_ROOT + "/" + id));
                }
                return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0])).thenApply(v -> {
                    boolean announced = false;
                    for (CompletableFuture<Optional<LocalBrokerData>> one : all) {
                        Optional<LocalBrokerData> data = one.join();
                        if (data.isEmpty() || data.get().getAdvertisedListeners() == null) {
                            continue;
                        }
                        announced = true;
                        AdvertisedListener listener = data.get().getAdvertisedListeners().get(listenerName);
                        if (listener != null && (url.equals(String.valueOf(listener.getBrokerServiceUrl()))
                                || url.equals(String.valueOf(listener.getBrokerServiceUrlTls())))) {
                            return true;
                        }
                    }
                    return !announced;
                });
            }).exceptionally(e -> true);
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(true);
        }
    }

    private MetadataCache<LocalBrokerData> brokerData() {
        MetadataCache<LocalBrokerData> cache = brokerDataCache;
        if (cache == null) {
            cache = service.getPulsar().getLocalMetadataStore().getMetadataCache(LocalBrokerData.class);
            brokerDataCache = cache;
        }
        return cache;
    }

    /**
     * Checks a Kafka client's token with the broker's {@code token} provider and completes with
     * the token's role. A rejected token fails as INVALID; a broker without token authentication
     * fails as STORAGE (unavailable).
     */
    void authenticate(String token, long call) {
        try {
            AuthenticationService auth = service.getAuthenticationService();
            AuthenticationProvider provider = auth == null ? null : auth.getAuthenticationProvider("token");
            if (provider == null) {
                NativeCore.fail(call, NativeCore.STORAGE,
                    "token authentication is not enabled on this broker (authenticationProviders)");
                return;
            }
            provider.authenticateAsync(new AuthenticationDataSource() {
                @Override
                public boolean hasDataFromCommand() {
                    return true;
                }

                @Override
                public String getCommandData() {
                    return token;
                }
            }).whenComplete((role, error) -> {
                if (error != null) {
                    // Whatever the provider throws, the token was not accepted.
                    Failures.report(call, NativeCore.INVALID, error);
                } else {
                    NativeCore.completePrincipal(call, role);
                }
            });
        } catch (Exception e) {
            fail(call, e);
        }
    }

    /** One partitioned topic's partition count and Kafka configs, as a one-topic listing. */
    void describeTopic(String topic, long call) {
        partitions(topic).thenCompose(count -> {
            if (count == null || count <= 0) {
                return CompletableFuture.<Object[]>completedFuture(null);
            }
            return configs(topic).thenApply(props -> new Object[] {count, props});
        }).whenComplete((found, error) -> {
            if (error != null) {
                fail(call, error);
            } else if (found == null) {
                NativeCore.fail(call, NativeCore.UNKNOWN_TOPIC, topic + " does not exist");
            } else {
                NativeCore.completeTopics(call, new String[] {topic}, new int[] {(Integer) found[0]},
                    new String[] {(String) found[1]});
            }
        });
    }

    private Topics admin() throws Exception {
        return service.getPulsar().getAdminClient().topics();
    }

    void listTopics(String namespace, long call) {
        try {
            admin().getPartitionedTopicListAsync(namespace).thenCompose(names -> {
                List<CompletableFuture<Integer>> counts = new ArrayList<>();
                List<CompletableFuture<String>> configs = new ArrayList<>();
                for (String name : names) {
                    counts.add(partitions(name));
                    configs.add(configs(name));
                }
                List<CompletableFuture<?>> all = new ArrayList<>(counts);
                all.addAll(configs);
                return CompletableFuture.allOf(all.toArray(new CompletableFuture<?>[0])).thenApply(v -> {
                    int[] parts = new int[names.size()];
                    String[] props = new String[names.size()];
                    for (int i = 0; i < parts.length; i++) {
                        parts[i] = counts.get(i).join();
                        props[i] = configs.get(i).join();
                    }
                    return new Object[] {names.toArray(new String[0]), parts, props};
                });
            }).whenComplete((result, error) -> {
                if (error != null) {
                    fail(call, error);
                } else {
                    NativeCore.completeTopics(call, (String[]) result[0], (int[]) result[1], (String[]) result[2]);
                }
            });
        } catch (Exception e) {
            fail(call, e);
        }
    }

    private CompletableFuture<Integer> partitions(String topic) {
        try {
            return admin().getPartitionedTopicMetadataAsync(topic).thenApply(m -> m.partitions);
        } catch (Exception e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** The topic's Kafka configs, kept as its properties, as {@code key=value} lines. */
    private CompletableFuture<String> configs(String topic) {
        try {
            return admin().getPropertiesAsync(topic).thenApply(props -> {
                StringBuilder out = new StringBuilder();
                if (props != null) {
                    props.forEach((k, v) -> out.append(k).append('=').append(v).append('\n'));
                }
                return out.toString();
            });
        } catch (Exception e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    void createTopic(String topic, int partitions, String[] keys, String[] values, long call) {
        try {
            Map<String, String> props = new java.util.HashMap<>();
            for (int i = 0; i < keys.length; i++) {
                props.put(keys[i], values[i]);
            }
            admin().createPartitionedTopicAsync(topic, partitions, props).whenComplete((v, error) -> done(call, error));
        } catch (Exception e) {
            fail(call, e);
        }
    }

    /** Sets Kafka configs as topic properties, then removes the properties named in {@code removed}. */
    void alterTopicConfigs(String topic, String[] keys, String[] values, String[] removed, long call) {
        try {
            Topics admin = admin();
            Map<String, String> props = new java.util.HashMap<>();
            for (int i = 0; i < keys.length; i++) {
                props.put(keys[i], values[i]);
            }
            CompletableFuture<Void> chain =
                props.isEmpty() ? CompletableFuture.completedFuture(null) : admin.updatePropertiesAsync(topic, props);
            for (String key : removed) {
                chain = chain.thenCompose(v -> admin.removePropertiesAsync(topic, key));
            }
            chain.whenComplete((v, error) -> done(call, error));
        } catch (Exception e) {
            fail(call, e);
        }
    }

    void setTopicProperty(String topic, String key, String value, long call) {
        try {
            admin().updatePropertiesAsync(topic, Map.of(key, value)).whenComplete((v, error) -> done(call, error));
        } catch (Exception e) {
            fail(call, e);
        }
    }

    void updatePartitions(String topic, int partitions, long call) {
        try {
            admin().updatePartitionedTopicAsync(topic, partitions).whenComplete((v, error) -> done(call, error));
        } catch (Exception e) {
            fail(call, e);
        }
    }

    void deleteTopic(String topic, long call) {
        try {
            admin().deletePartitionedTopicAsync(topic, true).whenComplete((v, error) -> {
                open.keySet().removeIf(name -> name.startsWith(topic + "-partition-"));
                parked.entrySet().removeIf(e -> {
                    boolean gone = e.getKey().startsWith(topic + "-partition-");
                    if (gone) {
                        dropCursor(e.getValue().ledger(), e.getValue().cursor());
                    }
                    return gone;
                });
                done(call, error);
            });
        } catch (Exception e) {
            fail(call, e);
        }
    }

    /**
     * Loads a partition on this broker and reports its index and first and last entries. A
     * partition of a partitioned topic that no longer exists is unknown: loading it would
     * create a stray topic of that name.
     */
    void openPartition(String partition, long call) {
        TopicName name = TopicName.get(partition);
        service.getPulsar().getPulsarResources().getNamespaceResources().getPartitionedTopicResources()
            .getPartitionedTopicMetadataAsync(TopicName.get(name.getPartitionedTopicName()))
            .thenCompose(meta -> {
                if (meta.isEmpty() || name.getPartitionIndex() >= meta.get().partitions) {
                    NativeCore.fail(call, NativeCore.UNKNOWN_TOPIC, partition + " does not exist");
                    return CompletableFuture.completedFuture(null);
                }
                // A broker serves a bundle only once a lookup has assigned it: look up first, so the
                // bundle is acquired here when this broker is the one Pulsar picks.
                return ownedHere(name).thenCompose(owned -> {
                    if (!owned) {
                        NativeCore.fail(call, NativeCore.NOT_OWNER, partition + " is owned by another broker");
                        return CompletableFuture.completedFuture(null);
                    }
                    return service.getTopic(partition, true).thenAccept(topic -> opened(partition, topic, call));
                });
            }).whenComplete((v, error) -> {
                if (error != null) {
                    fail(call, error);
                }
            });
    }

    /** Has Pulsar's leader assign the bundle of {@code partition}; completes either way. */
    private CompletableFuture<?> assignThroughLeader(String partition) {
        try {
            return service.getPulsar().getAdminClient().lookups().lookupTopicAsync(partition)
                .handle((owner, error) -> null);
        } catch (Exception e) {
            return CompletableFuture.completedFuture(null);
        }
    }

    /** Whether this broker owns {@code name}'s bundle after a lookup (which may assign it here). */
    private CompletableFuture<Boolean> ownedHere(TopicName name) {
        PulsarService pulsar = service.getPulsar();
        LookupOptions options = LookupOptions.builder().authoritative(false).readOnly(false)
            .loadTopicsInBundle(false).build();
        return pulsar.getNamespaceService().getBrokerServiceUrlAsync(name, options).thenApply(found -> {
            if (found == null || found.isEmpty() || found.get().isRedirect()) {
                return false;
            }
            LookupData data = found.get().getLookupData();
            String url = data.getBrokerUrl();
            String tls = data.getBrokerUrlTls();
            return (url != null && url.equals(pulsar.getBrokerServiceUrl()))
                || (tls != null && tls.equals(pulsar.getBrokerServiceUrlTls()));
        });
    }

    private void opened(String partition, Optional<Topic> topic, long call) {
        PersistentTopic persistent = persistent(topic);
        if (persistent == null) {
            NativeCore.fail(call, NativeCore.NOT_OWNER, partition + " is not served by this broker");
            return;
        }
        ManagedLedger ml = persistent.getManagedLedger();
        if (!(ml.getManagedLedgerInterceptor() instanceof ManagedLedgerInterceptorImpl interceptor)) {
            NativeCore.fail(call, NativeCore.STORAGE, "the broker assigns no Kafka offsets: set "
                + "brokerEntryMetadataInterceptors=" + KafkaProtocolHandler.INDEX_INTERCEPTOR + " in broker.conf");
            return;
        }
        open.put(partition, persistent);
        long lastIndex = interceptor.getIndex();
        byte[] snapshot = snapshotOf(ml);
        if (ml.getNumberOfEntries() == 0) {
            NativeCore.completeOpen(call, lastIndex, null, null, snapshot);
            return;
        }
        Position first = ml.getNextValidPosition(ml.getFirstPosition());
        readHead(ml, first).thenCombine(readHead(ml, ml.getLastConfirmedEntry()), (a, b) -> new byte[][] {a, b})
            .whenComplete((heads, e) -> {
                if (e != null) {
                    fail(call, e);
                } else {
                    NativeCore.completeOpen(call, lastIndex, heads[0], heads[1], snapshot);
                }
            });
    }

    /**
     * The producer-state snapshot the core saved with the ledger, or null. It is the core's
     * opaque bytes; the property holds them in Base64 since properties are strings.
     */
    private static byte[] snapshotOf(ManagedLedger ml) {
        String stored = ml.getProperties().get(SNAPSHOT_PROPERTY);
        if (stored == null) {
            return null;
        }
        try {
            return Base64.getDecoder().decode(stored);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** Keeps the core's producer-state snapshot of a partition loaded here with its ledger. */
    void saveSnapshot(String partition, byte[] snapshot, long call) {
        PersistentTopic topic = loaded(partition);
        if (topic == null) {
            NativeCore.fail(call, NativeCore.NOT_OWNER, partition + " is not loaded on this broker");
            return;
        }
        try {
            topic.getManagedLedger().asyncSetProperty(SNAPSHOT_PROPERTY, Base64.getEncoder().encodeToString(snapshot),
                new AsyncCallbacks.UpdatePropertiesCallback() {
                    @Override
                    public void updatePropertiesComplete(Map<String, String> properties, Object ctx) {
                        NativeCore.completeDone(call);
                    }

                    @Override
                    public void updatePropertiesFailed(ManagedLedgerException exception, Object ctx) {
                        fail(call, exception);
                    }
                }, null);
        } catch (RuntimeException e) {
            fail(call, e);
        }
    }

    /**
     * Makes sure a namespace ({@code tenant/namespace}) exists, creating the tenant (allowed on
     * this broker's cluster) and the namespace when missing. New namespaces keep data until kop
     * trims it: Kafka topics have no subscriptions, so Pulsar's default retention of 0 would
     * delete every ledger but the current one.
     */
    void ensureNamespace(String namespace, long call) {
        try {
            PulsarAdmin admin = service.getPulsar().getAdminClient();
            String tenant = namespace.substring(0, namespace.indexOf('/'));
            String cluster = service.getPulsar().getConfiguration().getClusterName();
            admin.tenants().getTenantInfoAsync(tenant).exceptionallyCompose(e -> {
                if (!(Failures.unwrap(e) instanceof PulsarAdminException.NotFoundException)) {
                    return CompletableFuture.failedFuture(e);
                }
                TenantInfo info = TenantInfo.builder().allowedClusters(Set.of(cluster)).build();
                return admin.tenants().createTenantAsync(tenant, info).exceptionally(ignoreConflict()).thenApply(v -> info);
            }).thenCompose(v -> admin.namespaces().getPoliciesAsync(namespace).thenApply(p -> true)
                .exceptionallyCompose(e -> {
                    if (!(Failures.unwrap(e) instanceof PulsarAdminException.NotFoundException)) {
                        return CompletableFuture.failedFuture(e);
                    }
                    Policies policies = new Policies();
                    policies.retention_policies = new RetentionPolicies(-1, -1);
                    policies.replication_clusters = Set.of(cluster);
                    return admin.namespaces().createNamespaceAsync(namespace, policies)
                        .exceptionally(ignoreConflict()).thenApply(x -> true);
                })).whenComplete((v, error) -> done(call, error));
        } catch (Exception e) {
            fail(call, e);
        }
    }

    private static java.util.function.Function<Throwable, Void> ignoreConflict() {
        return e -> {
            if (Failures.unwrap(e) instanceof PulsarAdminException.ConflictException) {
                return null;
            }
            throw e instanceof CompletionException c ? c : new CompletionException(e);
        };
    }

    private static PersistentTopic persistent(Optional<Topic> topic) {
        return topic.filter(t -> t instanceof PersistentTopic).map(t -> (PersistentTopic) t).orElse(null);
    }

    private static CompletableFuture<byte[]> readHead(ManagedLedger ml, Position position) {
        CompletableFuture<byte[]> result = new CompletableFuture<>();
        ml.asyncReadEntry(position, new AsyncCallbacks.ReadEntryCallback() {
            @Override
            public void readEntryComplete(Entry entry, Object ctx) {
                try {
                    result.complete(head(entry.getDataBuffer()));
                } finally {
                    entry.release();
                }
            }

            @Override
            public void readEntryFailed(ManagedLedgerException exception, Object ctx) {
                result.completeExceptionally(exception);
            }
        }, null);
        return result;
    }

    private static byte[] head(ByteBuf data) {
        byte[] head = new byte[Math.min(HEAD_BYTES, data.readableBytes())];
        data.getBytes(data.readerIndex(), head);
        return head;
    }

    /**
     * Publishes one entry; {@code data} (Rust memory) is copied once into the broker's pooled direct
     * memory before this returns, since the ledger and its cache keep the buffer after the add.
     * Buffer ownership: this method allocates {@code buf} and holds one reference to it; the
     * managed ledger takes a reference of its own when it adds the entry, so ours is released
     * once the publish completes (successfully, refused, or failed), or at once if it throws.
     */
    void append(String partition, ByteBuffer data, int records, long call) {
        PersistentTopic topic = loaded(partition);
        if (topic == null) {
            NativeCore.fail(call, NativeCore.NOT_OWNER, partition + " is not loaded on this broker");
            return;
        }
        ByteBuf buf = PulsarByteBufAllocator.DEFAULT.directBuffer(data.remaining());
        try {
            buf.writeBytes(data);
            topic.publishMessage(buf, new Topic.PublishContext() {
                private byte[] head;

                @Override
                public long getNumberOfMessages() {
                    return records;
                }

                @Override
                public void setMetadataFromEntryData(ByteBuf entryData) {
                    head = head(entryData);
                }

                @Override
                public void completed(Exception e, long ledgerId, long entryId) {
                    buf.release();
                    if (e != null) {
                        Failures.report(call, Failures.publishKind(e), e);
                    } else if (ledgerId < 0 || head == null) {
                        NativeCore.fail(call, NativeCore.STORAGE,
                            "the broker dropped the entry as a duplicate; disable Pulsar deduplication for Kafka topics");
                    } else {
                        NativeCore.completeAppend(call, ledgerId, entryId, head);
                    }
                }
            });
        } catch (RuntimeException e) {
            buf.release();
            fail(call, e);
        }
    }

    /**
     * The partition's topic if this broker still serves the instance the core opened. After an
     * unload (or a move, or a delete) the broker drops that instance, whose closed ledger would
     * fail or never answer reads: the core is told to load the partition again instead.
     */
    private PersistentTopic loaded(String partition) {
        PersistentTopic topic = open.get(partition);
        if (topic != null && service.getTopicReference(partition).orElse(null) != topic) {
            open.remove(partition, topic);
            parked.entrySet().removeIf(e -> {
                boolean stale = e.getValue().ledger() == topic.getManagedLedger();
                if (stale) {
                    dropCursor(e.getValue().ledger(), e.getValue().cursor());
                }
                return stale;
            });
            return null;
        }
        return topic;
    }

    private static String parkKey(String partition, long ledgerId, long entryId) {
        return partition + "@" + ledgerId + ":" + entryId;
    }

    /** Deletes cursors nobody continued reading with for a while. */
    private void evictIdleCursors() {
        long now = System.nanoTime();
        parked.entrySet().removeIf(e -> {
            boolean idle = now - e.getValue().since() > CURSOR_IDLE_NANOS;
            if (idle) {
                dropCursor(e.getValue().ledger(), e.getValue().cursor());
            }
            return idle;
        });
    }

    /**
     * Reads entries starting at {@code (ledgerId, entryId)} with a non-durable cursor: the one a
     * previous read left parked there, or a new one. Afterwards the cursor is parked at its next
     * read position, which is also reported, so a consumer reading on costs no search.
     */
    void read(String partition, long ledgerId, long entryId, int maxEntries, long maxBytes, long call) {
        PersistentTopic topic = loaded(partition);
        if (topic == null) {
            NativeCore.fail(call, NativeCore.NOT_OWNER, partition + " is not loaded on this broker");
            return;
        }
        ManagedLedger ml = topic.getManagedLedger();
        Parked reuse = parked.remove(parkKey(partition, ledgerId, entryId));
        ManagedCursor cursor;
        if (reuse != null && reuse.ledger() == ml) {
            cursor = reuse.cursor();
        } else {
            if (reuse != null) {
                dropCursor(reuse.ledger(), reuse.cursor());
            }
            evictIdleCursors();
            try {
                Position start = ml.getPreviousPosition(PositionFactory.create(ledgerId, entryId));
                cursor = ml.newNonDurableCursor(start, "kop-read-" + UUID.randomUUID());
            } catch (Exception e) {
                fail(call, e);
                return;
            }
        }
        cursor.asyncReadEntries(maxEntries, maxBytes, new AsyncCallbacks.ReadEntriesCallback() {
            @Override
            public void readEntriesComplete(List<Entry> entries, Object ctx) {
                try {
                    int n = entries.size();
                    long[] ledgers = new long[n];
                    long[] ids = new long[n];
                    int[] partCounts = new int[n];
                    EntryParts parts = new EntryParts(n);
                    for (int i = 0; i < n; i++) {
                        Entry entry = entries.get(i);
                        ledgers[i] = entry.getLedgerId();
                        ids[i] = entry.getEntryId();
                        partCounts[i] = parts.add(entry.getDataBuffer());
                    }
                    Position next = cursor.getReadPosition();
                    Parked previous = parked.put(parkKey(partition, next.getLedgerId(), next.getEntryId()),
                        new Parked(ml, cursor, System.nanoTime()));
                    if (previous != null && previous.cursor() != cursor) {
                        dropCursor(previous.ledger(), previous.cursor());
                    }
                    // The core copies the parts out before this returns; only then are the entries released.
                    NativeCore.completeRead(call, ledgers, ids, partCounts, parts.objects(), parts.layout(),
                        next.getLedgerId(), next.getEntryId());
                } finally {
                    entries.forEach(Entry::release);
                }
            }

            @Override
            public void readEntriesFailed(ManagedLedgerException exception, Object ctx) {
                dropCursor(ml, cursor);
                fail(call, exception);
            }
        }, null, ml.getLastConfirmedEntry());
    }

    private static void dropCursor(ManagedLedger ml, ManagedCursor cursor) {
        ml.asyncDeleteCursor(cursor.getName(), new AsyncCallbacks.DeleteCursorCallback() {
            @Override
            public void deleteCursorComplete(Object ctx) {
            }

            @Override
            public void deleteCursorFailed(ManagedLedgerException exception, Object ctx) {
            }
        }, null);
    }

    /** Finds the first entry whose {@code field} is at least {@code value} (a binary search). */
    void findPosition(String partition, int field, long value, long call) {
        PersistentTopic topic = loaded(partition);
        if (topic == null) {
            NativeCore.fail(call, NativeCore.NOT_OWNER, partition + " is not loaded on this broker");
            return;
        }
        ManagedLedger ml = topic.getManagedLedger();
        ml.asyncFindPosition(entry -> {
            try {
                return NativeCore.entryField(head(entry.getDataBuffer()), field) < value;
            } finally {
                entry.release();
            }
        }).whenComplete((position, error) -> {
            if (error != null) {
                fail(call, error);
            } else if (position == null) {
                NativeCore.fail(call, NativeCore.STORAGE, "position search failed in " + partition);
            } else {
                NativeCore.completePosition(call, position.getLedgerId(), position.getEntryId());
            }
        });
    }

    private static void done(long call, Throwable error) {
        if (error != null) {
            fail(call, error);
        } else {
            NativeCore.completeDone(call);
        }
    }

    private static void fail(long call, Throwable error) {
        Failures.fail(call, error);
    }
}
