package io.kop.pulsar;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import org.apache.pulsar.broker.ServiceConfiguration;
import org.apache.pulsar.client.api.Authentication;
import org.apache.pulsar.client.api.AuthenticationDataProvider;
import org.apache.pulsar.client.api.AuthenticationFactory;

/**
 * The broker properties the kop core reads, checked once at {@code initialize} so a bad value
 * stops the broker with a clear message instead of failing later.
 */
final class ShimConfig {
    /** Keys passed to the core, with the kind of value each takes. */
    private static final Map<String, Kind> KEYS = new LinkedHashMap<>();

    private enum Kind { STRING, BOOL, INT }

    static {
        KEYS.put("kafkaListeners", Kind.STRING);
        KEYS.put("kafkaAdvertisedListeners", Kind.STRING);
        KEYS.put("kafkaListenerName", Kind.STRING);
        KEYS.put("saslAllowedMechanisms", Kind.STRING);
        KEYS.put("kopSslCertificateFile", Kind.STRING);
        KEYS.put("kopSslKeyFile", Kind.STRING);
        KEYS.put("kopSslClientAuth", Kind.STRING);
        KEYS.put("kopSslTrustedCaFile", Kind.STRING);
        KEYS.put("kopInterBrokerSaslUsername", Kind.STRING);
        KEYS.put("kopInterBrokerSaslPassword", Kind.STRING);
        KEYS.put("superUserRoles", Kind.STRING);
        KEYS.put("allowAutoTopicCreation", Kind.BOOL);
        KEYS.put("defaultNumPartitions", Kind.INT);
        KEYS.put("maxMessageSize", Kind.INT);
        KEYS.put("offsetsTopicNumPartitions", Kind.INT);
        KEYS.put("offsetsRetentionMinutes", Kind.INT);
        KEYS.put("offsetMetadataMaxSize", Kind.INT);
        KEYS.put("groupInitialRebalanceDelayMs", Kind.INT);
        KEYS.put("groupMinSessionTimeoutMs", Kind.INT);
        KEYS.put("groupMaxSessionTimeoutMs", Kind.INT);
        KEYS.put("kafkaTransactionCoordinatorEnabled", Kind.BOOL);
        KEYS.put("kafkaTxnLogTopicNumPartitions", Kind.INT);
        KEYS.put("transactionMaxTimeoutMs", Kind.INT);
        KEYS.put("kafkaTransactionalIdExpirationEnable", Kind.BOOL);
        KEYS.put("kafkaTransactionalIdExpirationMs", Kind.INT);
        KEYS.put("kafkaTransactionsRemoveExpiredTransactionalIdCleanupIntervalMs", Kind.INT);
        KEYS.put("kafkaProducerIdExpirationMs", Kind.INT);
        KEYS.put("kafkaTxnProducerStateTopicSnapshotIntervalSeconds", Kind.INT);
        KEYS.put("kafkaTransactionVersion", Kind.INT);
        KEYS.put("maxConnections", Kind.INT);
        KEYS.put("maxPartitionsPerTopic", Kind.INT);
        KEYS.put("maxRequestSize", Kind.INT);
        KEYS.put("queuedMaxRequestBytes", Kind.INT);
        KEYS.put("connectionMaxIdleMs", Kind.INT);
        KEYS.put("kopRequestReadTimeoutMs", Kind.INT);
        KEYS.put("kafkaTenant", Kind.STRING);
        KEYS.put("kafkaNamespace", Kind.STRING);
        KEYS.put("kafkaMetadataTenant", Kind.STRING);
        KEYS.put("kafkaMetadataNamespace", Kind.STRING);
    }

    private final Map<String, String> values;

    private ShimConfig(Map<String, String> values) {
        this.values = values;
    }

