package org.apache.pulsar.broker.authentication;

/**
 * Compile-only stub of the credentials a provider checks
 * (pulsar-broker-common/src/main/java/org/apache/pulsar/broker/authentication/AuthenticationDataSource.java).
 */
public interface AuthenticationDataSource {
    // source: pulsar-broker-common/src/main/java/org/apache/pulsar/broker/authentication/AuthenticationDataSource.java
    default boolean hasDataFromCommand() {
        return false;
    }

    // source: pulsar-broker-common/src/main/java/org/apache/pulsar/broker/authentication/AuthenticationDataSource.java
    default String getCommandData() {
        return null;
    }
}
