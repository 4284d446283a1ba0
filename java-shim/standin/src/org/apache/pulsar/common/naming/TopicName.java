package org.apache.pulsar.common.naming;

/**
 * The stand-in broker's runtime TopicName, shadowing the compile-only stub (whose static
 * {@code get} cannot run) as Pulsar's real class would.
 */
public class TopicName {
    private final String name;

    protected TopicName(String name) {
        this.name = name;
    }

    public static TopicName get(String topic) {
        if (!topic.startsWith("persistent://") && !topic.startsWith("non-persistent://")) {
            throw new IllegalArgumentException("not a full topic name: " + topic);
        }
        return new TopicName(topic);
    }

    /** {@code tenant/namespace/persistent/local-name}, as Pulsar names managed ledgers. */
    public String getPersistenceNamingEncoding() {
        int scheme = name.indexOf("://");
        String rest = name.substring(scheme + 3);
        int slash = rest.lastIndexOf('/');
        return rest.substring(0, slash) + "/" + name.substring(0, scheme) + rest.substring(slash);
    }

    @Override
    public String toString() {
        return name;
    }
}
