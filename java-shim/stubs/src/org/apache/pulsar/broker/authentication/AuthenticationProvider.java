package org.apache.pulsar.broker.authentication;

import java.util.concurrent.CompletableFuture;

/**
 * Compile-only stub of an authentication provider, such as {@code token}
 * (pulsar-broker-common/src/main/java/org/apache/pulsar/broker/authentication/AuthenticationProvider.java).
 */
public interface AuthenticationProvider {
    // source: pulsar-broker-common/src/main/java/org/apache/pulsar/broker/authentication/AuthenticationProvider.java
    default CompletableFuture<String> authenticateAsync(AuthenticationDataSource authData) {
        throw new UnsupportedOperationException("compile-only stub");
    }
}