    static ShimConfig from(Properties props) {
        Map<String, String> values = new LinkedHashMap<>();
        for (Map.Entry<String, Kind> key : KEYS.entrySet()) {
            String raw = props.getProperty(key.getKey());
            if (raw == null || raw.trim().isEmpty()) {
                continue;
            }
            String value = raw.trim();
            switch (key.getValue()) {
                case BOOL:
                    if (!value.equals("true") && !value.equals("false")) {
                        throw bad(key.getKey(), value, "true or false");
                    }
                    break;
                case INT:
                    try {
                        if (Long.parseLong(value) < 1) {
                            throw bad(key.getKey(), value, "a positive integer");
                        }
                    } catch (NumberFormatException e) {
                        throw bad(key.getKey(), value, "a positive integer");
                    }
                    break;
                default:
                    break;
            }
            values.put(key.getKey(), value);
        }
        // A broker that already has TLS set up for Pulsar clients can serve Kafka clients with it.
        fallBack(values, props, "kopSslCertificateFile", "tlsCertificateFilePath");
        fallBack(values, props, "kopSslKeyFile", "tlsKeyFilePath");
        fallBack(values, props, "kopSslTrustedCaFile", "tlsTrustCertsFilePath");
        if (!values.containsKey("kafkaListeners")) {
            throw new IllegalArgumentException("kafkaListeners must be set, e.g. PLAINTEXT://0.0.0.0:9092");
        }
        return new ShimConfig(values);
    }

    /**
     * The same config, with what the broker's own identity gives the core: the roles that act for
     * brokers ({@code superUserRoles}), and a login at the other brokers' Kafka listeners made
     * of the broker's client token ({@code brokerClientAuthenticationPlugin} of the token kind),
     * unless {@code kopInterBrokerSasl*} say otherwise.
     */
    ShimConfig withBrokerIdentity(ServiceConfiguration conf) {
        if (!values.containsKey("superUserRoles") && !conf.getSuperUserRoles().isEmpty()) {
            values.put("superUserRoles", String.join(",", conf.getSuperUserRoles()));
        }
        if (!values.containsKey("kopInterBrokerSaslPassword")) {
            String token = brokerToken(conf);
            if (token != null) {
                values.putIfAbsent("kopInterBrokerSaslUsername", "kop-broker");
                values.put("kopInterBrokerSaslPassword", "token:" + token);
            }
        }
        return this;
    }

    /** The broker's client token, or null when its client authenticates otherwise (or not). */
    private static String brokerToken(ServiceConfiguration conf) {
        String plugin = conf.getBrokerClientAuthenticationPlugin();
        String params = conf.getBrokerClientAuthenticationParameters();
        if (plugin == null || plugin.isBlank() || params == null || params.isBlank()) {
            return null;
        }
        try (Authentication auth = AuthenticationFactory.create(plugin, params)) {
            if (!"token".equals(auth.getAuthMethodName())) {
                return null;
            }
            // A token names no host: any host name gets the same data.
            AuthenticationDataProvider data = auth.getAuthData(conf.getAdvertisedAddress());
            return data.hasDataFromCommand() ? data.getCommandData() : null;
        } catch (Exception e) {
            throw new IllegalArgumentException("brokerClientAuthenticationParameters cannot be read: " + e, e);
        }
    }

    private static void fallBack(Map<String, String> values, Properties props, String key, String brokerKey) {
        String value = props.getProperty(brokerKey);
        if (!values.containsKey(key) && value != null && !value.trim().isEmpty()) {
            values.put(key, value.trim());
        }
    }

    private static IllegalArgumentException bad(String key, String value, String expected) {
        return new IllegalArgumentException(key + "=" + value + " is invalid: expected " + expected);
    }

    String advertisedListeners() {
        return values.getOrDefault("kafkaAdvertisedListeners", values.get("kafkaListeners"));
    }

    /** The Pulsar advertised listener that carries each broker's Kafka address, or null. */
    String listenerName() {
        return values.get("kafkaListenerName");
    }

    /** The core's configuration, in its TOML form. */
    String toToml() {
        StringBuilder out = new StringBuilder();
        for (Map.Entry<String, String> e : values.entrySet()) {
            out.append(e.getKey()).append(" = ");
            if (KEYS.get(e.getKey()) == Kind.STRING) {
                out.append('"').append(e.getValue().replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
            } else {
                out.append(e.getValue());
            }
            out.append('\n');
        }
        return out.toString();
    }
}
